/**
 * The input-space heatmap (DESIGN §1 step 7): an input gradient M [C, H, W] → a JET-coloured map
 * of the pixels that drive the salient filters, alone and over the image.
 *
 * It reproduces the post-processing of the original PSS code (LevinRoman/parameter-space-saliency,
 * parameter_and_input_saliency.py `save_gradients` and utils.py `show_heatmap_on_image`) number
 * for number; scripts/reference/make_heatmap_fixture.py computes the reference and
 * test/figures/heatmap.test.ts checks it (≤ 1/255 per pixel; the intermediate values exactly):
 *
 * 1. per pixel the SIGNED maximum over the colour channels (torch `max(dim=1)`), then its absolute
 *    value — not the largest magnitude: a pixel whose channels are all negative scores the least
 *    negative one;
 * 2. values above the 99th percentile are set to it, then values below the 90th percentile of the
 *    result are set to that (numpy.percentile's default "linear" method, float64, on the float32
 *    values — `percentile` below; the two steps in this order, as the original does them);
 * 3. min–max scaling to [0, 1] in float32; a constant map gives all zeros (the original divides
 *    0 by 0 and shows NaN);
 * 4. the original blurs the INVERTED map, 1 − s, with cv2.GaussianBlur(·, (3, 3), 0). With σ = 0
 *    OpenCV does not evaluate its σ formula (which would give 0.8 for a 3×3 kernel): for odd sizes
 *    up to 7 getGaussianKernel returns a fixed table, here [1/4, 1/2, 1/4]. That is the default
 *    (`blurSigma: 0`); `blurSigma: 0.8` gives the true σ = 0.8 kernel [0.2390, 0.5220, 0.2390],
 *    as cv2.GaussianBlur((3, 3), 0.8) computes it. Separable, rows then columns, float32, border
 *    BORDER_REFLECT_101 (cv2's default: …, 2, 1 | 0, 1, 2, …), in the operation order of
 *    OpenCV's small symmetric filters: S[0]·k0 + (S[−1] + S[+1])·k1;
 * 5. index = uint8(255 · mask) (truncation) into OpenCV's COLORMAP_JET table (JET_LUT_BGR, built
 *    as OpenCV 4.x builds it from colormap.cpp's table), which is in B, G, R order;
 * 6. overlay = (colour / 255 + image) / its global maximum, the image de-normalised to [0, 1].
 *    The original adds the B, G, R colour to an R, G, B image WITHOUT converting, so the colour's
 *    blue lands in the red channel. Together with step 4's inversion this cancels out: JET's
 *    table is (to one entry, off by one level) mirror-symmetric with R and B exchanged
 *    (B[i] = R[255 − i], G[i] = G[255 − i]), so what the original shows is ordinary JET of the
 *    saliency — salient pixels red, the rest dark blue. pss reproduces exactly what it showed:
 *    the LUT's three bytes are taken as R, G, B.
 *
 * The image is the preprocessed crop (PreprocessedImage.display, 8-bit): v / 255 in float32 equals
 * the original's de-normalised tensor to 1.2e-7. The overlay is returned as 8-bit RGB (rounded).
 */
import sharp from 'sharp';
import type { RgbImage } from '../image/load.js';
import { writeFileAtomic } from '../io/files.js';

const f32 = Math.fround;

/** An input gradient, [C, H, W] or [1, C, H, W], C-order. */
export interface GradientMap {
  data: ArrayLike<number>;
  shape: readonly number[];
}

export interface HeatmapOptions {
  /** Percentiles the per-pixel map is clipped to before scaling (default [90, 99]). */
  clip?: readonly [number, number];
  /**
   * σ of the 3×3 Gaussian blur: 0.8 (default, DESIGN §1.7) = the Gaussian of that σ; 0 =
   * OpenCV's fixed kernel [1/4, 1/2, 1/4], which the original's GaussianBlur(·, (3, 3), 0)
   * actually ran (its nominal σ is 0.8, but OpenCV uses a fixed table for 3×3); null = no blur.
   */
  blurSigma?: number | null;
}

export interface InputHeatmap {
  width: number;
  height: number;
  /** The clipped, min–max scaled saliency in [0, 1], row-major, before inversion, blur and colour. */
  saliency: Float32Array;
  /** The JET colour layer alone, as the original shows it (salient = red). */
  heat: RgbImage;
  /** The colour layer added to the image, divided by the global maximum (the original's figure). */
  overlay: RgbImage;
}

