/**
 * The filter-saliency graph: forward pass, per-sample cross-entropy with the true labels,
 * gradients w.r.t. the conv weights (per sample), and their aggregation to one number per
 * filter — all one ONNX graph.
 */
import { grad } from '../autodiff/grad.js';
import { Graph, type Value } from '../graph/graph.js';
import type { Model } from '../models/model.js';
import { Net } from '../models/nn.js';
import * as op from '../ops/index.js';
import type { Aggregation } from './aggregation.js';

export interface SaliencyGraph {
  graph: Graph;
  net: Net;
  input: Value;
  onehot: Value;
  logits: Value;
  /** Per-sample cross-entropy, [B]. */
  loss: Value;
  /** Saliency, [B, F] (filters) or [B, P] (parameters). */
  saliency: Value;
}

/** The model's forward pass on a new graph, its weights as constants. */
export function buildForward(model: Model, shape: readonly number[]) {
  const graph = new Graph();
  const input = graph.input('input', shape);
  const net = new Net({ graph, param: (p) => graph.constant(model.weights.get(p.name)!, p.shape) });
  const logits = model.arch.define(net, model.numClasses)(input);
  return { graph, net, input, logits };
}

/** Per-sample cross-entropy from logits [B, K] and one-hot labels [B, K]. */
export function crossEntropy(logits: Value, onehot: Value): Value {
  return op.neg(op.reduceSum(op.mul(onehot, op.logSoftmax(logits, 1)), [1]));
}

export function buildSaliencyGraph(model: Model, shape: readonly number[], mode: Aggregation): SaliencyGraph {
  const batch = shape[0];
  const { graph, net, input, logits } = buildForward(model, shape);
  const onehot = graph.input('onehot', [batch, model.numClasses]);
  const loss = crossEntropy(logits, onehot);
  // The gradient of the summed loss, kept per sample (never summed over the batch).
  const total = op.reduceSum(loss, [0]);

  const saliency = saliencyOf(model, net, total, batch, mode);
  return { graph, net, input, onehot, logits, loss, saliency };
}

/**
 * Per-sample saliency [B, F] of a summed per-sample loss: the conv weights' gradients
 * aggregated per filter, or every parameter's |gradient|. Differentiable again.
 */
export function saliencyOf(model: Model, net: Net, total: Value, batch: number, mode: Aggregation): Value {
  const perSample = { perSampleBatch: batch };
  if (mode === 'parameter') {
    const params = model.params.filter((p) => !p.buffer);
    const grads = grad(
      total,
      params.map((p) => net.value(p.name)),
      perSample,
    );
    return op.concat(
      grads.map((g) => op.reshape(op.abs(g), [batch, -1])),
      1,
    );
  }
  const grads = grad(
    total,
    model.layers.map((l) => net.value(l.param)),
    perSample,
  );
  const perFilter = grads.map((g, i) => {
    const flat = op.reshape(g, [batch, model.layers[i].filters, -1]);
    if (mode === 'filter') return op.mul(op.reduceL1(flat, [2]), 1 / flat.shape[2]);
    const mean = op.reduceMean(flat, [2]);
    return mode === 'signed' ? mean : op.abs(mean);
  });
  return op.concat(perFilter, 1);
}
