/**
 * torchvision's results for the image fixtures (test/fixtures/images/reference.safetensors, made by
 * scripts/reference/make_image_fixtures.py) and the comparisons the image tests report.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PreprocessedImage } from '../../src/image/preprocess.js';
import { parseSafeTensors, type StTensor } from '../../src/io/safetensors.js';

export const IMAGES = 'test/fixtures/images';
/** The shark photo of the paper; read when present, never copied (its licence is not ours to ship). */
export const SHARK = '../shared/reference-data/great_white_shark_mispred_as_killer_whale.jpeg';
export const hasShark = existsSync(SHARK);
export const fixture = (file: string) => (file === 'shark' ? SHARK : join(IMAGES, file));

export interface DecodedRef {
  width: number;
  height: number;
  sha256: string;
}

export interface CaseRef {
  file: string;
  resize: number;
  crop: [number, number];
  shape: [number, number, number];
  stride: number;
  tensor_stride?: number;
  crop_sha256: string;
  mean: number[];
  std: number[];
  /** per channel, math.fsum of the normalised float32 tensor */
  sum: number[];
  abs_sum: number[];
}

const st = parseSafeTensors(new Uint8Array(readFileSync(join(IMAGES, 'reference.safetensors'))));
const meta = st.metadata!;
export const decoded: Record<string, DecodedRef> = JSON.parse(meta.decoded);
export const cases: Record<string, CaseRef> = JSON.parse(meta.cases);
export const tensor = (name: string): StTensor | undefined => st.tensors.get(name);

export const sha256 = (u: Uint8Array) => createHash('sha256').update(u).digest('hex');

export interface ChannelError {
  /** max and mean |ours − torchvision| in 0..255 units (before normalisation) */
  max: number;
  mean: number;
}

export interface Comparison {
  /** every pixel of the crop is identical (SHA-256 of the H × W × 3 bytes) */
  exact: boolean;
  /** per channel (R, G, B, or grey) over the stored subsample (all zero when exact) */
  sub: ChannelError[];
  /** per channel over all pixels: |mean(ours) − mean(torchvision)| in 0..255 units, from the sums */
  meanShift: number[];
  pixels: number;
}

/** Our preprocessing result against torchvision's for one case. */
export function compare(key: string, x: PreprocessedImage): Comparison {
  const ref = cases[key];
  const sub = tensor(`${key}.crop_sub`)!;
  const [sh, sw, C] = sub.shape;
  const { width } = x.display;
  // the 8-bit crop behind the tensor: the display image, or its grey channel for 1-channel models
  const data = C === 3 ? x.display.data : x.display.data.filter((_, i) => i % 3 === 0);
  const channels = Array.from({ length: C }, (_, c) => c);
  const errors = channels.map((c) => {
    let max = 0;
    let sum = 0;
    for (let y = 0; y < sh; y++)
      for (let i = 0; i < sw; i++) {
        const ours = data[(y * ref.stride * width + i * ref.stride) * C + c];
        const d = Math.abs(ours - sub.bytes[(y * sw + i) * C + c]);
        max = Math.max(max, d);
        sum += d;
      }
    return { max, mean: sum / (sh * sw) };
  });
  const n = ref.shape[1] * ref.shape[2];
  const meanShift = channels.map((c) => {
    let s = 0;
    for (let i = c * n; i < (c + 1) * n; i++) s += x.data[i];
    return (Math.abs(s - ref.sum[c]) / n) * ref.std[c] * 255;
  });
  return { exact: sha256(data) === ref.crop_sha256, sub: errors, meanShift, pixels: n };
}

export const describeErrors = (c: Comparison) =>
  c.exact
    ? `bit-exact on all ${c.pixels} pixels (per channel max 0, mean 0 /255)`
    : `differs: subsample max ${c.sub.map((e) => e.max).join('/')} mean ${c.sub.map((e) => e.mean.toFixed(3)).join('/')} /255 (per channel); mean shift ${c.meanShift.map((v) => v.toFixed(4)).join('/')} /255`;
