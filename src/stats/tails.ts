/**
 * The upper tail of every unit's validation saliency, kept exactly (DESIGN §1.5, POT): per
 * unit, the largest values seen, as the float32 numbers saliency is. Pure; no I/O.
 *
 * What a file holds: for each unit, the last `width` entries of its sorted saliency —
 * `row[j] = S_sorted[count − width + j]`, ascending — so that the POT threshold
 * `S_sorted[floor(q·count)]` and everything above it can be read off exactly whenever
 * `floor(q·count) ≥ count − width` (tailIndex says where, or that it cannot).
 *
 * Why the capacity is what it is (`tailCapacity`): a shard cannot know which of its values
 * the merged run's top (1 − q)·N will need — a shard holding all the large values
 * contributes all of them — so every shard of a dataset of N items keeps its
 * ⌈(1 − q_min)·N⌉ + 2 largest values (all of them when it sees fewer). The merged run needs
 * `count − floor(q·count)` ≤ ⌈(1 − q)·count⌉ + 1 ≤ ⌈(1 − q_min)·N⌉ + 1 values for any
 * q ≥ q_min (the +1 covers float64's rounding of q·count, the +2 that of (1 − q_min)·N),
 * and the top M of a union lie within the union of every part's top M: so the merge of
 * the parts' kept values, cut to the top K, is exactly the merged run's top K.
 */
import { PssError } from '../errors.js';
import { DEFAULT_POT_QUANTILE, fitPot, type PotModel, potQuantileRefusal } from '../saliency/pot.js';
import type { Reference, Standardization } from '../saliency/standardize.js';

/** The q the tails are sized for by default: enough for POT at q = 0.85 and 0.95. */
export const DEFAULT_TAIL_QUANTILE = 0.85;

/** Values per unit a run over a dataset of `total` items keeps, exact for any q ≥ qMin and any split into shards. */
export function tailCapacity(total: number, qMin: number): number {
  if (!(qMin > 0 && qMin < 1)) throw new PssError(`the tail quantile must be in (0, 1), got ${qMin}`);
  return Math.min(total, Math.ceil((1 - qMin) * total) + 2);
}

/** Bytes of tails for `units` units over `total` items (float32). */
export const tailBytes = (units: number, total: number, qMin: number): number =>
  4 * units * tailCapacity(total, qMin);

/** Kept tails: `width` values per unit, each row ascending, of `count` values seen per unit. */
export interface Tails {
  /** [units × width], row-major; row u ascending. */
  values: Float32Array;
  units: number;
  width: number;
  /** Values seen per unit (images counted). */
  count: number;
  /** The quantile they were sized for (q_min). */
  quantile: number;
  /** Values kept per unit at most (tailCapacity of the dataset's size): width = min(count, capacity). */
  capacity: number;
  /**
   * The GPD fits of every unit at some quantiles (POT_FIT_QUANTILES), computed once when the
   * statistics are finished — fitting is the slow part of POT — and used when a run asks for
   * one of those q. Derived from the tails; checked against them on reading.
   */
  fits?: PotModel[];
}

/** The quantiles whose fits a finished statistics file keeps: the paper's two. */
export const POT_FIT_QUANTILES = [DEFAULT_POT_QUANTILE, 0.95] as const;

/** The tails with their fits at the POT_FIT_QUANTILES they serve. */
export function withFits(t: Tails, onProgress?: (q: number, done: number, total: number) => void): Tails {
  const qs = POT_FIT_QUANTILES.filter((q) => tailIndex(t, q) !== undefined);
  return { ...t, fits: qs.map((q) => fitPot(t, q, (d, n) => onProgress?.(q, d, n))) };
}

/** The POT model at q: the file's own fit when it kept one, else fitted now. */
export function potModelOf(t: Tails, q: number): PotModel {
  return t.fits?.find((f) => f.q === q) ?? fitPot(t, q);
}

/** The fits as one F64 tensor [quantiles, 4 (threshold, N_t, γ, σ), units]. */
export function fitsTensor(fits: readonly PotModel[], units: number): Float64Array {
  const out = new Float64Array(fits.length * 4 * units);
  fits.forEach((f, i) => {
    for (const [j, v] of [f.threshold, f.peaks, f.gamma, f.sigma].entries()) out.set(v, (4 * i + j) * units);
  });
  return out;
}

