/** Reads the PyTorch reference fixtures (test/fixtures, made by scripts/reference/make_fixtures.py). */
import { readFileSync } from 'node:fs';
import { parseSafeTensors, toFloat64 } from '../../src/models/safetensors.js';

export function loadFixture(name: string) {
  const st = parseSafeTensors(new Uint8Array(readFileSync(`test/fixtures/${name}.safetensors`)));
  const get = (k: string) => {
    const t = st.tensors.get(k);
    if (!t) throw new Error(`fixture ${name} has no tensor ${k}`);
    return { shape: t.shape, data: toFloat64(t) };
  };
  return { get, has: (k: string) => st.tensors.has(k), metadata: st.metadata };
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

/** max |a - b| / max |b| */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}
