/**
 * The reference for turning units off: a copy of the model whose weights *and* biases of those
 * units (a filter's output channel, a neuron's row — or column of an [in, out] weight — a
 * head's rowsPerUnit rows: models/units.ts unitElements) are zero — what the library's one
 * definition (src/saliency/units.ts, a mask on each unit layer's output) must equal. With
 * `keepBias`, the weights alone (what the explorer used to do).
 */
import { Model } from '../../src/models/model.js';
import { unitElements } from '../../src/models/units.js';

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
