/**
 * Ranking positions of the saliency vector, defined once. NaN never ranks first: it sorts after
 * every number, read from either end (±Infinity are numbers and rank by value). Ties go to the
 * lower position.
 */
import { type LayerSpan, locate, type Unit } from './units.js';

export type RankBy = 'z' | 'abs-z';

export interface RankedFilter extends Unit {
  value: number;
}

/**
 * The positions of the k largest values (by |value| with 'abs-z'), largest first; with
 * `from: 'smallest'` the k smallest, smallest first. NaN comes after every number either way.
 */
export function topK(
  values: ArrayLike<number>,
  k: number,
  by: RankBy = 'z',
  from: 'largest' | 'smallest' = 'largest',
): number[] {
  const sign = from === 'largest' ? -1 : 1;
  const key = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = by === 'abs-z' ? Math.abs(values[i]) : values[i];
    key[i] = Number.isNaN(v) ? Number.NaN : sign * v;
  }
  const nanLast = (a: number, b: number) =>
    Number.isNaN(key[a]) ? (Number.isNaN(key[b]) ? 0 : 1) : Number.isNaN(key[b]) ? -1 : key[a] - key[b];
  const order = Array.from({ length: values.length }, (_, i) => i);
  // ±Infinity − ±Infinity is NaN: compare equal keys as ties.
  order.sort((a, b) => (key[a] === key[b] ? a - b : nanLast(a, b) || a - b));
  return order.slice(0, Math.max(0, k));
}

/** The k entries with the largest value (or |value|), largest first, with their layer and filter. */
export function topFilters(
  values: ArrayLike<number>,
  layers: readonly LayerSpan[],
  k: number,
  by: RankBy = 'z',
): RankedFilter[] {
  return topK(values, k, by).map((index) => ({ ...locate(index, layers), value: values[index] }));
}
