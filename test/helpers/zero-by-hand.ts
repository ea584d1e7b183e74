/**
 * The reference for turning filters off: a copy of the model whose weights *and* biases of those
 * filters are zero — what the library's one definition (src/saliency/units.ts, a mask on each
 * conv's output) must equal. With `keepBias`, the weights alone (what the explorer used to do).
 */
import { Model } from '../../src/models/model.js';

export function zeroFilters(model: Model, filters: readonly number[], o: { keepBias?: boolean } = {}): Model {
  const weights = new Map(model.weights);
  for (const f of filters) {
    const layer = model.layers.find((l) => f >= l.offset && f < l.offset + l.filters);
    if (!layer) throw new RangeError(`filter index ${f} is out of range 0..${model.filterCount - 1}`);
    const c = f - layer.offset;
    const size = layer.shape.slice(1).reduce((a, b) => a * b, 1);
    const w = Float32Array.from(weights.get(layer.param)!);
    w.fill(0, c * size, (c + 1) * size);
    weights.set(layer.param, w);
    const biasName = `${layer.name}.bias`;
    const bias = weights.get(biasName);
    if (!o.keepBias && bias && model.params.some((p) => p.name === biasName)) {
      const b = Float32Array.from(bias);
      b[c] = 0;
      weights.set(biasName, b);
    }
  }
  return new Model(model.arch, model.numClasses, weights, `${model.source} (filters zeroed)`, model.info);
}
