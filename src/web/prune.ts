/**
 * "Zero these filters": the model's forward pass with every conv weight multiplied by a
 * per-filter mask fed at run time, so that one ONNX Runtime session answers any choice of
 * zeroed filters (a filter's weights all zero; its bias, if any, stays — as when its rows of
 * the weight tensor are zeroed in a copy of the weights).
 *
 * Built here, through the Net's parameter provider, without touching the library's graphs.
 */
import { Graph } from '../graph/graph.js';
import type { Model } from '../models/model.js';
import { Net } from '../models/nn.js';
import * as op from '../ops/index.js';
import type { Runner } from '../runtime/session.js';
import type { ImageBatch, SaliencyEngine } from '../saliency/engine.js';

const maskName = (layer: number) => `mask${layer}`;

/** Logits of one image with the given filters (positions in the saliency vector) zeroed. */
export async function maskedLogits(
  engine: SaliencyEngine,
  image: ImageBatch,
  zeroed: readonly number[],
): Promise<Float32Array> {
  const model = engine.model;
  const runner: Runner = await engine.session(
    `web:masked-forward:${image.shape.join('x')}`,
    image.shape,
    () => [{ name: 'logits', value: maskedForward(model, image.shape) }],
  );
  const masks = model.layers.map((l) => new Float32Array(l.filters).fill(1));
  for (const index of zeroed) {
    const li = layerOf(model, index);
    masks[li][index - model.layers[li].offset] = 0;
  }
  const feeds: Record<string, Float32Array> = { input: image.data };
  masks.forEach((m, i) => {
    feeds[maskName(i)] = m;
  });
  const out = await runner.run(feeds);
  return Float32Array.from(out.logits);
}

function maskedForward(model: Model, shape: readonly number[]) {
  const graph = new Graph(op.OPS);
  const input = graph.input('input', shape);
  const convIndex = new Map(model.layers.map((l, i) => [l.param, i]));
  const net = new Net({
    graph,
    param: (p) => {
      const w = graph.constant(model.weights.get(p.name)!, p.shape);
      const i = convIndex.get(p.name);
      if (i === undefined) return w;
      const mask = graph.input(maskName(i), [p.shape[0], ...p.shape.slice(1).map(() => 1)]);
      return op.mul(w, mask);
    },
  });
  return model.arch.define(net, model.numClasses)(input);
}

function layerOf(model: Model, index: number): number {
  const layers = model.layers;
  let lo = 0;
  let hi = layers.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (layers[mid].offset <= index) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