/**
 * numpy.percentile(values, q) with its default "linear" method (numpy ≥ 1.22), exactly: the
 * values are sorted; index (n − 1)·q/100 in float64; the two neighbours' difference is taken in
 * float32 (numpy subtracts the float32 values as float32), the interpolation in float64, from the
 * upper neighbour when the fraction is ≥ 0.5. Float32 inputs give numpy's float64 result bit for bit.
 * NaN anywhere gives NaN, as numpy does.
 */
export function percentile(values: ArrayLike<number>, q: number): number {
  const n = values.length;
  if (n === 0) throw new RangeError('percentile of an empty array');
  if (!(q >= 0 && q <= 100)) throw new RangeError(`percentile must be within [0, 100], got ${q}`);
  const sorted = Float64Array.from(values).sort(); // typed-array sort: numeric, NaN last
  if (Number.isNaN(sorted[n - 1])) return Number.NaN;
  return percentileOfSorted(sorted, q);
}

function percentileOfSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  const virtual = (n - 1) * (q / 100);
  if (virtual >= n - 1) return sorted[n - 1];
  if (virtual < 0) return sorted[0];
  const prev = Math.floor(virtual);
  const t = virtual - prev;
  const a = sorted[prev];
  const b = sorted[prev + 1];
  const diff = f32(b - a);
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/** Checks a gradient's shape against the image and returns [C, H, W]. */
function gradientShape(grad: GradientMap): [number, number, number] {
  const s = grad.shape;
  const dims = s.length === 4 && s[0] === 1 ? s.slice(1) : s;
  if (dims.length !== 3 || !dims.every((d) => Number.isInteger(d) && d > 0))
    throw new RangeError(`input gradient must have shape [C, H, W] or [1, C, H, W], got [${s.join(', ')}]`);
  const [c, h, w] = dims;
  if (grad.data.length !== c * h * w)
    throw new RangeError(
      `input gradient holds ${grad.data.length} values; shape [${s.join(', ')}] needs ${c * h * w}`,
    );
  return [c, h, w];
}

/** Step 1: |max over channels of the signed gradient| per pixel, H·W float32 values. */
export function pixelSaliency(grad: GradientMap): Float32Array {
  const [c, h, w] = gradientShape(grad);
  const d = grad.data;
  for (let i = 0; i < d.length; i++)
    if (!Number.isFinite(d[i]))
      throw new RangeError(`input gradient has a non-finite value (${d[i]}) at index ${i}`);
  const n = h * w;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let m = d[i];
    for (let k = 1; k < c; k++) if (d[k * n + i] > m) m = d[k * n + i];
    out[i] = Math.abs(m);
  }
  return out;
}

/**
 * Steps 2–3 on a float32 map, in place: clip to the [lo, hi] percentiles (hi first, then lo of
 * the clipped values), then min–max to [0, 1]; a constant result becomes all zeros.
 */
export function clipAndScale(map: Float32Array, lo = 90, hi = 99): Float32Array {
  if (!(lo >= 0 && lo <= hi && hi <= 100))
    throw new RangeError(`clip percentiles must satisfy 0 ≤ low ≤ high ≤ 100, got [${lo}, ${hi}]`);
  if (map.length === 0) return map;
  const top = percentile(map, hi);
  for (let i = 0; i < map.length; i++) if (map[i] > top) map[i] = top;
  const bottom = percentile(map, lo);
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < map.length; i++) {
    if (map[i] < bottom) map[i] = bottom;
    if (map[i] < min) min = map[i];
    if (map[i] > max) max = map[i];
  }
  const range = f32(max - min);
  if (!(range > 0)) return map.fill(0);
  for (let i = 0; i < map.length; i++) map[i] = f32(map[i] - min) / range;
  return map;
}

/** cv::getGaussianKernel(3, sigma, CV_32F) as [centre, side]. */
export function gaussianKernel3(sigma: number): [number, number] {
  if (!(sigma > 0)) return [0.5, 0.25]; // OpenCV's small_gaussian_tab for ksize 3, sigma <= 0
  const side = f32(Math.exp(-0.5 / (sigma * sigma)));
  const scale = 1 / (side + 1 + side);
  return [f32(1 * scale), f32(side * scale)];
}

/**
 * A 3×3 Gaussian blur of a float32 map as cv2.GaussianBlur(map, (3, 3), sigma) computes it:
 * separable, rows then columns, BORDER_REFLECT_101, float32 arithmetic (see the file comment).
 */
