/**
 * The pruning experiment (DESIGN §1 step 9; Levin et al. §4): for every misclassified image,
 * turn off (zero) its k most salient filters, k = 1..K cumulatively, and see whether the
 * prediction becomes correct — against two controls, k random filters and the k least
 * salient ones. Each (image, strategy, k) variant is one row of a batched forward pass with
 * per-sample filter masks, so the model is never copied or rebuilt.
 *
 * Results are appended to a CSV per chunk of images; an interrupted run resumes from it,
 * keeping the images whose rows are all there and redoing the rest.
 */
import { existsSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { PssError } from '../errors.js';
import { checkWritable, fsStep, readTextChecked, writeFileAtomic } from '../io/files.js';
import type { Model } from '../models/model.js';
import type { Aggregation } from '../saliency/aggregation.js';
import type { SaliencyEngine } from '../saliency/engine.js';
import { locate, type RankBy } from '../saliency/rank.js';
import { seededRandom } from '../util/random.js';
import { csvLine, parseCsv } from './csv.js';
import { argmaxRow, forwardRunner, softmaxRows } from './forward.js';
import { type Predictions, predictDataset, profileItems, type Standardizer } from './scan.js';

export const STRATEGIES = ['salient', 'random', 'least-salient'] as const;
export type Strategy = (typeof STRATEGIES)[number];

/**
 * The order in which each strategy turns filters off (the first k are off at step k):
 * `salient` = largest z first (or largest |z| with rankBy abs-z); `least-salient` = the same
 * ranking read from the other end (most negative z, or smallest |z|); `random` = a seeded
 * random order. Ties go to the lower index.
 */
export function pruneOrders(
  z: ArrayLike<number>,
  k: number,
  rankBy: RankBy,
  random: () => number[],
): Record<Strategy, number[]> {
  const key = rankBy === 'abs-z' ? (i: number) => Math.abs(z[i]) : (i: number) => z[i];
  const idx = Array.from({ length: z.length }, (_, i) => i);
  const desc = [...idx].sort((a, b) => key(b) - key(a) || a - b);
  const asc = [...idx].sort((a, b) => key(a) - key(b) || a - b);
  return { salient: desc.slice(0, k), random: random().slice(0, k), 'least-salient': asc.slice(0, k) };
}

/** A seeded random filter order for one image: the same for a given seed and dataset index. */
export function randomOrder(seed: number, index: number, filters: number, k: number): number[] {
  return seededRandom((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0).sample(filters, k);
}

export interface PruneRow {
  /** Dataset index. */
  image: number;
  id: string;
  label: number;
  /** The prediction with every filter on. */
  predicted: number;
  strategy: Strategy;
  /** Filters turned off. */
  k: number;
  /** The filter turned off at this step, "layer:index", and its z. */
  filter: string;
  z: number;
  newPredicted: number;
  corrected: boolean;
  /** Probability of the true class and of the original prediction after the change... */
  pTrue: number;
  pPredicted: number;
  /** ...and their change from the unpruned model. */
  dTrue: number;
  dPredicted: number;
}

const COLUMNS = [
  'image',
  'id',
  'label',
  'predicted',
  'strategy',
  'k',
  'filter',
  'z',
  'new_predicted',
  'corrected',
  'p_true',
  'p_predicted',
  'd_p_true',
  'd_p_predicted',
] as const;

export const PRUNE_CSV_HEADER = COLUMNS.join(',');

const rowLine = (r: PruneRow) =>
  csvLine([
    r.image,
    r.id,
    r.label,
    r.predicted,
    r.strategy,
    r.k,
    r.filter,
    r.z,
    r.newPredicted,
    r.corrected,
    r.pTrue,
    r.pPredicted,
    r.dTrue,
    r.dPredicted,
  ]);

/** Rows of a prune CSV; incomplete or malformed lines are dropped. */
export function parsePruneCsv(text: string): PruneRow[] {
  const { rows, complete } = parseCsv(text);
  if (!rows.length || rows[0].join(',') !== PRUNE_CSV_HEADER) return [];
  const out: PruneRow[] = [];
  for (let i = 1; i < rows.length; i++) {
    const f = rows[i];
    if (!complete[i] || f.length !== COLUMNS.length) continue;
    const n = (j: number) => Number(f[j]);
    const strategy = f[4] as Strategy;
    if (
      !STRATEGIES.includes(strategy) ||
      [0, 2, 3, 5, 7, 8, 10, 11, 12, 13].some((j) => !Number.isFinite(n(j)))
    )
      continue;
    out.push({
      image: n(0),
      id: f[1],
      label: n(2),
      predicted: n(3),
      strategy,
      k: n(5),
      filter: f[6],
      z: n(7),
      newPredicted: n(8),
      corrected: f[9] === '1',
      pTrue: n(10),
      pPredicted: n(11),
      dTrue: n(12),
      dPredicted: n(13),
    });
  }
  return out;
}

export interface PruneImage {
  index: number;
  id: string;
  label: number;
  predicted: number;
  /** The image, CHW. */
  x: Float32Array;
  z: ArrayLike<number>;
  /** Class probabilities with every filter on. */
  probs: ArrayLike<number>;
}

/**
 * All (image, strategy, k) variants of some images through the masked forward pass: one
 * row of input and mask each, `logits` running them in batches.
 */
export async function pruneVariants(
  model: Model,
  images: readonly PruneImage[],
  o: { k: number; rankBy: RankBy; seed: number },
  logits: (x: Float32Array, mask: Float32Array) => Promise<Float32Array>,
): Promise<PruneRow[]> {
  const f = model.filterCount;
  const per = model.arch.inputShape.reduce((a, b) => a * b, 1);
  const classes = model.numClasses;
  const perImage = STRATEGIES.length * o.k;
  const n = images.length * perImage;
  const x = new Float32Array(n * per);
  const mask = new Float32Array(n * f).fill(1);
  const meta: { img: PruneImage; strategy: Strategy; k: number; filter: number }[] = [];
  for (const img of images) {
    const orders = pruneOrders(img.z, o.k, o.rankBy, () => randomOrder(o.seed, img.index, f, o.k));
    for (const strategy of STRATEGIES) {
      for (let k = 1; k <= o.k; k++) {
        const row = meta.length;
        x.set(img.x, row * per);
        for (const j of orders[strategy].slice(0, k)) mask[row * f + j] = 0;
        meta.push({ img, strategy, k, filter: orders[strategy][k - 1] });
      }
    }
  }
  const probs = softmaxRows(await logits(x, mask), classes);
  return meta.map(({ img, strategy, k, filter }, row) => {
    const newPredicted = argmaxRow(probs, classes, row);
    const pTrue = probs[row * classes + img.label];
    const pPredicted = probs[row * classes + img.predicted];
    const { layer, filter: within } = locate(filter, model.layers);
    return {
      image: img.index,
      id: img.id,
      label: img.label,
      predicted: img.predicted,
      strategy,
      k,
      filter: `${layer}:${within}`,
      z: img.z[filter],
      newPredicted,
      corrected: newPredicted === img.label,
      pTrue,
      pPredicted,
      dTrue: pTrue - img.probs[img.label],
      dPredicted: pPredicted - img.probs[img.predicted],
    };
  });
}

export interface StrategySummary {
  strategy: Strategy;
  /** Index k − 1: images corrected with k filters off... */
  corrected: number[];
  /** ...as a fraction of the misclassified images... */
  fraction: number[];
  /** ...and the mean change in the true class's and the original prediction's probability. */
  meanDTrue: number[];
  meanDPredicted: number[];
}

export interface PruneSummary {
  /** Misclassified images in the study. */
  images: number;
  k: number;
  strategies: StrategySummary[];
}

export function summarizePrune(rows: readonly PruneRow[], k: number): PruneSummary {
  const images = new Set(rows.map((r) => r.image)).size;
  const strategies = STRATEGIES.map((strategy) => {
    const s: StrategySummary = { strategy, corrected: [], fraction: [], meanDTrue: [], meanDPredicted: [] };
    for (let kk = 1; kk <= k; kk++) {
      const at = rows.filter((r) => r.strategy === strategy && r.k === kk);
      const mean = (f: (r: PruneRow) => number) =>
        at.length ? at.reduce((a, r) => a + f(r), 0) / at.length : 0;
      const c = at.filter((r) => r.corrected).length;
      s.corrected.push(c);
      s.fraction.push(images ? c / images : 0);
      s.meanDTrue.push(mean((r) => r.dTrue));
      s.meanDPredicted.push(mean((r) => r.dPredicted));
    }
    return s;
  });
  return { images, k, strategies };
}

/** The summary as a markdown table: % corrected (count) per k and strategy, and mean Δp(true). */
export function pruneMarkdown(s: PruneSummary): string {
  const head = `| k | ${s.strategies.map((t) => `${t.strategy}: corrected`).join(' | ')} | ${s.strategies.map((t) => `${t.strategy}: mean Δp(true)`).join(' | ')} |`;
  const rule = `|---:|${s.strategies.map(() => '---:|').join('')}${s.strategies.map(() => '---:|').join('')}`;
  const lines = [head, rule];
  for (let i = 0; i < s.k; i++) {
    const pct = s.strategies.map((t) => `${(100 * t.fraction[i]).toFixed(1)}% (${t.corrected[i]})`);
    const dp = s.strategies.map((t) => (t.meanDTrue[i] >= 0 ? '+' : '') + t.meanDTrue[i].toFixed(4));
    lines.push(`| ${i + 1} | ${pct.join(' | ')} | ${dp.join(' | ')} |`);
  }
  return `${lines.join('\n')}\n`;
}

export interface PruneOptions {
  k: number;
  rankBy: RankBy;
  seed: number;
  aggregation: Aggregation;
  stats?: Standardizer;
  /** Images per saliency run; the masked forward runs 4 × batch rows at a time. */
  batch: number;
  /** Folder for prune.csv (the per-image results, appended as images finish) and run.json. */
  out: string;
  /** Keep the complete images of an earlier run with the same run.json, and do the rest. */
  resume?: boolean;
  /** Identity of the run (model, weights, data, options): written to run.json, checked on resume. */
  identity: Record<string, string | number | boolean | null>;
  onProgress?: (phase: 'forward' | 'prune', done: number, total: number) => void;
  onSkip?: (id: string, reason: string) => void;
}

export interface PruneResult {
  rows: PruneRow[];
  summary: PruneSummary;
  predictions: Predictions;
  misclassified: number;
  /** Images taken over from an earlier run (--resume). */
  resumed: number;
  csv: string;
}

export async function runPrune(engine: SaliencyEngine, data: Dataset, o: PruneOptions): Promise<PruneResult> {
  const model = engine.model;
  const f = model.filterCount;
  if (!Number.isInteger(o.k) || o.k < 1 || o.k > f)
    throw new PssError(`--k must be between 1 and ${f} (the filters of ${model.name}), got ${o.k}`);
  const csv = join(o.out, 'prune.csv');
  const metaPath = join(o.out, 'run.json');
  const forwardRows = 4 * o.batch;
  const plain = forwardRunner(engine, forwardRows);
  const masked = forwardRunner(engine, forwardRows, { filterMask: true });
  // The forward pass over the whole dataset comes first: find out now if the results cannot be written.
  await checkWritable(csv);
  await checkWritable(metaPath);

  const predictions = await predictDataset(model, data, (x) => plain.logits(x), {
    batch: forwardRows,
    onProgress: (d, t) => o.onProgress?.('forward', d, t),
    onSkip: o.onSkip,
  });
  const probs = softmaxRows(predictions.logits, model.numClasses);
  const wrong = predictions.indices
    .map((index, i) => ({ index, i }))
    .filter(({ i }) => predictions.predicted[i] !== predictions.labels[i]);

  // Resume: keep the images whose rows are complete.
  const perImage = STRATEGIES.length * o.k;
  let kept: PruneRow[] = [];
  const identity = JSON.stringify(o.identity, null, 1);
  if (o.resume && existsSync(metaPath) && existsSync(csv)) {
    const old = await readTextChecked(metaPath, 'prune run file');
    if (old !== identity) {
      let was: Record<string, unknown>;
      try {
        was = JSON.parse(old) as Record<string, unknown>;
      } catch {
        throw new PssError(`${metaPath} is damaged (not JSON); drop --resume or use another --out`);
      }
      const diff = Object.keys({ ...was, ...o.identity }).find(
        (key) => JSON.stringify(was[key]) !== JSON.stringify(o.identity[key]),
      );
      throw new PssError(
        `${metaPath} is from a run with ${diff} = ${JSON.stringify(was[diff!])}, not ${JSON.stringify(o.identity[diff!])}; drop --resume or use another --out`,
      );
    }
    const wrongSet = new Set(wrong.map((w) => w.index));
    const byImage = new Map<number, PruneRow[]>();
    for (const r of parsePruneCsv(await readTextChecked(csv, 'prune results file'))) {
      if (!wrongSet.has(r.image)) continue;
      const list = byImage.get(r.image) ?? [];
      list.push(r);
      byImage.set(r.image, list);
    }
    for (const list of byImage.values()) {
      const seen = new Set(list.map((r) => `${r.strategy}:${r.k}`));
      if (seen.size === perImage && list.length === perImage) kept.push(...list);
    }
    kept = sortRows(kept);
  }
  await writeFileAtomic(metaPath, identity);
  await writeFileAtomic(csv, [PRUNE_CSV_HEADER, ...kept.map(rowLine)].join('\n') + '\n');
  const done = new Set(kept.map((r) => r.image));
  const todo = wrong.filter((w) => !done.has(w.index));
  const rows = [...kept];
  o.onProgress?.('prune', done.size, wrong.length);

  for (let from = 0; from < todo.length; from += o.batch) {
    const chunk = todo.slice(from, from + o.batch);
    const profiles = await profileItems(
      engine,
      data,
      chunk.map((c) => c.index),
      { batch: o.batch, aggregation: o.aggregation, stats: o.stats, onSkip: o.onSkip, keepImages: true },
    );
    const images: PruneImage[] = profiles.map((p) => {
      const i = chunk.find((c) => c.index === p.index)!.i;
      return {
        index: p.index,
        id: p.id,
        label: p.label,
        predicted: predictions.predicted[i],
        x: p.x!,
        z: p.z,
        probs: probs.subarray(i * model.numClasses, (i + 1) * model.numClasses),
      };
    });
    const chunkRows = await pruneVariants(model, images, o, (x, mask) => masked.logits(x, { mask }));
    rows.push(...chunkRows);
    const lines = chunkRows.map(rowLine).join('\n') + (chunkRows.length ? '\n' : '');
    await fsStep('write', csv, () => appendFile(csv, lines));
    o.onProgress?.('prune', done.size + Math.min(from + o.batch, todo.length), wrong.length);
  }
  return {
    rows,
    summary: summarizePrune(rows, o.k),
    predictions,
    misclassified: wrong.length,
    resumed: done.size,
    csv,
  };
}

const ORDER = new Map(STRATEGIES.map((s, i) => [s, i]));
const sortRows = (rows: PruneRow[]) =>
  rows.sort((a, b) => a.image - b.image || ORDER.get(a.strategy)! - ORDER.get(b.strategy)! || a.k - b.k);
