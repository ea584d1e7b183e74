/**
 * The pruning experiment (DESIGN §1 step 9; Levin et al. §4): for every misclassified image,
 * turn off its k most salient filters, k = 1..K cumulatively, and see whether the prediction
 * becomes correct — against two controls, k random filters and the k least salient ones.
 * Turning a filter off is the one definition (saliency/units.ts): its whole output is zero.
 * Each (image, strategy, k) variant is one row of a batched forward pass with its own units
 * off, so the model is never copied or rebuilt.
 *
 * The strategies are in prune-orders.ts, the results file and resuming in prune-csv.ts, the
 * summary in prune-summary.ts.
 */
import { appendFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Dataset, shardRange } from '../data/dataset.js';
import { PssError } from '../errors.js';
import { checkWritable, fsStep, writeFileAtomic } from '../io/files.js';
import type { Model } from '../models/model.js';
import type { Aggregation } from '../saliency/aggregation.js';
import type { SaliencyEngine } from '../saliency/engine.js';
import type { RankBy } from '../saliency/rank.js';
import type { Target } from '../saliency/target.js';
import { locate, unitsName } from '../saliency/units.js';
import { argmaxRow, forwardRunner, softmaxRows, unitsOffRunner } from './forward.js';
import { PRUNE_CSV_HEADER, type PruneRow, pruneRowLine, resumableRows } from './prune-csv.js';
import { pruneOrders, randomOrder, STRATEGIES, type Strategy } from './prune-orders.js';
import { PRUNE_FILES, type PruneSummary, summarizePrune } from './prune-summary.js';
import { type Predictions, predictDataset, profileItems, type Standardizer } from './scan.js';

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
 * All (image, strategy, k) variants of some images: one row of input each, with its filters
 * off, `logits` running them (unitsOffRunner's logits, in batches).
 */
export async function pruneVariants(
  model: Model,
  images: readonly PruneImage[],
  o: { k: number; rankBy: RankBy; seed: number },
  logits: (x: Float32Array, off: readonly (readonly number[])[]) => Promise<Float32Array>,
): Promise<PruneRow[]> {
  const per = model.arch.inputShape.reduce((a, b) => a * b, 1);
  const classes = model.numClasses;
  const table = model.layers;
  const n = images.length * STRATEGIES.length * o.k;
  const x = new Float32Array(n * per);
  const off: number[][] = [];
  const meta: { img: PruneImage; strategy: Strategy; k: number; filter: number }[] = [];
  for (const img of images) {
    const orders = pruneOrders(img.z, o.k, o.rankBy, () =>
      randomOrder(o.seed, img.index, model.unitCount, o.k),
    );
    for (const strategy of STRATEGIES) {
      for (let k = 1; k <= o.k; k++) {
        x.set(img.x, meta.length * per);
        off.push(orders[strategy].slice(0, k));
        meta.push({ img, strategy, k, filter: orders[strategy][k - 1] });
      }
    }
  }
  const probs = softmaxRows(await logits(x, off), classes);
  return meta.map(({ img, strategy, k, filter }, row) => {
    const newPredicted = argmaxRow(probs, classes, row);
    const pTrue = probs[row * classes + img.label];
    const pPredicted = probs[row * classes + img.predicted];
    const unit = locate(filter, table);
    return {
      image: img.index,
      id: img.id,
      label: img.label,
      predicted: img.predicted,
      strategy,
      k,
      filter: `${unit.layer}:${unit.filter}`,
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

export interface PruneOptions {
  k: number;
  rankBy: RankBy;
  seed: number;
  aggregation: Aggregation;
  stats?: Standardizer;
  /** Whose loss the saliency ranking differentiates (default the true label). */
  target?: Target;
  /** Images per saliency run; the forward passes with filters off run 4 × batch rows at a time. */
  batch: number;
  /** Folder for prune.csv (the per-image results, appended as images finish) and run.json. */
  out: string;
  /** Only the misclassified images of shard i of n (contiguous ranges, as pss stats shards). */
  shard?: readonly [number, number];
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
  /** The dataset items [begin, end) looked at: all of them, or the shard's. */
  items: [number, number];
}

export async function runPrune(engine: SaliencyEngine, data: Dataset, o: PruneOptions): Promise<PruneResult> {
  const model = engine.model;
  const f = model.unitCount;
  if (!Number.isInteger(o.k) || o.k < 1 || o.k > f)
    throw new PssError(
      `--k must be between 1 and ${f} (the ${unitsName(model.layers)} of ${model.name}), got ${o.k}`,
    );
  const csv = join(o.out, PRUNE_FILES.csv);
  const metaPath = join(o.out, PRUNE_FILES.run);
  const forwardRows = 4 * o.batch;
  const plain = forwardRunner(engine, forwardRows);
  const unitsOff = unitsOffRunner(engine, forwardRows);
  // The forward pass over the whole dataset comes first: find out now if the results cannot be written.
  await checkWritable(csv);
  await checkWritable(metaPath);

  const [begin, end] = shardRange(data.length, o.shard);
  const predictions = await predictDataset(model, itemsOf(data, begin, end), (x) => plain.logits(x), {
    batch: forwardRows,
    onProgress: (d, t) => o.onProgress?.('forward', d, t),
    onSkip: o.onSkip,
  });
  // Dataset indices, not the shard's: the random control is seeded by them, and shards merge by them.
  predictions.indices = predictions.indices.map((i) => begin + i);
  for (const s of predictions.skipped) s.index += begin;
  const probs = softmaxRows(predictions.logits, model.numClasses);
  const wrong = predictions.indices
    .map((index, i) => ({ index, i }))
    .filter(({ i }) => predictions.predicted[i] !== predictions.labels[i]);

  // Resume: keep the images whose rows are complete.
  const perImage = STRATEGIES.length * o.k;
  const kept = o.resume
    ? await resumableRows(metaPath, csv, o.identity, new Set(wrong.map((w) => w.index)), perImage)
    : [];
  // The summary describes prune.csv, about to be rewritten: it comes back when the run is done.
  const summary = join(o.out, PRUNE_FILES.summary);
  await fsStep('remove', summary, () => rm(summary, { force: true }));
  await writeFileAtomic(metaPath, JSON.stringify(o.identity, null, 1));
  await writeFileAtomic(csv, [PRUNE_CSV_HEADER, ...kept.map(pruneRowLine)].join('\n') + '\n');
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
      {
        batch: o.batch,
        aggregation: o.aggregation,
        stats: o.stats,
        target: o.target,
        onSkip: o.onSkip,
        keepImages: true,
      },
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
    const chunkRows = await pruneVariants(model, images, o, (x, off) => unitsOff.logits(x, off));
    rows.push(...chunkRows);
    const lines = chunkRows.map(pruneRowLine).join('\n') + (chunkRows.length ? '\n' : '');
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
    items: [begin, end],
  };
}

/** Items [begin, end) of a dataset as a dataset of their own (the whole one when they are all). */
function itemsOf(data: Dataset, begin: number, end: number): Dataset {
  if (begin === 0 && end === data.length) return data;
  return { ...data, length: end - begin, item: (i) => data.item(begin + i) };
}
