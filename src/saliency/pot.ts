/**
 * Extreme-value saliency, peaks over threshold (DESIGN §1.5; Wang & Sato, arXiv 2310.17951).
 * Per unit: threshold t = S_sorted[floor(q·n)] of its validation saliency, peaks y = s − t for
 * s > t (N_t of them), a GPD fitted to them by maximum likelihood (saliency/gpd.ts); the tail
 * probability of a test value s > t is P = (N_t/n)·(1 + γ(s − t)/σ)^(−1/γ) (γ = 0:
 * (N_t/n)·exp(−(s − t)/σ)). Units rank by P, smallest first; the score plotted beside z is
 * −log10 P. Computed in log space, so that P far below 1e-308 still ranks.
 *
 * Conventions where the formula is silent: s ≤ t has P = 1 (score 0); s beyond a bounded
 * fit's end point (γ < 0, s − t ≥ σ/|γ|), or above a threshold no validation value exceeds
 * (N_t = 0), has P = 0 (score +Infinity). Ties in P go to the lower position, as everywhere.
 * Pure; what it needs from the statistics is their tails (TailsLike).
 */
import { PssError } from '../errors.js';
import { fitGpd } from './gpd.js';
import { topK } from './rank.js';

/** The quantiles POT is used at in the paper; the default is the smaller. */
export const DEFAULT_POT_QUANTILE = 0.85;

/** Each unit's largest validation values: row u = S_sorted[count − width ..], ascending. */
export interface TailsLike {
  values: ArrayLike<number>;
  units: number;
  width: number;
  count: number;
  /** The smallest q they serve. */
  quantile: number;
}

/** The fitted tail of every unit at one q. */
export interface PotModel {
  q: number;
  /** Validation values per unit (n). */
  count: number;
  threshold: Float64Array;
  /** N_t: validation values above the threshold. */
  peaks: Int32Array;
  gamma: Float64Array;
  sigma: Float64Array;
}

/**
 * Fits every unit's tail at quantile q from kept tails (stats/tails.ts keeps enough for q ≥
 * their quantile). `onUnit` hears of each unit fitted (ResNet-50's 26,560 take minutes).
 */
export function fitPot(t: TailsLike, q: number, onUnit?: (done: number, total: number) => void): PotModel {
  const why = potQuantileRefusal(t, q);
  if (why) throw new PssError(why);
  const n = t.count;
  const j = Math.floor(q * n) - (n - t.width);
  const m: PotModel = {
    q,
    count: n,
    threshold: new Float64Array(t.units),
    peaks: new Int32Array(t.units),
    gamma: new Float64Array(t.units),
    sigma: new Float64Array(t.units),
  };
  const y = new Float64Array(t.width);
  for (let u = 0; u < t.units; u++) {
    const base = u * t.width;
    const th = t.values[base + j];
    let nt = 0;
    for (let r = j + 1; r < t.width; r++) {
      const v = t.values[base + r];
      if (v > th) y[nt++] = v - th;
    }
    m.threshold[u] = th;
    m.peaks[u] = nt;
    if (nt > 0) {
      const fit = fitGpd(y.subarray(0, nt));
      m.gamma[u] = fit.gamma;
      m.sigma[u] = fit.sigma;
    }
    onUnit?.(u + 1, t.units);
  }
  return m;
}

/** Why kept tails cannot serve POT at q (undefined when they can), found without fitting. */
export function potQuantileRefusal(t: TailsLike, q: number): string | undefined {
  if (!(q > 0 && q < 1)) return `the POT quantile must be in (0, 1), got ${q}`;
  const n = t.count;
  const i = Math.floor(q * n); // numpy's int(q * n)
  if (i < n && i - (n - t.width) >= 0) return undefined;
  return `the statistics keep each unit's top ${t.width} of ${n} values (enough for q >= ${t.quantile}); POT at q = ${q} needs the top ${n - i}: recompute them with pss stats --tail-quantile ${q}`;
}

/** ln P per unit (0 at or below the threshold, −Infinity where P = 0). */
export function potLogP(s: ArrayLike<number>, m: PotModel): Float64Array {
  const units = m.threshold.length;
  if (s.length !== units) throw new Error(`saliency has ${s.length} values, the POT model ${units}`);
  const out = new Float64Array(units);
  for (let u = 0; u < units; u++) {
    const y = s[u] - m.threshold[u];
    if (!(y > 0)) continue;
    const nt = m.peaks[u];
    if (nt === 0) {
      out[u] = Number.NEGATIVE_INFINITY;
      continue;
    }
    const g = m.gamma[u];
    const sg = m.sigma[u];
    let tail: number;
    if (g === 0) tail = -y / sg;
    else {
      const z = (g * y) / sg;
      tail = z <= -1 ? Number.NEGATIVE_INFINITY : -Math.log1p(z) / g;
    }
    out[u] = Math.log(nt / m.count) + tail;
  }
  return out;
}

/** −log10 P per unit: 0 at or below the threshold, +Infinity where P = 0. */
export function potScore(s: ArrayLike<number>, m: PotModel): Float64Array {
  return potLogP(s, m).map((l) => (l === 0 ? 0 : -l / Math.LN10));
}

/**
 * Where profiles (cosines, charts, top-k by score) meet P = 0: the score of 10^−400, beyond
 * what float64 can hold (its smallest positive number is 4.9e−324, a score of 323.3).
 */
export const POT_SCORE_CAP = 400;

/** −log10 P capped at POT_SCORE_CAP: a finite profile, in the order of P wherever P > 10^−400. */
export function potProfile(s: ArrayLike<number>, m: PotModel): Float64Array {
  return potScore(s, m).map((v) => Math.min(v, POT_SCORE_CAP));
}

/** The k units of smallest P, smallest first (ties: lower position). */
export function potRanking(s: ArrayLike<number>, m: PotModel, k = s.length): number[] {
  return topK(potLogP(s, m), k, 'z', 'smallest');
}
