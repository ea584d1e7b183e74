/** Synthetic saliency profiles with torchvision's conv layer tables (no model code needed). */
import type { SaliencyLayer } from '../../src/figures/filter-saliency.js';
import { seededRandom } from '../../src/util/random.js';

/** Seeded uniform and normal samples. */
export function prng(seed: number) {
  const { next: uniform, normal } = seededRandom(seed);
  return { uniform, normal };
}

function table(entries: [string, number][]): SaliencyLayer[] {
  let offset = 0;
  return entries.map(([name, filters]) => {
    const l = { name, offset, filters };
    offset += filters;
    return l;
  });
}

/** torchvision resnet50's 53 conv layers (26,560 filters), state_dict order. */
export function resnet50Layers(): SaliencyLayer[] {
  const e: [string, number][] = [['conv1', 64]];
  [3, 4, 6, 3].forEach((blocks, s) => {
    const w = 64 << s;
    for (let b = 0; b < blocks; b++) {
      const p = `layer${s + 1}.${b}`;
      e.push([`${p}.conv1`, w], [`${p}.conv2`, w], [`${p}.conv3`, 4 * w]);
      if (b === 0) e.push([`${p}.downsample.0`, 4 * w]);
    }
  });
  return table(e);
}

/** torchvision densenet121's 120 conv layers (10,240 filters). */
export function densenet121Layers(): SaliencyLayer[] {
  const e: [string, number][] = [['features.conv0', 64]];
  let c = 64;
  [6, 12, 24, 16].forEach((n, b) => {
    for (let j = 1; j <= n; j++)
      e.push(
        [`features.denseblock${b + 1}.denselayer${j}.conv1`, 128],
        [`features.denseblock${b + 1}.denselayer${j}.conv2`, 32],
      );
    c += 32 * n;
    if (b < 3) {
      c /= 2;
      e.push([`features.transition${b + 1}.conv`, c]);
    }
  });
  return table(e);
}

/** A z-like profile: per layer a scale, heavy-tailed values, and a few strong outliers. */
export function syntheticZ(layers: readonly SaliencyLayer[], seed = 1): Float32Array {
  const r = prng(seed);
  const n = layers[layers.length - 1].offset + layers[layers.length - 1].filters;
  const z = new Float32Array(n);
  for (const [i, l] of layers.entries()) {
    const scale = 0.6 + 0.8 * r.uniform() + i / layers.length;
    for (let k = 0; k < l.filters; k++) {
      const g = r.normal();
      z[l.offset + k] = scale * (g > 1.5 ? g * g * 0.9 : g * 0.35) - 0.3;
    }
  }
  return z;
}
