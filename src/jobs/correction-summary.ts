/**
 * The correction protocol's summary: per strategy and k, the mean change in the wrong and in
 * the true class's probability and the share of images flipped (no longer the wrong class)
 * and corrected (now the true class), each with a 95% bootstrap interval over images
 * (percentiles of seeded resamples); and the depth histogram — where each order's top-k units
 * lie, layer by layer, against where the filters are.
 */
import type { LayerSpan } from '../saliency/units.js';
import { seededRandom } from '../util/random.js';
import {
  CORRECTION_STRATEGIES,
  type CorrectionRow,
  type CorrectionRun,
  type CorrectionStrategy,
} from './correction.js';

export const BOOTSTRAP = { resamples: 100, seed: 0 } as const;

/** A mean and its 95% bootstrap interval. */
export interface Estimate {
  mean: number;
  lo: number;
  hi: number;
}

export interface StrategyCurve {
  strategy: CorrectionStrategy;
  /** Index k − 1. */
  dWrong: Estimate[];
  dTrue: Estimate[];
  flipped: Estimate[];
  corrected: Estimate[];
}

export interface DepthHistogram {
  k: number;
  /** Share of the filters in each layer. */
  filters: number[];
  /** Share of the top-k units (over all images) in each layer, by order. */
  z: number[];
  pot: number[];
  /** Total variation distance from the filters' shares (0: spread as the filters are). */
  tvZ: number;
  tvPot: number;
}

export interface CorrectionSummary {
  images: number;
  misclassified: number;
  k: number;
  resamples: number;
  curves: StrategyCurve[];
  depth: DepthHistogram[];
}

/** Percentile with linear interpolation of sorted values. */
function percentile(sorted: Float64Array, p: number): number {
  const at = (sorted.length - 1) * p;
  const i = Math.floor(at);
  return i + 1 < sorted.length ? sorted[i] + (sorted[i + 1] - sorted[i]) * (at - i) : sorted[i];
}

/** Mean of per-image values with a percentile bootstrap interval (the same resamples for every statistic). */
function estimate(values: Float64Array, resamples: readonly Int32Array[]): Estimate {
  const n = values.length;
  if (!n) return { mean: Number.NaN, lo: Number.NaN, hi: Number.NaN };
  let s = 0;
  for (const v of values) s += v;
  const means = Float64Array.from(resamples, (idx) => {
    let t = 0;
    for (const i of idx) t += values[i];
    return t / n;
  }).sort();
  return { mean: s / n, lo: percentile(means, 0.025), hi: percentile(means, 0.975) };
}

export function summarizeCorrection(
  run: CorrectionRun,
  k: number,
  o: { resamples?: number; seed?: number } = {},
): CorrectionSummary {
  const n = run.misclassified;
  const rand = seededRandom(o.seed ?? BOOTSTRAP.seed);
  const resamples = Array.from({ length: o.resamples ?? BOOTSTRAP.resamples }, () =>
    Int32Array.from({ length: n }, () => Math.floor(rand.next() * n)),
  );
  // rows come image by image, then strategy, then k.
  const imageOf = new Map<number, number>();
  for (const r of run.rows) if (!imageOf.has(r.index)) imageOf.set(r.index, imageOf.size);
  const cell = (s: CorrectionStrategy, kk: number, f: (r: CorrectionRow) => number) => {
    const v = new Float64Array(n);
    for (const r of run.rows) if (r.strategy === s && r.k === kk) v[imageOf.get(r.index)!] = f(r);
    return v;
  };
  const curves = CORRECTION_STRATEGIES.map((strategy) => {
    const c: StrategyCurve = { strategy, dWrong: [], dTrue: [], flipped: [], corrected: [] };
    for (let kk = 1; kk <= k; kk++) {
      c.dWrong.push(
        estimate(
          cell(strategy, kk, (r) => r.dWrong),
          resamples,
        ),
      );
      c.dTrue.push(
        estimate(
          cell(strategy, kk, (r) => r.dTrue),
          resamples,
        ),
      );
      c.flipped.push(
        estimate(
          cell(strategy, kk, (r) => Number(r.predicted !== r.wrong)),
          resamples,
        ),
      );
      c.corrected.push(
        estimate(
          cell(strategy, kk, (r) => Number(r.predicted === r.label)),
          resamples,
        ),
      );
    }
    return c;
  });
  const depth = [...new Set([Math.min(10, k), k])].map((kk) => depthHistogram(run.top, run.layers, kk));
  return { images: run.images, misclassified: n, k, resamples: resamples.length, curves, depth };
}

