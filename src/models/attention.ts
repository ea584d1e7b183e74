/**
 * Multi-head scaled dot-product attention over an in-projection's output, shared by ViT
 * (nn.MultiheadAttention) and Swin (ShiftedWindowAttention). The in-projection itself is a
 * linear layer (Net.applyLinear), so a q, k or v head is turned off at its output.
 */
import type { Value } from '../graph/graph.js';
import * as op from '../ops/index.js';

/**
 * softmax(q kᵀ/√d + bias) v per head, heads concatenated: qkv [B, ..., N, 3E] (q | k | v, each
 * heads × d) to [B, ..., N, E]. The samples stay on the first axis (per-sample gradients); the
 * axes between (Swin's windows) are one axis W, 1 without them, so every value in between is
 * [B, W, heads, N, ·]: rank 5, never taken for an image-shaped activation (Grad-CAM's layer is
 * the last 4-D one). `bias` broadcasts to [B, W, heads, N, N].
 */
export function multiHeadAttention(qkv: Value, heads: number, bias?: Value): Value {
  const r = qkv.rank;
  const [b] = qkv.shape;
  const w = qkv.shape.slice(1, r - 2).reduce((a, c) => a * c, 1);
  const n = qkv.shape[r - 2];
  const e = qkv.shape[r - 1] / 3;
  const d = e / heads;
  if (!Number.isInteger(d))
    throw new Error(`an in-projection of ${3 * e} does not split into ${heads} heads`);
  // [..., N, E] → [B, W, N, heads, d] → permuted (q, v: [B, W, heads, N, d]; kᵀ: [B, W, heads, d, N])
  const part = (i: number, perm: number[]) =>
    op.transpose(op.reshape(op.slice(qkv, [i * e], [(i + 1) * e], [r - 1]), [b, w, n, heads, d]), perm);
  const q = op.mul(part(0, [0, 1, 3, 2, 4]), 1 / Math.sqrt(d));
  const kT = part(1, [0, 1, 3, 4, 2]);
  const v = part(2, [0, 1, 3, 2, 4]);
  const scores = op.matmul(q, kT);
  const weights = op.softmax(bias ? op.add(scores, bias) : scores, -1);
  const out = op.transpose(op.matmul(weights, v), [0, 1, 3, 2, 4]);
  return op.reshape(out, [...qkv.shape.slice(0, r - 1), e]);
}
