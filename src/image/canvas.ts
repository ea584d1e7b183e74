/**
 * Fitting a resized image to the model's input: the size a description resizes to (shorter
 * side, exact box, or inside a box), and the crop or padding per axis, by torchvision's rule
 * or Hugging Face's (their centre-crop offsets differ by one pixel on odd margins).
 */
import type { Preprocessing } from '../models/architecture.js';
import { resizedSize } from './budget.js';
import type { Pixels } from './resample.js';

/** [width, height] after the resize of `p`: torchvision's, or HF's {height, width}, {longest_edge}, {max_height, max_width}, none. */
export function targetSize(width: number, height: number, p: Preprocessing): [number, number] {
  if (p.noResize) return [width, height];
  if (!p.box) return resizedSize(width, height, p.resize);
  if (p.box.fit === 'exact') return [p.box.width, p.box.height];
  const scale = Math.min(p.box.height / height, p.box.width / width);
  // DETR's get_image_size_for_max_height_width truncates; SAM's get_preprocess_shape rounds half up
  const half = p.box.fit === 'contain' ? 0.5 : 0;
  return [Math.max(1, Math.trunc(width * scale + half)), Math.max(1, Math.trunc(height * scale + half))];
}

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d !== 0.5) return Math.round(x);
  return f % 2 === 0 ? f : f + 1;
}

/** One axis: `from` image pixels starting at `src` land at `dst` of the input's `n`. */
interface Span {
  src: number;
  dst: number;
  count: number;
}

function span(size: number, n: number, p: Preprocessing): Span {
  if (size >= n) {
    const src = p.hfCrop ? Math.floor((size - n) / 2) : roundHalfEven((size - n) / 2);
    return { src, dst: 0, count: n };
  }
  let dst: number;
  if (p.pad) dst = p.pad.position === 'center' ? Math.floor((n - size) / 2) : 0;
  else dst = p.hfCrop ? Math.ceil((n - size) / 2) : Math.floor((n - size) / 2);
  return { src: 0, dst, count: size };
}

export interface Placed extends Pixels {
  /** Where the image lies in the input ([top, left, bottom, right), exclusive); outside it, padding. */
  inside: [number, number, number, number];
}

/**
 * The image cropped to `h`×`w` where larger, and placed in it where smaller: zero pixels
 * around it, the caller filling `p.pad`'s value outside `inside` when padding is asked for.
 */
export function place(img: Pixels, h: number, w: number, p: Preprocessing): Placed {
  const C = img.data.length / (img.width * img.height);
  const y = span(img.height, h, p);
  const x = span(img.width, w, p);
  const data = new Uint8Array(w * h * C);
  for (let r = 0; r < y.count; r++) {
    const from = ((r + y.src) * img.width + x.src) * C;
    data.set(img.data.subarray(from, from + x.count * C), ((r + y.dst) * w + x.dst) * C);
  }
  return { width: w, height: h, data, inside: [y.dst, x.dst, y.dst + y.count, x.dst + x.count] };
}
