/**
 * The pixel budget: work is bounded by what will be computed, not by the file. An image is
 * refused before it is decoded when it, or its resize, would exceed the budget.
 */
import { PssError } from '../errors.js';

/** torchvision's _compute_resized_output_size for an int size: [width, height]. */
export function resizedSize(width: number, height: number, size: number): [number, number] {
  const [short, long] = width <= height ? [width, height] : [height, width];
  const newLong = Math.trunc((size * long) / short);
  return width <= height ? [size, newLong] : [newLong, size];
}

/** The largest image pss decodes or resizes to by default: 16384 × 16384 pixels (768 MiB as RGB). */
export const MAX_PIXELS = 16384 * 16384;

const megapixels = (n: number) => `${(n / 1e6).toFixed(1)} megapixels`;

/**
 * Refuses an image that has, or would have once its shorter side is resized to `resize`, more
 * than `maxPixels` pixels: the work is bounded by what will be computed, not by the file (a
 * 1×16000 PNG of 15 KB would resize to 256×4096000).
 */
export function checkPixelBudget(
  what: string,
  width: number,
  height: number,
  maxPixels: number,
  resize?: number,
): void {
  const side = Math.floor(Math.sqrt(maxPixels));
  const limit =
    side * side === maxPixels ? `${side}×${side} (${megapixels(maxPixels)})` : megapixels(maxPixels);
  if (width * height > maxPixels)
    throw new PssError(
      `${what} is ${width}×${height} pixels (${megapixels(width * height)}), more than the limit of ${limit}`,
    );
  if (resize === undefined) return;
  const [w, h] = resizedSize(width, height, resize);
  if (w * h > maxPixels)
    throw new PssError(
      `${what} is ${width}×${height} pixels; resizing its shorter side to ${resize} would make it ${w}×${h} (${megapixels(w * h)}), more than the limit of ${limit}`,
    );
}
