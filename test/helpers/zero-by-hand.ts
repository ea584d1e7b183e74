/**
 * The reference for turning units off: a copy of the model whose weights *and* biases of those
 * units (a filter's output channel, a neuron's row — or column of an [in, out] weight — a
 * head's rowsPerUnit rows: models/units.ts unitElements) are zero — what the library's one
 * definition (src/saliency/units.ts, a mask on each unit layer's output) must equal. With
 * `keepBias`, the weights alone (what the explorer used to do).
 */
import { forwardRunner } from '../../src/jobs/forward.js';
import { Model } from '../../src/models/model.js';
import { unitElements } from '../../src/models/units.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';

/** Logits of `model` on `x` ([n, ...inputShape]) with its weights as constants, one image per run. */
export async function plainLogits(model: Model, x: Float32Array): Promise<Float32Array> {
  await using engine = new SaliencyEngine(model);
  return await forwardRunner(engine, 1).logits(x);
}

/** Logits of `model` on one image `x` with units `off` turned off through the unit mask. */
export async function maskedLogits(
  model: Model,
  x: Float32Array,
  off: readonly number[],
): Promise<Float32Array> {
  const mask = new Float32Array(model.unitCount).fill(1);
  for (const f of off) mask[f] = 0;
  await using engine = new SaliencyEngine(model);
  return await forwardRunner(engine, 1, { unitMask: true }).logits(x, { mask });
}

export function zeroUnits(model: Model, units: readonly number[], o: { keepBias?: boolean } = {}): Model {
  const weights = new Map(model.weights);
  for (const f of units) {
    const layer = model.layers.find((l) => f >= l.offset && f < l.offset + l.filters);
    if (!layer) throw new RangeError(`unit index ${f} is out of range 0..${model.unitCount - 1}`);
    const k = f - layer.offset;
    const w = Float32Array.from(weights.get(layer.param)!);
    for (const i of unitElements(layer, k)) w[i] = 0;
    weights.set(layer.param, w);
    const bias = layer.bias && weights.get(layer.bias);
    if (!o.keepBias && bias) {
      const b = Float32Array.from(bias);
      b.fill(0, k * layer.rowsPerUnit, (k + 1) * layer.rowsPerUnit);
      weights.set(layer.bias!, b);
    }
  }
  return new Model(
    model.arch,
    model.numClasses,
    weights,
    `${model.source} (units zeroed)`,
    model.info,
    model.units,
  );
}
