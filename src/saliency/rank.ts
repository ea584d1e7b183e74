/** Ranking filters and naming them by layer. */
import type { ConvLayer } from '../models/model.js';

export type RankBy = 'z' | 'abs-z';

export interface RankedFilter {
  /** Position in the saliency vector. */
  index: number;
  layer: string;
  /** Filter (output channel) within its layer. */
  filter: number;
  value: number;
}

/** The k entries with the largest value (or |value|), largest first. */
export function topFilters(
  values: ArrayLike<number>,
  layers: readonly ConvLayer[],
  k: number,
  by: RankBy = 'z',
): RankedFilter[] {
  const key = by === 'abs-z' ? (i: number) => Math.abs(values[i]) : (i: number) => values[i];
  const order = Array.from({ length: values.length }, (_, i) => i).sort((a, b) => key(b) - key(a) || a - b);
  return order.slice(0, k).map((index) => ({ index, ...locate(index, layers), value: values[index] }));
}

/** The layer and filter of a position in the saliency vector. */
export function locate(index: number, layers: readonly ConvLayer[]): { layer: string; filter: number } {
  let lo = 0;
  let hi = layers.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (layers[mid].offset <= index) lo = mid;
    else hi = mid - 1;
  }
  return { layer: layers[lo].name, filter: index - layers[lo].offset };
}