/** Reads fits back, checked against the tails: thresholds exactly, N_t within the kept values, σ > 0. */
export function readFits(
  data: Float64Array,
  shape: readonly number[],
  quantiles: readonly number[],
  t: Tails,
  fail: (why: string) => never,
): PotModel[] {
  const { units } = t;
  if (shape.length !== 3 || shape[0] !== quantiles.length || shape[1] !== 4 || shape[2] !== units)
    fail(
      `tensor "pot_fits" has shape [${shape.join(', ')}]; it should be [${quantiles.length}, 4, ${units}]`,
    );
  return quantiles.map((q, i) => {
    const j = tailIndex(t, q);
    if (j === undefined) fail(`the POT fit at q = ${q} needs more tail values than the file keeps`);
    const row = (r: number) => data.slice((4 * i + r) * units, (4 * i + r + 1) * units);
    const m: PotModel = {
      q,
      count: t.count,
      threshold: row(0),
      peaks: Int32Array.from(row(1)),
      gamma: row(2),
      sigma: row(3),
    };
    for (let u = 0; u < units; u++) {
      if (m.threshold[u] !== t.values[u * t.width + j!])
        fail(
          `pot_fits[${i}, 0, ${u}] (threshold) is ${m.threshold[u]}, not the tails' value ${t.values[u * t.width + j!]}`,
        );
      const nt = data[(4 * i + 1) * units + u];
      if (!(Number.isInteger(nt) && nt >= 0 && nt < t.width - j!))
        fail(`pot_fits[${i}, 1, ${u}] (N_t) is ${nt}, not a count of kept values above the threshold`);
      if (nt > 0 && !(Number.isFinite(m.gamma[u]) && m.sigma[u] > 0 && Number.isFinite(m.sigma[u])))
        fail(
          `pot_fits[${i}, 2..3, ${u}] is γ = ${m.gamma[u]}, σ = ${m.sigma[u]}; a fit needs a finite γ and σ > 0`,
        );
    }
    return m;
  });
}

/**
 * Where S_sorted[floor(q·count)] lies in a row (its index into the row), or undefined when the
 * kept values do not reach that deep. floor(q·count) in float64, as numpy's int(q * n).
 */
export function tailIndex(t: Pick<Tails, 'width' | 'count'>, q: number): number | undefined {
  const i = Math.floor(q * t.count);
  if (!(i >= 0 && i < t.count)) return undefined;
  const j = i - (t.count - t.width);
  return j >= 0 ? j : undefined;
}

/**
 * A streaming per-unit top-K keeper: one min-heap of at most `capacity` values per unit, all
 * in one Float32Array (every push adds a value to every unit, so every heap has the same size).
 */
export class TailKeeper {
  private readonly heap: Float32Array;
  /** Values in each heap (≤ capacity). */
  size = 0;
  /** Values pushed per unit. */
  count = 0;

  constructor(
    readonly units: number,
    readonly capacity: number,
    readonly quantile: number,
  ) {
    if (!(Number.isInteger(capacity) && capacity >= 0)) throw new Error(`bad tail capacity ${capacity}`);
    this.heap = new Float32Array(units * capacity);
  }

  /** Adds one sample's value for every unit. */
  push(x: ArrayLike<number>): void {
    const { units, capacity: k, heap } = this;
    if (x.length !== units) throw new Error(`sample has ${x.length} values, the tails have ${units}`);
    for (let u = 0; u < units; u++)
      if (!Number.isFinite(x[u]))
        throw new PssError(`saliency of unit ${u} is ${x[u]}; statistics need finite numbers`);
    this.count += 1;
    if (k === 0) return;
    if (this.size < k) {
      const n = this.size;
      for (let u = 0; u < units; u++) siftUp(heap, u * k, n, Math.fround(x[u]));
      this.size += 1;
      return;
    }
    for (let u = 0; u < units; u++) {
      const v = Math.fround(x[u]);
      if (v > heap[u * k]) siftDown(heap, u * k, k, v);
    }
  }

  /** The kept values, each row ascending (a copy; the keeper goes on unchanged). */
  tails(): Tails {
    const { units, capacity: k, size } = this;
    const values = new Float32Array(units * size);
    for (let u = 0; u < units; u++) {
      const row = values.subarray(u * size, (u + 1) * size);
      row.set(this.heap.subarray(u * k, u * k + size));
      row.sort();
    }
    return { values, units, width: size, count: this.count, quantile: this.quantile, capacity: k };
  }

  /** A keeper that goes on from saved tails (a checkpoint): an ascending row is a valid min-heap. */
  static resume(t: Tails): TailKeeper {
    const { capacity } = t;
    const keeper = new TailKeeper(t.units, capacity, t.quantile);
    for (let u = 0; u < t.units; u++)
      keeper.heap.set(t.values.subarray(u * t.width, (u + 1) * t.width), u * capacity);
    keeper.size = t.width;
    keeper.count = t.count;
    return keeper;
  }
}

