/**
 * The saliency graph: forward pass, per-sample cross-entropy with the target (the true labels,
 * a class, or the model's own prediction — saliency/target.ts), gradients w.r.t. the unit
 * layers' weights (per sample), and their aggregation to one number per unit (filter, neuron,
 * head's q/k/v) — all one ONNX graph.
 */
import { grad } from '../autodiff/grad.js';
import { PssError } from '../errors.js';
import { Graph, type Value } from '../graph/graph.js';
import type { Model } from '../models/model.js';
import { Net } from '../models/nn.js';
import { unitGradient } from '../models/units.js';
import * as op from '../ops/index.js';
import type { Aggregation } from './aggregation.js';
import { kindName } from './units.js';

export interface SaliencyGraph {
  graph: Graph;
  net: Net;
  input: Value;
  onehot: Value;
  logits: Value;
  /** Per-sample cross-entropy, [B]. */
  loss: Value;
  /** Saliency, [B, U] (units) or [B, P] (parameters). */
  saliency: Value;
}

export interface ForwardOptions {
  /**
   * Add a graph input "unit_mask" [B, U] (U = model.unitCount): unit k of unit layer l — a conv's
   * output channel, a linear's output feature (its weight's row k, or column k when the weight
   * is [in, out]), a head's rowsPerUnit output features — is multiplied, for sample b, by
   * unit_mask[b, l.offset + k]: the same as zeroing that unit's weight rows (and bias) for
   * that sample only.
   */
  unitMask?: boolean;
  /** Parameters that become graph inputs (named like the parameter) instead of constants. */
  paramInputs?: readonly string[];
}

/** The graph inputs every saliency graph has: the images (NCHW) and their one-hot true labels. */
export const FEED = { input: 'input', onehot: 'onehot' } as const;

/** One-hot rows of `labels` over `classes`: the cross-entropy's target. */
export function oneHot(labels: readonly number[], classes: number): Float32Array {
  const out = new Float32Array(labels.length * classes);
  labels.forEach((label, i) => {
    out[i * classes + label] = 1;
  });
  return out;
}

/** The model's forward pass on a new graph, its weights as constants (or inputs, see options). */
export function buildForward(model: Model, shape: readonly number[], o: ForwardOptions = {}) {
  const graph = new Graph(op.OPS);
  const input = graph.input(FEED.input, shape);
  const inputs = new Set(o.paramInputs ?? []);
  for (const name of inputs)
    if (!model.weights.has(name)) throw new PssError(`${model.name} has no parameter "${name}"`);
  const unitMask = o.unitMask ? graph.input('unit_mask', [shape[0], model.unitCount]) : undefined;
  const layers = new Map(model.layers.map((l) => [l.param, l]));
  const masked = new Set<string>();
  const used = new Set<string>();
  /** y with its units (on `axis`, rowsPerUnit features each) times this sample's mask. */
  const mask = (weight: string, y: Value, axis: 'channels' | 'last'): Value => {
    const l = layers.get(weight);
    if (!unitMask || !l) return y;
    masked.add(weight);
    const m = op.slice(unitMask, [l.offset], [l.offset + l.filters], [1]);
    if (axis === 'channels')
      return op.mul(y, op.reshape(m, [shape[0], l.filters, ...y.shape.slice(2).map(() => 1)]));
    // [B, ..., units·rows] → [B, ..., units, rows] × [B, 1.., units, 1]
    const lead = y.shape.slice(0, -1);
    const split = op.reshape(y, [...lead, l.filters, l.rowsPerUnit]);
    const ones = lead.slice(1).map(() => 1);
    return op.reshape(op.mul(split, op.reshape(m, [shape[0], ...ones, l.filters, 1])), y.shape);
  };
  const net = new Net({
    graph,
    param: (p) => {
      if (layers.has(p.name)) used.add(p.name);
      return inputs.has(p.name)
        ? graph.input(p.name, p.shape)
        : graph.constant(model.weights.get(p.name)!, p.shape);
    },
    convOutput: unitMask ? (weight, y) => mask(weight, y, 'channels') : undefined,
    linearOutput: unitMask ? (weight, y) => mask(weight, y, 'last') : undefined,
  });
  const logits = model.arch.define(net, model.numClasses)(input);
  // Every unit layer the forward pass uses must be masked (layers it skips, like Inception's
  // auxiliary head, need not): a unit the mask cannot reach cannot be turned off.
  const unmasked = [...used].filter((c) => !masked.has(c));
  if (unitMask && unmasked.length) {
    const l = layers.get(unmasked[0])!;
    throw new PssError(
      `unit masks do not reach ${unmasked.length} of ${model.name}'s unit layers (e.g. ${l.name}, ${kindName(l.kind, 2)}), so their units cannot be turned off`,
    );
  }
  return { graph, net, input, logits, unitMask };
}

/** Per-sample cross-entropy from logits [B, K] and one-hot labels [B, K]. */
export function crossEntropy(logits: Value, onehot: Value): Value {
  return op.neg(op.reduceSum(op.mul(onehot, op.logSoftmax(logits, 1)), [1]));
}

/**
 * One-hot rows of each sample's predicted class (the first largest logit, as argmax picks it),
 * a constant for differentiation: the loss of `--target predicted`.
 */
export function predictedOneHot(logits: Value): Value {
  const fixed = op.stopGradient(logits);
  const isMax = op.mask(op.equal(fixed, op.reduceMax(fixed, [1], true)), fixed);
  // Of tied maxima keep the first: no maximum before it along the classes.
  return op.mul(isMax, op.mask(op.equal(op.cumSum(isMax, 1, { exclusive: true }), 0), fixed));
}

/**
 * `onehot` is the one-hot of the loss's class, fed; with `predicted` the graph has no such
 * input and the loss takes each sample's prediction (predictedOneHot).
 */
export function buildSaliencyGraph(
  model: Model,
  shape: readonly number[],
  mode: Aggregation,
  predicted = false,
): SaliencyGraph {
  const batch = shape[0];
  const { graph, net, input, logits } = buildForward(model, shape);
  const onehot = predicted ? predictedOneHot(logits) : graph.input(FEED.onehot, [batch, model.numClasses]);
  const loss = crossEntropy(logits, onehot);
  // The gradient of the summed loss, kept per sample (never summed over the batch).
  const total = op.reduceSum(loss, [0]);

  const saliency = saliencyOf(model, net, total, batch, mode);
  return { graph, net, input, onehot, logits, loss, saliency };
}

/**
 * Per-sample saliency [B, U] of a summed per-sample loss: each unit layer's weight gradient
 * aggregated per unit (its elements, models/units.ts: a filter, a neuron's row or column, a
 * head's q, k or v), or every parameter's |gradient|. Differentiable again.
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
  const perUnit = grads.map((g, i) => {
    const flat = unitGradient(g, model.layers[i], batch);
    if (mode === 'filter') return op.mul(op.reduceL1(flat, [2]), 1 / flat.shape[2]);
    const mean = op.reduceMean(flat, [2]);
    return mode === 'signed' ? mean : op.abs(mean);
  });
  return op.concat(perUnit, 1);
}
