/** A normalised input tensor back as an 8-bit image (for overlays when the input came as .npy). */
import type { Preprocessing } from '../models/architecture.js';
import type { RgbImage } from './load.js';

export function displayFromTensor(data: Float32Array, shape: readonly number[], p: Preprocessing): RgbImage {
  const [c, h, w] = shape.slice(-3);
  const n = h * w;
  const out = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < 3; k++) {
      const ch = c === 1 ? 0 : k;
      const v = data[ch * n + i] * p.std[ch % p.std.length] + p.mean[ch % p.mean.length];
      out[3 * i + k] = Math.max(0, Math.min(255, Math.round(v * 255)));
    }
  return { width: w, height: h, data: out };
}
