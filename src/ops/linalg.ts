/** Matrix products: MatMul (batched, broadcast) and Gemm (the linear layer). Both bilinear. */
import type { Value } from '../graph/graph.js';
import type { OpAttrs } from './attrs.js';
import { gemm, matmul, mul, reduceSum, reshape, transpose, unbroadcast } from './builders.js';
import { bilinear, broadcastShapes, fail, type OpTable } from './types.js';

/** Swaps the last two axes. */
function swapLast(x: Value): Value {
  const perm = x.shape.map((_, i) => i);
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1], perm[x.rank - 2]];
  return transpose(x, perm);
}

/** Per-sample cotangents are asked for B or C of a linear layer (rows of A are samples). */
function perSampleGemm({ transA }: OpAttrs['Gemm'], perSample: readonly boolean[]): boolean {
  if (!perSample[1] && !perSample[2]) return false;
  if (transA === 1 || perSample[0]) fail('per-sample gradients need the samples as rows of A');
  return true;
}

export const linalgOps = {
  MatMul: {
    infer: ([a, b]) => {
      if (a.rank < 2 || b.rank < 2) fail('operands must have rank 2 or more');
      if (a.dtype !== b.dtype) fail('operand dtypes differ');
      const [m, k] = a.shape.slice(-2);
      const [k2, n] = b.shape.slice(-2);
      if (k !== k2) fail(`inner dimensions differ: ${k} vs ${k2}`);
      return {
        shape: [...broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2)), m, n],
        dtype: a.dtype,
      };
    },
    grad: bilinear(
      (g, b, a) => unbroadcast(matmul(g, swapLast(b)), a),
      // Per sample (a linear layer of an imported model, x [B, ..., K] times W [K, N]):
      // xᵀ g per sample, summed over the axes between the batch and the matrix.
      (g, a, b, { perSample }) => {
        if (!perSample[1]) return unbroadcast(matmul(swapLast(a), g), b);
        if (b.length !== 2) fail('per-sample gradients of MatMul need a matrix [K, N] on the right');
        // [B, K] rows: each sample's gradient is the outer product of its rows of a and g.
        if (a.rank === 2) return matmul(reshape(a, [...a.shape, 1]), reshape(g, [g.shape[0], 1, g.shape[1]]));
        const perRow = matmul(swapLast(a), g);
        const middle = perRow.shape.slice(1, -2).map((_, i) => i + 1);
        return middle.length ? reduceSum(perRow, middle) : perRow;
      },
    ),
  },
  Gemm: {
    infer: ([a, b, c], { transA, transB }) => {
      if (a.rank !== 2 || b.rank !== 2) fail('A and B must be matrices');
      const [m, k] = transA ? [a.shape[1], a.shape[0]] : a.shape;
      const [k2, n] = transB ? [b.shape[1], b.shape[0]] : b.shape;
      if (k !== k2) fail(`inner dimensions differ: ${k} vs ${k2}`);
      if (c) broadcastShapes([m, n], c.shape);
      return { shape: [m, n], dtype: a.dtype };
    },
    attrs: { alpha: 'float', beta: 'float', transA: 'int', transB: 'int' },
    // d op(A) = alpha g op(B)^T and d op(B) = alpha op(A)^T g, each mapped back through its transpose.
    grad: bilinear(
      (g, b, _, { attrs: { alpha, transA, transB } }) =>
        transA
          ? gemm(b, g, undefined, { alpha, transA: transB === 1, transB: true })
          : gemm(g, b, undefined, { alpha, transB: transB !== 1 }),
      (g, a, _, { attrs, perSample }) => {
        const { alpha, transA, transB } = attrs;
        if (!perSampleGemm(attrs, perSample))
          return transB
            ? gemm(g, a, undefined, { alpha, transA: true, transB: transA === 1 })
            : gemm(a, g, undefined, { alpha, transA: transA !== 1 });
        if (!perSample[1]) return null;
        // Sample i's gradient is the outer product of its row of g and its row of A.
        const [n, k, out] = [a.shape[0], a.shape[1], g.shape[1]];
        const rows = (v: Value, d: number) => reshape(v, [n, d, 1]);
        const cols = (v: Value, d: number) => reshape(v, [n, 1, d]);
        const outer = transB ? matmul(rows(g, out), cols(a, k)) : matmul(rows(a, k), cols(g, out));
        return mul(outer, alpha);
      },
      ({ x: [, , c], g, attrs, perSample }) => {
        if (!c) return [];
        if (!perSampleGemm(attrs, perSample))
          return [unbroadcast(attrs.beta === 1 ? g : mul(g, attrs.beta), c.shape)];
        return [perSample[2] ? reshape(mul(g, attrs.beta), [g.shape[0], ...c.shape]) : null];
      },
    ),
  },
} satisfies Partial<OpTable>;
