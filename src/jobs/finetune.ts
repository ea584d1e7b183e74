/**
 * Fine-tuning only chosen units (paper §4): plain SGD on one image's cross-entropy, where
 * only the weights of the chosen units change — a filter's W[c, :, :, :], a neuron's
 * W[r, :] (W[:, r] of an [in, out] weight), a head unit's rowsPerUnit rows (unitElements). The
 * layers holding them are graph inputs (not constants), so one ONNX Runtime session serves
 * every step, and the gradient is pss's own weight gradient from the same graph.
 */
import { grad } from '../autodiff/grad.js';
import { PssError } from '../errors.js';
import { Model } from '../models/model.js';
import { unitElements } from '../models/units.js';
import * as op from '../ops/index.js';
import type { ImageBatch, SaliencyEngine } from '../saliency/engine.js';
import { buildForward, crossEntropy, FEED, oneHot } from '../saliency/graph.js';
import { layerIndexOf, locate, type Unit, unitName } from '../saliency/units.js';
import { argmaxRow, type ForwardRunner, forwardRunner, softmaxRows } from './forward.js';

export interface StepRecord {
  /** Before step `step` (0 = the original weights; the last record is after the last step). */
  step: number;
  loss: number;
  predicted: number;
  pTrue: number;
}

export interface FinetuneResult {
  /** The weight tensors that changed (whole layers), by parameter name. */
  params: Map<string, Float32Array>;
  history: StepRecord[];
  filters: Unit[];
}

/** The weight names holding the given units, in model order. */
export function layersOf(model: Model, filters: readonly number[]): string[] {
  const table = model.layers;
  const held = new Set(filters.map((f) => layerIndexOf(f, table)));
  return table.filter((_, i) => held.has(i)).map((l) => l.param);
}

export async function finetuneFilters(
  engine: SaliencyEngine,
  image: ImageBatch,
  label: number,
  filters: readonly number[],
  o: {
    steps: number;
    lr: number /** Stop as soon as the image is classified correctly. */;
    untilCorrect?: boolean;
  },
): Promise<FinetuneResult> {
  const model = engine.model;
  if (image.shape[0] !== 1) throw new PssError('fine-tuning takes one image');
  for (const f of filters)
    if (!Number.isInteger(f) || f < 0 || f >= model.unitCount)
      throw new PssError(`${unitName(model.layers)} index ${f} is out of range 0..${model.unitCount - 1}`);
  if (!(Number.isInteger(o.steps) && o.steps >= 0))
    throw new PssError(`steps must be an integer >= 0, got ${o.steps}`);
  if (!(o.lr > 0 && Number.isFinite(o.lr))) throw new PssError(`learning rate must be > 0, got ${o.lr}`);
  const names = layersOf(model, filters);
  const params = new Map(names.map((n) => [n, Float32Array.from(model.weights.get(n)!)]));
  const k = model.numClasses;
  const runner = await engine.session(
    `finetune:${names.join(',')}:${image.shape.join('x')}`,
    image.shape,
    () => {
      const g = buildForward(model, image.shape, { paramInputs: names });
      const onehot = g.graph.input(FEED.onehot, [1, k]);
      const loss = crossEntropy(g.logits, onehot);
      const grads = grad(
        op.reduceSum(loss, [0]),
        names.map((n) => g.net.value(n)),
      );
      return [
        { name: 'logits', value: g.logits },
        { name: 'loss', value: loss },
        ...grads.map((v, i) => ({ name: `grad${i}`, value: v })),
      ];
    },
  );
  const onehot = oneHot([label], k);
  // Per layer: the weight elements of the units that move.
  const table = model.layers;
  const located = filters.map((f) => locate(f, table));
  const moving = names.map((n) => {
    const layer = model.layers.find((l) => l.param === n)!;
    return located.filter((u) => u.layer === layer.name).map((u) => unitElements(layer, u.filter));
  });
  const history: StepRecord[] = [];
  for (let step = 0; ; step++) {
    const out = await runner.run({
      [FEED.input]: image.data,
      [FEED.onehot]: onehot,
      ...Object.fromEntries(params),
    });
    const p = softmaxRows(out.logits, k);
    history.push({ step, loss: out.loss[0], predicted: argmaxRow(out.logits, k, 0), pTrue: p[label] });
    if (step === o.steps || (o.untilCorrect && history[step].predicted === label)) break;
    names.forEach((n, i) => {
      const w = params.get(n)!;
      const g = out[`grad${i}`];
      for (const unit of moving[i]) for (const j of unit) w[j] -= o.lr * g[j];
    });
  }
  return {
    params,
    history,
    filters: located,
  };
}

/** A forward runner whose changed layers are fed as inputs (for before/after evaluations). */
export function tunedRunner(engine: SaliencyEngine, names: readonly string[], batch: number): ForwardRunner {
  return forwardRunner(engine, batch, { paramInputs: names });
}

/** The model with some parameters replaced (e.g. to save the fine-tuned weights). */
export function withParams(model: Model, params: ReadonlyMap<string, Float32Array>, source: string): Model {
  const weights = new Map(model.weights);
  for (const [n, v] of params) weights.set(n, v);
  return new Model(model.arch, model.numClasses, weights, source, model.info, model.units);
}