export function gaussianBlur3x3(map: Float32Array, width: number, height: number, sigma = 0): Float32Array {
  if (map.length !== width * height) throw new RangeError('gaussianBlur3x3: map size does not match');
  const [k0, k1] = gaussianKernel3(sigma);
  const reflect = (i: number, n: number) => (n === 1 ? 0 : i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);
  const rows = new Float32Array(map.length);
  for (let y = 0; y < height; y++) {
    const r = y * width;
    for (let x = 0; x < width; x++) {
      const s = f32(map[r + reflect(x - 1, width)] + map[r + reflect(x + 1, width)]);
      rows[r + x] = f32(map[r + x] * k0) + f32(s * k1);
    }
  }
  const out = new Float32Array(map.length);
  for (let y = 0; y < height; y++) {
    const up = reflect(y - 1, height) * width;
    const down = reflect(y + 1, height) * width;
    const r = y * width;
    for (let x = 0; x < width; x++) {
      const s = f32(rows[up + x] + rows[down + x]);
      out[r + x] = f32(rows[r + x] * k0) + f32(s * k1);
    }
  }
  return out;
}

/**
 * OpenCV's COLORMAP_JET lookup table, 256 entries of B, G, R bytes, as cv2.applyColorMap uses it:
 * colormap.cpp's 256-entry Jet table, interpolated (float32) at linspace(0, 1, 256) and rounded
 * by convertTo(CV_8U, 255). Derived from OpenCV's source by scripts/reference/make_heatmap_fixture.py
 * (jet_lut_bgr), which writes it into the fixture the tests compare this with.
 */
export const JET_LUT_BGR: Uint8Array = Uint8Array.from(
  (
    '8000008400008800008c00009000009400009800009c0000a00000a40000a80000ac0000b00000b40000b80000bc0000' +
    'c00000c40000c80000cc0000d00000d40000d80000dc0000e00000e40000e80000ec0000f00000f40000f80000fc0000' +
    'ff0000ff0400ff0800ff0c00ff1000ff1400ff1800ff1c00ff2000ff2400ff2800ff2c00ff3000ff3400ff3800ff3c00' +
    'ff4000ff4400ff4800ff4c00ff5000ff5400ff5800ff5c00ff6000ff6400ff6800ff6c00ff7000ff7400ff7800ff7c00' +
    'ff8000ff8400ff8800ff8c00ff9000ff9400ff9800ff9c00ffa000ffa400ffa800ffac00ffb000ffb400ffb800ffbc00' +
    'ffc000ffc400ffc800ffcc00ffd000ffd400ffd800ffdc00ffe000ffe400ffe800ffec00fff000fff400fff800fffc00' +
    'feff02faff06f6ff0af2ff0eeeff12eaff16e6ff1ae2ff1edeff22daff26d6ff2ad2ff2eceff32caff36c6ff3ac2ff3e' +
    'beff42baff46b6ff4ab2ff4eaeff52aaff56a6ff5aa2ff5e9eff629aff6696ff6a92ff6e8eff728aff7686ff7a82ff7e' +
    '7eff827aff8676ff8a72ff8e6eff926aff9666ff9a62ff9e5effa25affa656ffaa52ffae4effb24affb646ffba42ffbe' +
    '3effc23affc636ffca32ffce2effd22affd626ffda22ffde1effe21affe616ffea12ffee0efff20afff606fffa01fffe' +
    '00fcff00f8ff00f4ff00f0ff00ecff00e8ff00e4ff00e0ff00dcff00d8ff00d4ff00d0ff00ccff00c8ff00c4ff00c0ff' +
    '00bcff00b8ff00b4ff00b0ff00acff00a8ff00a4ff00a0ff009cff0098ff0094ff0090ff008cff0088ff0084ff0080ff' +
    '007cff0078ff0074ff0070ff006cff0068ff0064ff0060ff005cff0058ff0054ff0050ff004cff0048ff0044ff0040ff' +
    '003cff0038ff0034ff0030ff002cff0028ff0024ff0020ff001cff0018ff0014ff0010ff000cff0008ff0004ff0000ff' +
    '0000fc0000f80000f40000f00000ec0000e80000e40000e00000dc0000d80000d40000d00000cc0000c80000c40000c0' +
    '0000bc0000b80000b40000b00000ac0000a80000a40000a000009c00009800009400009000008c000088000084000080'
  ).match(/../g)!,
  (h) => Number.parseInt(h, 16),
);

/**
 * Colours a mask as the original does: index = uint8(255 · mask) (float32 product, truncated)
 * into JET_LUT_BGR, whose B, G, R bytes are then read as R, G, B (see the file comment). Since the
 * original colours the inverted map, mask = 1 − saliency: low mask = salient = red.
 */
