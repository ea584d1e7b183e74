/**
 * Standardised saliency (DESIGN §1 step 5): z = (s − μ) / σ per unit, σ ≤ 1e-14 replaced by 1.
 * What it needs from validation statistics is a `Reference`; where the statistics came from
 * (a pss file, the authors' .pth) is src/stats' business.
 */

/** σ at or below this counts as zero and is replaced by 1. */
export const SIGMA_FLOOR = 1e-14;

/** σ as standardisation uses it. */
export const usableSigma = (s: number): number => (s <= SIGMA_FLOOR ? 1 : s);

import { type PotModel, potProfile } from './pot.js';

/** How saliency is standardised: z-scores, or extreme-value tail probabilities (POT). */
export type Standardization = 'z' | 'pot';
export const STANDARDIZATIONS: readonly Standardization[] = ['z', 'pot'];

/** Per-unit μ and σ of validation saliency, and where they came from (for reports). */
export interface Reference {
  mean: ArrayLike<number>;
  std: ArrayLike<number>;
  /** With --standardize pot: every unit's fitted tail; profiles are then −log10 P. */
  pot?: PotModel;
  /** Images behind them. */
  count: number;
  /** The statistics file. */
  path: string;
  dataset: string;
}

/** z = (s − μ) / σ, with σ ≤ 1e-14 replaced by 1. */
export function standardize(s: ArrayLike<number>, ref: Pick<Reference, 'mean' | 'std'>): Float64Array {
  const z = new Float64Array(s.length);
  for (let i = 0; i < s.length; i++) z[i] = (s[i] - ref.mean[i]) / usableSigma(ref.std[i]);
  return z;
}

/**
 * The profile everything downstream ranks (largest first), compares and plots: z, or with a
 * POT model −log10 P (capped, see potProfile). Raw saliency without a reference.
 */
export function profileOf(
  s: ArrayLike<number>,
  ref: (Pick<Reference, 'mean' | 'std'> & { pot?: PotModel }) | undefined,
): Float64Array {
  if (!ref) return Float64Array.from(s);
  return ref.pot ? potProfile(s, ref.pot) : standardize(s, ref);
}

/** "z", "pot" or "none", as outputs record it. */
export const standardizationOf = (ref: { pot?: PotModel } | undefined): Standardization | 'none' =>
  ref ? (ref.pot ? 'pot' : 'z') : 'none';