function siftUp(h: Float32Array, base: number, n: number, v: number): void {
  let i = n;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (h[base + parent] <= v) break;
    h[base + i] = h[base + parent];
    i = parent;
  }
  h[base + i] = v;
}

/** Replaces the root (the smallest) by v and restores the heap. */
function siftDown(h: Float32Array, base: number, n: number, v: number): void {
  let i = 0;
  for (;;) {
    let c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && h[base + c + 1] < h[base + c]) c += 1;
    if (h[base + c] >= v) break;
    h[base + i] = h[base + c];
    i = c;
  }
  h[base + i] = v;
}

/**
 * The exact tails of the union of disjoint parts (shards) of one dataset: every part kept its
 * top `capacity` (or all it saw), so the top `capacity` of the union are among the parts'
 * kept values — the merged tails are what one run over the union keeps, bit for bit.
 */
export function mergeTails(parts: readonly Tails[]): Tails {
  if (!parts.length) throw new Error('no tails to merge');
  const { units, quantile, capacity } = parts[0];
  for (const p of parts) {
    if (p.units !== units) throw new Error(`cannot merge tails of ${p.units} and ${units} units`);
    if (p.quantile !== quantile)
      throw new PssError(
        `cannot merge tails sized for q = ${p.quantile} with tails sized for q = ${quantile}; compute the shards with the same --tail-quantile`,
      );
    if (p.capacity !== capacity)
      throw new PssError(
        `cannot merge tails of ${p.capacity} and of ${capacity} values per unit: shards of datasets of different sizes`,
      );
  }
  const total = parts.reduce((s, p) => s + p.width, 0);
  const width = Math.min(total, capacity);
  const count = parts.reduce((s, p) => s + p.count, 0);
  const values = new Float32Array(units * width);
  const all = new Float32Array(total);
  for (let u = 0; u < units; u++) {
    let at = 0;
    for (const p of parts) {
      all.set(p.values.subarray(u * p.width, (u + 1) * p.width), at);
      at += p.width;
    }
    all.sort();
    values.set(all.subarray(total - width), u * width);
  }
  return { values, units, width, count, quantile, capacity };
}

/** Checks a row-major [units × width] block read from a file: finite, each row ascending. */
export function checkTailRows(t: Tails, fail: (why: string) => never): void {
  const { values, units, width } = t;
  for (let u = 0; u < units; u++) {
    const base = u * width;
    for (let j = 0; j < width; j++) {
      const v = values[base + j];
      if (!Number.isFinite(v)) fail(`tails[${u}, ${j}] is ${v}; statistics must be finite numbers`);
      if (j > 0 && v < values[base + j - 1])
        fail(`tails[${u}] is not in ascending order at ${j} (${values[base + j - 1]} then ${v})`);
    }
  }
}

/**
 * --standardize: z leaves the statistics as they are; pot fits every unit's tail at quantile q
 * from the file's tails (or takes the fits the file kept), so that profiles become −log10 P.
 */
export function withStandardization<T extends StandardizableStats>(
  resolved: T | undefined,
  method: Standardization,
  q: number,
): T | undefined {
  if (method === 'z') return resolved;
  const why = potRefusal(resolved, q);
  if (why) throw new PssError(why);
  const r = resolved!;
  return { ...r, reference: { ...r.reference, pot: potModelOf(r.stats.tails!, q) } };
}

type StandardizableStats = {
  path: string;
  stats: { tails?: Tails; meta?: { aggregation?: string } };
  reference: Reference;
};

/** Why --standardize pot at q cannot use these statistics (undefined when it can), found without fitting. */
export function potRefusal(resolved: StandardizableStats | undefined, q: number): string | undefined {
  if (!resolved)
    return '--standardize pot needs validation statistics with tails: give --stats FILE from pss stats';
  const { tails } = resolved.stats;
  if (!tails && resolved.stats.meta?.aggregation === 'parameter')
    return '--standardize pot ranks units (filters, neurons, heads); per-parameter statistics keep no tails: use --standardize z with --aggregation parameter';
  if (!tails)
    return `${resolved.path} keeps no tails (computed with --no-tails, by an earlier pss, or by the original authors), so --standardize pot cannot fit them; recompute the statistics with pss stats`;
  return potQuantileRefusal(tails, q);
}
