/**
 * The reference for turning units off: a copy of the model whose weight rows *and* biases of
 * those units (a filter's output channel, a neuron's row, a head's rowsPerUnit rows) are zero —
 * what the library's one definition (src/saliency/units.ts, a mask on each unit layer's output)
 * must equal. With `keepBias`, the weights alone (what the explorer used to do).
 */
import { Model } from '../../src/models/model.js';

export function zeroUnits(model: Model, units: readonly number[], o: { keepBias?: boolean } = {}): Model {
  const weights = new Map(model.weights);
  for (const f of units) {
    const layer = model.layers.find((l) => f >= l.offset && f < l.offset + l.filters);
    if (!layer) throw new RangeError(`unit index ${f} is out of range 0..${model.unitCount - 1}`);
    const rows = [(f - layer.offset) * layer.rowsPerUnit, (f - layer.offset + 1) * layer.rowsPerUnit];
    const size = layer.shape.slice(1).reduce((a, b) => a * b, 1);
    const w = Float32Array.from(weights.get(layer.param)!);
    w.fill(0, rows[0] * size, rows[1] * size);
    weights.set(layer.param, w);
    // conv1.weight → conv1.bias; an attention's in_proj_weight → in_proj_bias
    const biasName = /weight$/.test(layer.param)
      ? layer.param.replace(/weight$/, 'bias')
      : `${layer.name}.bias`;
    const bias = weights.get(biasName);
    if (!o.keepBias && bias && model.params.some((p) => p.name === biasName)) {
      const b = Float32Array.from(bias);
      b.fill(0, rows[0], rows[1]);
      weights.set(biasName, b);
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
