/**
 * Multi-head scaled dot-product attention over an in-projection's output, shared by ViT
 * (nn.MultiheadAttention) and Swin (ShiftedWindowAttention). The in-projection itself is a
 * linear layer (Net.applyLinear), so a q, k or v head is turned off at its output.
 */
import type { Value } from '../graph/graph.js';
import * as op from '../ops/index.js';

/**
 * softmax(q kᵀ/√d + bias) v per head, heads concatenated: qkv [..., N, 3E] (q | k | v, each
 * heads × d) to [..., N, E]. The leading axes (samples first, Swin's windows next) stay as they
 * are; `bias` broadcasts to [..., heads, N, N].
 */
export function multiHeadAttention(qkv: Value, heads: number, bias?: Value): Value {
  const r = qkv.rank;
  const lead = qkv.shape.slice(0, r - 2);
  const n = qkv.shape[r - 2];
  const e = qkv.shape[r - 1] / 3;
  const d = e / heads;
  if (!Number.isInteger(d))
    throw new Error(`an in-projection of ${3 * e} does not split into ${heads} heads`);
  const L = lead.length;
  const at = lead.map((_, i) => i);
  // [..., N, E] → [..., N, heads, d] → permuted (q, v: [..., heads, N, d]; kᵀ: [..., heads, d, N])
  const part = (i: number, perm: number[]) =>
    op.transpose(op.reshape(op.slice(qkv, [i * e], [(i + 1) * e], [r - 1]), [...lead, n, heads, d]), perm);
  const q = op.mul(part(0, [...at, L + 1, L, L + 2]), 1 / Math.sqrt(d));
  const kT = part(1, [...at, L + 1, L + 2, L]);
  const v = part(2, [...at, L + 1, L, L + 2]);
  const scores = op.matmul(q, kT);
  const weights = op.softmax(bias ? op.add(scores, bias) : scores, -1);
  const out = op.transpose(op.matmul(weights, v), [...at, L + 1, L, L + 2]);
  return op.reshape(out, [...lead, n, e]);
}
