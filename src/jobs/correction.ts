/**
 * The correction protocol of Wang & Sato (arXiv 2310.17951, §5): for each misclassified image,
 * one SGD step on the cross-entropy of its true label, applied to the weights of its top-k
 * units only (W[c, :, :, :] of each chosen filter), for k = 1..K cumulatively — the step is
 * always taken from the original weights, so step k adds unit k's slice to step k − 1's —
 * recording how the confidence in the wrong (predicted) class and in the true class change,
 * and whether the prediction flips. The units come from four orders: z (largest first), POT
 * (smallest P first), random (seeded per image), and z within the last stage only.
 */
import { grad } from '../autodiff/grad.js';
import type { Dataset } from '../data/dataset.js';
import { PssError } from '../errors.js';
import { unitElements } from '../models/units.js';
import * as op from '../ops/index.js';
import type { SaliencyEngine } from '../saliency/engine.js';
import { buildForward, crossEntropy, FEED, oneHot } from '../saliency/graph.js';
import { type PotModel, potRanking } from '../saliency/pot.js';
import { topK } from '../saliency/rank.js';
import { type Reference, standardize } from '../saliency/standardize.js';
import { type LayerSpan, layerSpans, unitsName } from '../saliency/units.js';
import { seededRandom } from '../util/random.js';
import { argmaxRow, forwardRunner, softmaxRows } from './forward.js';
import { loadItems, predictDataset } from './scan.js';

export const CORRECTION_STRATEGIES = ['z', 'pot', 'random', 'last-stage'] as const;
export type CorrectionStrategy = (typeof CORRECTION_STRATEGIES)[number];

export const CORRECTION_DEFAULTS = { k: 25, lr: 1e-3, seed: 0 } as const;

export interface CorrectionOptions {
  /** Statistics with a fitted POT model (both z and POT orders need them). */
  reference: Pick<Reference, 'mean' | 'std'> & { pot: PotModel };
  k: number;
  lr: number;
  seed: number;
  batch: number;
  /** Added to dataset indices in the rows: where `data` begins in the dataset the user named. */
  offset?: number;
  onProgress?: (phase: string, done: number, total: number) => void;
  onSkip?: (id: string, reason: string) => void;
}

/** One image × strategy × k. */
export interface CorrectionRow {
  index: number;
  label: number;
  /** The original (wrong) prediction. */
  wrong: number;
  strategy: CorrectionStrategy;
  k: number;
  /** The unit added at this k. */
  unit: number;
  predicted: number;
  /** Change in the probability of the wrong class and of the true class. */
  dWrong: number;
  dTrue: number;
}

export interface CorrectionRun {
  images: number;
  misclassified: number;
  rows: CorrectionRow[];
  /** Per misclassified image, its top-k units by z and by POT (for the depth histogram). */
  top: { z: number[]; pot: number[] }[];
  layers: LayerSpan[];
  /** The layers "last stage only" draws from. */
  lastStage: string[];
  skipped: { id: string; reason: string }[];
}

/**
 * The last stage: the layers that share the last conv layer's name up to the first part not
 * common to every layer — ResNet's layer4.*, DenseNet's features.denseblock4.*; a model whose
 * last conv has a plain name (conv5) has that layer alone.
 */
export function lastStage(layers: readonly LayerSpan[]): LayerSpan[] {
  const parts = layers[layers.length - 1].name.split('.');
  for (let d = 1; d <= parts.length; d++) {
    const prefix = parts.slice(0, d).join('.');
    const within = (name: string) => name === prefix || name.startsWith(`${prefix}.`);
    const chosen = layers.filter((l) => within(l.name));
    if (chosen.length < layers.length) return chosen;
  }
  return [layers[layers.length - 1]];
}

