/**
 * torchvision's eval transform, reproduced exactly:
 *   Resize(resize) → CenterCrop(crop) → ToTensor() → Normalize(mean, std)
 * on a PIL image (torchvision 0.14, Pillow 9.4), i.e.
 * - Resize: the shorter side becomes `resize`, the longer int(resize · long / short) (Python's
 *   truncation); no resize when that is the image's size already; Pillow's antialiased
 *   BILINEAR filter with its 8-bit rounding (resample.ts);
 * - CenterCrop: offsets int(round((size − crop) / 2)) with Python's round-half-to-even; an image
 *   smaller than the crop is first padded with zeros, (crop − size) // 2 before;
 * - ToTensor: float32 value / 255, channel-first; Normalize: float32 (x − mean) / std.
 * A model with one input channel (one mean) gets the image as PIL's convert('L') makes it, before
 * resizing: what a torchvision pipeline for greyscale data (Fashion-MNIST) sees.
 */

import type { Preprocessing } from '../models/architecture.js';
import { checkPixelBudget, MAX_PIXELS } from './budget.js';
import { place, roundHalfEven, targetSize } from './canvas.js';
import type { RgbImage } from './load.js';
import { type Pixels, resizePillow } from './resample.js';

export interface PreprocessedImage {
  /** The normalised tensor, C × H × W (no batch dimension): C = 3, or 1 for a greyscale model. */
  data: Float32Array;
  shape: [number, number, number];
  /** The cropped 8-bit image the tensor was made from, as RGB (grey copied to R, G, B) — for overlays. */
  display: RgbImage;
}

/** PIL's convert('L'): L = (19595 R + 38470 G + 7471 B + 2^15) >> 16 (ITU-R 601-2 luma). */
export function grayscale(img: RgbImage): Pixels {
  const n = img.width * img.height;
  const d = img.data;
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++)
    data[i] = (d[3 * i] * 19595 + d[3 * i + 1] * 38470 + d[3 * i + 2] * 7471 + 0x8000) >>> 16;
  return { width: img.width, height: img.height, data };
}

/** torchvision's center_crop (with its zero padding when the image is smaller than the crop). */
export function centerCrop<T extends Pixels>(img: T, cropHeight: number, cropWidth: number): T {
  const C = img.data.length / (img.width * img.height);
  let src: Pixels = img;
  if (cropWidth > img.width || cropHeight > img.height) {
    const left = cropWidth > img.width ? Math.floor((cropWidth - img.width) / 2) : 0;
    const top = cropHeight > img.height ? Math.floor((cropHeight - img.height) / 2) : 0;
    const w = Math.max(cropWidth, img.width);
    const h = Math.max(cropHeight, img.height);
    const data = new Uint8Array(w * h * C);
    const row = img.width * C;
    for (let y = 0; y < img.height; y++)
      data.set(img.data.subarray(y * row, (y + 1) * row), ((y + top) * w + left) * C);
    src = { width: w, height: h, data };
  }
  const top = roundHalfEven((src.height - cropHeight) / 2);
  const left = roundHalfEven((src.width - cropWidth) / 2);
  const data = new Uint8Array(cropWidth * cropHeight * C);
  for (let y = 0; y < cropHeight; y++) {
    const from = ((y + top) * src.width + left) * C;
    data.set(src.data.subarray(from, from + cropWidth * C), y * cropWidth * C);
  }
  return { ...img, width: cropWidth, height: cropHeight, data };
}

/**
 * Resize(p.resize) → CenterCrop(inputSize) → ToTensor → Normalize(p.mean, p.std), exactly as
 * torchvision computes it on a PIL image. `inputSize` is the crop: a side, or [height, width]
 * (an architecture's inputShape without its channel count). One mean and std: greyscale output.
 * A description's other choices (Preprocessing's optional fields) as Hugging Face's slow image
 * processors compute them: Pillow's resize with `p.resample` to the box, HF's centre crop,
 * float32(float64(v) · rescale), Normalize, then padding with a tensor value.
 */
export function preprocess(
  image: RgbImage,
  p: Preprocessing,
  inputSize: number | readonly [number, number],
): PreprocessedImage {
  const [cropH, cropW] = typeof inputSize === 'number' ? [inputSize, inputSize] : inputSize;
  for (const [v, what] of [
    [p.box?.height ?? p.resize, 'resize'],
    [p.box?.width ?? p.resize, 'resize'],
    [cropH, 'crop height'],
    [cropW, 'crop width'],
  ] as const)
    if (!(Number.isInteger(v) && v > 0))
      throw new RangeError(`preprocess: ${what} must be a positive integer, got ${v}`);
  const C = p.mean.length;
  if ((C !== 3 && C !== 1) || p.std.length !== C)
    throw new RangeError('preprocess: mean and std need 3 values (RGB) or 1 (greyscale)');
  if (p.pad && p.pad.value.length !== C) throw new RangeError('preprocess: one pad value per channel');

  if (p.box || p.noResize) checkPixelBudget('the image', image.width, image.height, MAX_PIXELS);
  else checkPixelBudget('the image', image.width, image.height, MAX_PIXELS, p.resize);
  const [w, h] = targetSize(image.width, image.height, p);
  const resized = resizePillow(C === 1 ? grayscale(image) : image, w, h, p.resample ?? 2);
  const crop = place(resized, cropH, cropW, p);
  const [top, left, bottom, right] = crop.inside;
  const padded = (i: number) => {
    const y = Math.floor(i / cropW);
    const x = i - y * cropW;
    return y < top || y >= bottom || x < left || x >= right;
  };
  const n = cropH * cropW;
  const data = new Float32Array(C * n);
  const pad = p.pad?.value.map((v) => Math.fround(v));
  for (let c = 0; c < C; c++) {
    // float32 arithmetic, one rounding per operation, as PyTorch does; v / 255 and
    // float32(v · (1/255)) (HF's rescale) agree on all 256 values
    const mean = Math.fround(p.mean[c]);
    const std = Math.fround(p.std[c]);
    const lut = new Float32Array(256);
    const scaled = (v: number) => Math.fround(p.rescale === undefined ? v / 255 : v * p.rescale);
    for (let v = 0; v < 256; v++) lut[v] = Math.fround(scaled(v) - mean) / std;
    const plane = data.subarray(c * n, (c + 1) * n);
    for (let i = 0; i < n; i++) plane[i] = lut[crop.data[C * i + c]];
    if (pad) {
      for (let i = 0; i < n; i++) if (padded(i)) plane[i] = pad[c];
      // the overlay shows the padding as the pixel it stands for
      const scale = p.rescale ?? 1 / 255;
      const pixel = Math.min(255, Math.max(0, Math.round((pad[c] * std + mean) / scale)));
      for (let i = 0; i < n; i++) if (padded(i)) crop.data[C * i + c] = Number.isFinite(pixel) ? pixel : 0;
    }
  }
  const display: RgbImage = { width: cropW, height: cropH, data: crop.data };
  if (C === 1) {
    display.data = new Uint8Array(3 * n);
    for (let i = 0; i < n; i++) display.data.fill(crop.data[i], 3 * i, 3 * i + 3);
  }
  return { data, shape: [C, cropH, cropW], display };
}
