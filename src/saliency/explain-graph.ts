/**
 * One graph for `explain`: the input-space saliency map — a second-order gradient,
 * d/dx cos(z(x), s') with z the standardised filter saliency and s' a constant boosted
 * target (DESIGN §1 step 6) — and Grad-CAM for two classes on the last conv block.
 */
import { grad } from '../autodiff/grad.js';
import type { Value } from '../graph/graph.js';
import { reachableNodes } from '../graph/onnx.js';
import type { Model } from '../models/model.js';
import * as op from '../ops/index.js';
import type { Aggregation } from './aggregation.js';
import { buildForward, crossEntropy, saliencyOf } from './graph.js';

export interface ExplainGraph {
  logits: Value;
  /** Standardised saliency z(x), [B, F]. */
  z: Value;
  /** cos(z, target) per sample, [B]. */
  cos: Value;
  /** d/dx of the summed cosines, [B, C, H, W]: each sample's own map. */
  inputGradient: Value;
  /** Grad-CAM for the class in `onehot_cam_a` and `onehot_cam_b`, [B, h, w]. */
  camA: Value;
  camB: Value;
}

/**
 * Graph inputs: `input` [B,C,H,W], `onehot` (true labels) and `onehot_cam_a/b` [B,K],
 * `target` [B,F], `mean` and `std` [F] (std already floored: σ ≤ 1e-14 → 1).
 */
export function buildExplainGraph(model: Model, shape: readonly number[], mode: Aggregation): ExplainGraph {
  if (mode === 'parameter') throw new Error('input-space saliency uses a per-filter aggregation');
  const batch = shape[0];
  const { graph, net, input, logits } = buildForward(model, shape);
  const k = model.numClasses;
  const f = model.filterCount;
  const onehot = graph.input('onehot', [batch, k]);
  const target = graph.input('target', [batch, f]);
  const mean = graph.input('mean', [f]);
  const std = graph.input('std', [f]);

  const s = saliencyOf(model, net, op.reduceSum(crossEntropy(logits, onehot), [0]), batch, mode);
  const z = op.div(op.sub(s, mean), std);
  const dot = op.reduceSum(op.mul(z, target), [1]);
  const norms = op.mul(
    op.sqrt(op.reduceSum(op.mul(z, z), [1])),
    op.sqrt(op.reduceSum(op.mul(target, target), [1])),
  );
  const cos = op.div(dot, norms);
  const [inputGradient] = grad(op.reduceSum(cos, [0]), [input]);

  const activation = camLayer(logits);
  const cam = (name: string) => {
    const [ga] = grad(op.reduceSum(op.mul(logits, graph.input(name, [batch, k])), [0, 1]), [activation]);
    const weights = op.reduceMean(ga, [2, 3], true);
    return op.relu(op.reduceSum(op.mul(weights, activation), [1]));
  };
  return { logits, z, cos, inputGradient, camA: cam('onehot_cam_a'), camB: cam('onehot_cam_b') };
}

/**
 * Grad-CAM's layer: the last 4-D activation with more than one spatial position on the
 * way to the logits — the input of the global pool (ResNet, DenseNet, Inception...), or
 * of the classifier's flatten (VGG). Works for imported ONNX graphs too.
 */
export function camLayer(logits: Value): Value {
  const nodes = reachableNodes([logits]);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const v = nodes[i].output;
    if (v.rank === 4 && v.shape[2] * v.shape[3] > 1) return v;
  }
  throw new Error('the model has no spatial activation for Grad-CAM');
}