export async function runCorrection(
  engine: SaliencyEngine,
  data: Dataset,
  o: CorrectionOptions,
): Promise<CorrectionRun> {
  const model = engine.model;
  const table = model.layers;
  const f = model.unitCount;
  const nc = model.numClasses;
  if (!(Number.isInteger(o.k) && o.k >= 1 && o.k <= f))
    throw new PssError(`--k must be between 1 and ${f}, got ${o.k}`);
  if (!(o.lr > 0 && Number.isFinite(o.lr))) throw new PssError(`--lr must be a number > 0, got ${o.lr}`);
  const names = table.map((l) => l.param);
  const stage = lastStage(table);
  const stageUnits = stage.flatMap((l) => Array.from({ length: l.filters }, (_, i) => l.offset + i));
  if (stageUnits.length < o.k)
    throw new PssError(
      `the last stage (${stage.map((l) => l.name).join(', ')}) has ${stageUnits.length} ${unitsName(stage)}, fewer than --k ${o.k}`,
    );

  const plain = forwardRunner(engine, 4 * o.batch);
  const pred = await predictDataset(model, data, (x) => plain.logits(x), {
    batch: 4 * o.batch,
    onProgress: (d, t) => o.onProgress?.('forward', d, t),
    onSkip: o.onSkip,
  });
  const wrong = pred.indices.filter((_, i) => pred.predicted[i] !== pred.labels[i]);

  const shape = [1, ...model.arch.inputShape] as [number, number, number, number];
  const gradRunner = await engine.session(`correction:grad:${shape.join('x')}`, shape, () => {
    const g = buildForward(model, shape, { paramInputs: names });
    const loss = crossEntropy(g.logits, g.graph.input(FEED.onehot, [1, nc]));
    const grads = grad(
      op.reduceSum(loss, [0]),
      names.map((n) => g.net.value(n)),
    );
    return [{ name: 'logits', value: g.logits }, ...grads.map((v, i) => ({ name: `grad${i}`, value: v }))];
  });
  const tuned = forwardRunner(engine, 1, { paramInputs: names });
  const original = new Map(names.map((n) => [n, model.weights.get(n)!]));
  const layerOf = new Int32Array(f);
  for (const [li, l] of table.entries()) layerOf.fill(li, l.offset, l.offset + l.filters);

  const rows: CorrectionRow[] = [];
  const top: { z: number[]; pot: number[] }[] = [];
  const per = model.arch.inputShape.reduce((a, b) => a * b, 1);
  for (const [done, index] of wrong.entries()) {
    const batch = await loadItems(data, [index], per);
    if (!batch.items.length) continue;
    const { label } = batch.items[0];
    const x = batch.x;
    const [r] = await engine.compute({ data: x, shape }, [label], 'filter', 'true');
    const z = standardize(r.saliency, o.reference);
    const g = await gradRunner.run({
      [FEED.input]: x,
      [FEED.onehot]: oneHot([label], nc),
      ...Object.fromEntries(original),
    });
    const p0 = softmaxRows(g.logits, nc);
    const was = argmaxRow(g.logits, nc, 0);
    const rand = seededRandom(o.seed * 1_000_003 + index);
    const orders: Record<CorrectionStrategy, number[]> = {
      z: topK(z, o.k),
      pot: potRanking(r.saliency, o.reference.pot, o.k),
      random: rand.sample(f, o.k),
      'last-stage': topK(
        Float64Array.from(stageUnits, (u) => z[u]),
        o.k,
      ).map((i) => stageUnits[i]),
    };
    top.push({ z: orders.z, pot: orders.pot });
    for (const strategy of CORRECTION_STRATEGIES) {
      const params = new Map(names.map((n) => [n, Float32Array.from(original.get(n)!)]));
      for (let k = 1; k <= o.k; k++) {
        const unit = orders[strategy][k - 1];
        const li = layerOf[unit];
        const c = unit - table[li].offset;
        const w = params.get(names[li])!;
        const gl = g[`grad${li}`];
        // one unit's elements of its weight: its rows (a head unit's rowsPerUnit), or its column
        for (const j of unitElements(table[li], c)) w[j] -= o.lr * gl[j];
        const logits = await tuned.logits(x, { params });
        const p = softmaxRows(logits, nc);
        rows.push({
          index: index + (o.offset ?? 0),
          label,
          wrong: was,
          strategy,
          k,
          unit,
          predicted: argmaxRow(logits, nc, 0),
          dWrong: p[was] - p0[was],
          dTrue: p[label] - p0[label],
        });
      }
    }
    o.onProgress?.('correct', done + 1, wrong.length);
  }
  return {
    images: pred.indices.length,
    misclassified: top.length,
    rows,
    top,
    layers: layerSpans(table),
    lastStage: stage.map((l) => l.name),
    skipped: pred.skipped.map(({ id, reason }) => ({ id, reason })),
  };
}
