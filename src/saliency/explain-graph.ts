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
import { type Aggregation, perUnit } from './aggregation.js';
import { buildForward, crossEntropy, FEED, predictedOneHot, saliencyOf } from './graph.js';

export interface ExplainGraph {
  logits: Value;
  /** Per-sample cross-entropy, [B]. */
  loss: Value;
  /** Raw filter saliency s(x), [B, F]. */
  saliency: Value;
  /** 1 where a filter was boosted, else 0, [B, F]. */
  boosted: Value;
  /** cos(z, target) per sample, [B]. */
  cos: Value;
  /** d/dx of the summed cosines, [B, C, H, W]: each sample's own map. */
  inputGradient: Value;
  /** Grad-CAM of the predicted class (the largest logit) and of the true class, [B, h, w]. */
  camPredicted: Value;
  camTrue: Value;
}

/** Which filters get boosted: the top k by z (or |z|), chosen in the graph, or a mask fed in. */
export type BoostSelection = { topK: number; byAbs: boolean } | 'mask';

/**
 * Whose loss: the true label (`onehot`), the prediction (chosen in the graph), or a class fed
 * as `target_onehot` [B,K] (saliency/target.ts). Grad-CAM's second map stays the true class's.
 */
export type LossTarget = 'true' | 'predicted' | 'class';

/**
 * One run does it all. Graph inputs: `input` [B,C,H,W], `onehot` (true labels) [B,K],
 * `mean` and `std` [F] (std already floored: σ ≤ 1e-14 → 1), and with a 'mask' selection
 * `boost_mask` [B,F] (1 = boost). The target s' = z·(1 + (boost − 1)·mask) is a constant
 * for differentiation (StopGradient), as the original detaches it.
 */
export function buildExplainGraph(
  model: Model,
  shape: readonly number[],
  mode: Aggregation,
  selection: BoostSelection,
  boost: number,
  lossTarget: LossTarget = 'true',
): ExplainGraph {
  perUnit(mode, 'input-space saliency');
  const batch = shape[0];
  const { graph, net, input, logits } = buildForward(model, shape);
  const k = model.numClasses;
  const f = model.unitCount;
  const onehot = graph.input(FEED.onehot, [batch, k]);
  const mean = graph.input('mean', [f]);
  const std = graph.input('std', [f]);

  const lossHot =
    lossTarget === 'true'
      ? onehot
      : lossTarget === 'predicted'
        ? predictedOneHot(logits)
        : graph.input('target_onehot', [batch, k]);
  const loss = crossEntropy(logits, lossHot);
  const saliency = saliencyOf(model, net, op.reduceSum(loss, [0]), batch, mode);
  const z = op.div(op.sub(saliency, mean), std);
  const fixed = op.stopGradient(z);
  let boosted: Value;
  if (selection === 'mask') boosted = graph.input('boost_mask', [batch, f]);
  else {
    const key = selection.byAbs ? op.abs(fixed) : fixed;
    const kth = op.slice(op.topKValues(key, selection.topK), [selection.topK - 1], [selection.topK], [1]);
    boosted = op.mask(op.not(op.less(key, kth)), key);
  }
  const target = op.mul(fixed, op.add(op.mul(boosted, boost - 1), 1));
  const dot = op.reduceSum(op.mul(z, target), [1]);
  const norms = op.mul(
    op.sqrt(op.reduceSum(op.mul(z, z), [1])),
    op.sqrt(op.reduceSum(op.mul(target, target), [1])),
  );
  const cos = op.div(dot, norms);
  const [inputGradient] = grad(op.reduceSum(cos, [0]), [input]);

  const activation = camLayer(logits);
  const cam = (score: Value) => {
    const [ga] = grad(op.reduceSum(score, [0]), [activation]);
    return op.relu(op.reduceSum(op.mul(op.reduceMean(ga, [2, 3], true), activation), [1]));
  };
  return {
    logits,
    loss,
    saliency,
    boosted,
    cos,
    inputGradient,
    // The gradient of the largest logit is the gradient of the predicted class's logit.
    camPredicted: cam(op.reduceMax(logits, [1])),
    camTrue: cam(op.reduceSum(op.mul(logits, onehot), [1])),
  };
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