export function colourMask(mask: Float32Array, width: number, height: number): RgbImage {
  if (mask.length !== width * height) throw new RangeError('colourMask: mask size does not match');
  const data = new Uint8Array(3 * mask.length);
  for (let i = 0; i < mask.length; i++) {
    const v = Math.trunc(f32(255 * mask[i]));
    const k = 3 * (v < 0 ? 0 : v > 255 ? 255 : v || 0);
    data[3 * i] = JET_LUT_BGR[k];
    data[3 * i + 1] = JET_LUT_BGR[k + 1];
    data[3 * i + 2] = JET_LUT_BGR[k + 2];
  }
  return { width, height, data };
}

/** Colours saliency values in [0, 1] (1 = most salient) exactly as the heatmap's colour layer would. */
export function jetColours(values: Float32Array, width: number, height: number): RgbImage {
  return colourMask(
    values.map((v) => 1 - v),
    width,
    height,
  );
}

/** Float32 overlay (colour / 255 + image / 255) / global max, both 8-bit RGB of the same size. */
export function overlayFloat(heat: RgbImage, image: RgbImage): Float32Array {
  if (heat.width !== image.width || heat.height !== image.height)
    throw new RangeError(
      `overlay: the map is ${heat.width}×${heat.height} but the image is ${image.width}×${image.height}`,
    );
  const n = heat.data.length;
  const cam = new Float32Array(n);
  let max = 0;
  for (let i = 0; i < n; i++) {
    cam[i] = f32(heat.data[i] / 255) + f32(image.data[i] / 255);
    if (cam[i] > max) max = cam[i];
  }
  if (max > 0) for (let i = 0; i < n; i++) cam[i] = cam[i] / max;
  return cam;
}

/** The overlay as 8-bit RGB (rounded to nearest). */
export function overlay(heat: RgbImage, image: RgbImage): RgbImage {
  const cam = overlayFloat(heat, image);
  const data = new Uint8Array(cam.length);
  for (let i = 0; i < cam.length; i++) data[i] = Math.round(cam[i] * 255);
  return { width: image.width, height: image.height, data };
}

/**
 * The heatmap of an input gradient (DESIGN §1 step 7, as the original computes it — see the file
 * comment): the scaled saliency, the JET colour layer and its overlay on `image` (the 8-bit crop
 * the gradient was taken on, e.g. PreprocessedImage.display; same height and width).
 */
export function inputHeatmap(grad: GradientMap, image: RgbImage, options: HeatmapOptions = {}): InputHeatmap {
  const [, height, width] = gradientShape(grad);
  if (image.width !== width || image.height !== height)
    throw new RangeError(
      `the input gradient is ${width}×${height} but the image is ${image.width}×${image.height}`,
    );
  const [lo, hi] = options.clip ?? [90, 99];
  const saliency = clipAndScale(pixelSaliency(grad), lo, hi);
  let mask: Float32Array = saliency.map((v) => 1 - v);
  const sigma = options.blurSigma === undefined ? 0.8 : options.blurSigma;
  if (sigma !== null) mask = gaussianBlur3x3(mask, width, height, sigma);
  const heat = colourMask(mask, width, height);
  return { width, height, saliency, heat, overlay: overlay(heat, image) };
}

export interface PngOptions {
  /** Enlarge by this integer factor, nearest neighbour (pixels stay exact); default 1. */
  scale?: number;
}

/** An 8-bit RGB image as PNG bytes (sharp). */
export async function encodePng(img: RgbImage, options: PngOptions = {}): Promise<Uint8Array> {
  const scale = options.scale ?? 1;
  if (!(Number.isInteger(scale) && scale >= 1))
    throw new RangeError(`PNG scale must be a positive integer, got ${scale}`);
  if (img.data.length !== img.width * img.height * 3)
    throw new RangeError(
      `image data holds ${img.data.length} bytes; ${img.width}×${img.height} RGB needs ${img.width * img.height * 3}`,
    );
  let pipeline = sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });
  if (scale > 1) pipeline = pipeline.resize(img.width * scale, img.height * scale, { kernel: 'nearest' });
  return new Uint8Array(await pipeline.png().toBuffer());
}

/** Writes an 8-bit RGB image as a PNG file, atomically. */
export async function writePng(path: string, img: RgbImage, options: PngOptions = {}): Promise<void> {
  await writeFileAtomic(path, await encodePng(img, options));
}
