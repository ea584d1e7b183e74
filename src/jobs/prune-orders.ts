/**
 * The pruning experiment's strategies: in which order each one turns filters off (the first k
 * are off at step k).
 */
import type { RankBy } from '../saliency/rank.js';
import { topK } from '../saliency/rank.js';
import { seededRandom } from '../util/random.js';

export const STRATEGIES = ['salient', 'random', 'least-salient'] as const;
export type Strategy = (typeof STRATEGIES)[number];

/**
 * The order in which each strategy turns filters off: `salient` = largest z first (or largest
 * |z| with rankBy abs-z); `least-salient` = the same ranking read from the other end (most
 * negative z, or smallest |z|); `random` = a seeded random order. Ranked as everywhere else
 * (saliency/rank.ts): ties go to the lower index, NaN comes last from either end.
 */
export function pruneOrders(
  z: ArrayLike<number>,
  k: number,
  rankBy: RankBy,
  random: () => number[],
): Record<Strategy, number[]> {
  return {
    salient: topK(z, k, rankBy),
    random: random().slice(0, k),
    'least-salient': topK(z, k, rankBy, 'smallest'),
  };
}

/** A seeded random filter order for one image: the same for a given seed and dataset index. */
export function randomOrder(seed: number, index: number, filters: number, k: number): number[] {
  return seededRandom((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0).sample(filters, k);
}
