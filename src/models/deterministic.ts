/**
 * Deterministic weights and inputs from a hash of (tensor name, element index), evaluated
 * identically by scripts/reference/deterministic.py. Lets tests compare against PyTorch
 * on ResNet-sized models without shipping their weights.
 */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(s)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

function fmix(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x85ebca6b) >>> 0;
  x = (x ^ (x >>> 13)) >>> 0;
  x = Math.imul(x, 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** u(name, i) in [-1, 1), exact in float64. */
export function hashUniform(name: string, i: number): number {
  return (fmix((fnv1a(name) ^ fmix(i >>> 0)) >>> 0) >>> 8) / 2 ** 23 - 1;
}

function fillWith(name: string, n: number, f: (u: number) => number): Float32Array {
  const h = fnv1a(name);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = f((fmix((h ^ fmix(i)) >>> 0) >>> 8) / 2 ** 23 - 1);
  return out;
}

/** The value of a state-dict entry: He-uniform weights, BN statistics near their defaults. */
export function deterministicParameter(name: string, shape: readonly number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const leaf = name.slice(name.lastIndexOf('.') + 1);
  if (shape.length === 2 || shape.length === 4) {
    const scale = Math.sqrt(6 / (n / shape[0]));
    return fillWith(name, n, (u) => u * scale);
  }
  // rank 3: a per-channel scale [C, 1, 1] (ConvNeXt's layer_scale), like a BatchNorm gamma
  if (shape.length === 3) return fillWith(name, n, (u) => 0.5 + 0.1 * u);
  if (shape.length !== 1) throw new Error(`no deterministic rule for ${name} of rank ${shape.length}`);
  if (leaf === 'running_var') return fillWith(name, n, (u) => 1 + 0.5 * u);
  if (leaf === 'running_mean') return fillWith(name, n, (u) => 0.1 * u);
  if (leaf === 'weight') return fillWith(name, n, (u) => 0.5 + 0.1 * u);
  return fillWith(name, n, (u) => 0.1 * u);
}

/** A test input in [-2, 2), like a normalised image. */
export function deterministicInput(name: string, shape: readonly number[]): Float32Array {
  return fillWith(
    name,
    shape.reduce((a, b) => a * b, 1),
    (u) => 2 * u,
  );
}
