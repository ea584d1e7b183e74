/**
 * Standardised saliency (DESIGN §1 step 5): z = (s − μ) / σ per unit, σ ≤ 1e-14 replaced by 1.
 * What it needs from validation statistics is a `Reference`; where the statistics came from
 * (a pss file, the authors' .pth) is src/stats' business.
 */

/** σ at or below this counts as zero and is replaced by 1. */
export const SIGMA_FLOOR = 1e-14;

/** σ as standardisation uses it. */
export const usableSigma = (s: number): number => (s <= SIGMA_FLOOR ? 1 : s);

/** Per-unit μ and σ of validation saliency, and where they came from (for reports). */
export interface Reference {
  mean: ArrayLike<number>;
  std: ArrayLike<number>;
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