/** Where the top-k units of every image lie, per layer, under z and under POT. */
export function depthHistogram(
  top: readonly { z: readonly number[]; pot: readonly number[] }[],
  layers: readonly LayerSpan[],
  k: number,
): DepthHistogram {
  const total = layers.reduce((s, l) => s + l.filters, 0);
  const filters = layers.map((l) => l.filters / total);
  const share = (pick: (t: { z: readonly number[]; pot: readonly number[] }) => readonly number[]) => {
    const counts = new Float64Array(layers.length);
    let all = 0;
    for (const t of top)
      for (const u of pick(t).slice(0, k)) {
        const li = layers.findIndex((l) => u >= l.offset && u < l.offset + l.filters);
        counts[li] += 1;
        all += 1;
      }
    return Array.from(counts, (c) => (all ? c / all : 0));
  };
  const z = share((t) => t.z);
  const pot = share((t) => t.pot);
  const tv = (p: number[]) => p.reduce((s, v, i) => s + Math.abs(v - filters[i]), 0) / 2;
  return { k, filters, z, pot, tvZ: tv(z), tvPot: tv(pot) };
}

/** correction.csv: one row per image × strategy × k. */
export function correctionCsv(rows: readonly CorrectionRow[]): string {
  const head = 'index,label,wrong,strategy,k,unit,predicted,d_wrong,d_true';
  return `${[head, ...rows.map((r) => [r.index, r.label, r.wrong, r.strategy, r.k, r.unit, r.predicted, r.dWrong, r.dTrue].join(','))].join('\n')}\n`;
}

const pct = (e: Estimate) =>
  `${(100 * e.mean).toFixed(1)}% [${(100 * e.lo).toFixed(1)}, ${(100 * e.hi).toFixed(1)}]`;
const pp = (e: Estimate) =>
  `${(100 * e.mean).toFixed(2)} [${(100 * e.lo).toFixed(2)}, ${(100 * e.hi).toFixed(2)}]`;

/** summary.md: the table at a few k, and the depth histogram. */
export function correctionMarkdown(
  s: CorrectionSummary,
  title: string,
  layerNames: readonly string[],
): string {
  const ks = [1, 5, 10, 15, 20, 25].filter((k) => k <= s.k);
  const lines = [
    `# ${title}`,
    '',
    `${s.misclassified} misclassified of ${s.images} images; one SGD step on the top-k units, k = 1..${s.k}; 95% intervals from ${s.resamples} bootstrap resamples of the images.`,
    '',
    '| strategy | k | flipped | corrected | Δp(wrong), points | Δp(true), points |',
    '|---|---|---|---|---|---|',
  ];
  for (const c of s.curves)
    for (const k of ks)
      lines.push(
        `| ${c.strategy} | ${k} | ${pct(c.flipped[k - 1])} | ${pct(c.corrected[k - 1])} | ${pp(c.dWrong[k - 1])} | ${pp(c.dTrue[k - 1])} |`,
      );
  for (const d of s.depth) {
    lines.push(
      '',
      `Where the top ${d.k} units lie (share per layer):`,
      '',
      '| layer | filters | z | POT |',
      '|---|---|---|---|',
    );
    for (const [i, name] of layerNames.entries())
      lines.push(
        `| ${name} | ${(100 * d.filters[i]).toFixed(1)}% | ${(100 * d.z[i]).toFixed(1)}% | ${(100 * d.pot[i]).toFixed(1)}% |`,
      );
    lines.push(
      '',
      `Total variation distance from the filters' own spread: z ${d.tvZ.toFixed(3)}, POT ${d.tvPot.toFixed(3)} (0 = spread over the layers as the filters are).`,
    );
  }
  return `${lines.join('\n')}\n`;
}
