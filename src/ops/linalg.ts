/** Matrix products: MatMul (batched, broadcast) and Gemm (the linear layer). Both bilinear. */
import type { Attrs, Value } from '../graph/graph.js';
import { mul, unbroadcast } from './elementwise.js';
import { reshape, transpose } from './shape.js';
import { broadcastShapes, fail, type OpDef } from './types.js';

export const matmul = (a: Value, b: Value) => a.graph.emit('MatMul', [a, b]);

export interface GemmOptions {
  alpha?: number;
  beta?: number;
  transA?: boolean;
  transB?: boolean;
}
/** alpha * op(A) op(B) + beta * C, where op transposes when asked. */
export function gemm(a: Value, b: Value, c?: Value, o: GemmOptions = {}): Value {
  return a.graph.emit('Gemm', c ? [a, b, c] : [a, b], {
    alpha: o.alpha ?? 1,
    beta: o.beta ?? 1,
    transA: o.transA ? 1 : 0,
    transB: o.transB ? 1 : 0,
  });
}

/** Swaps the last two axes. */
function swapLast(x: Value): Value {
  const perm = x.shape.map((_, i) => i);
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1], perm[x.rank - 2]];
  return transpose(x, perm);
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
    grad: ({ x: [a, b], g }) => [
      unbroadcast(matmul(g, swapLast(b)), a.shape),
      unbroadcast(matmul(swapLast(a), g), b.shape),
    ],
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
    grad: ({ x: [a, b, c], g, attrs, perSample }) => {
      const alpha = attrs.alpha as number;
      const tA = attrs.transA === 1;
      const tB = attrs.transB === 1;
      // d op(A) = alpha g op(B)^T and d op(B) = alpha op(A)^T g, each mapped back through its transpose.
      const dA = tA
        ? gemm(b, g, undefined, { alpha, transA: tB, transB: true })
        : gemm(g, b, undefined, { alpha, transB: !tB });
      if (perSample[1] || perSample[2]) return [dA, ...gemmPerSample(a, c, g, attrs, perSample)];
      const dB = tB
        ? gemm(g, a, undefined, { alpha, transA: true, transB: tA })
        : gemm(a, g, undefined, { alpha, transA: !tA });
      const dC = c ? unbroadcast(attrs.beta === 1 ? g : mul(g, attrs.beta as number), c.shape) : null;
      return c ? [dA, dB, dC] : [dA, dB];
    },
  },
} satisfies Record<string, OpDef>;

/** Per-sample cotangents of B and C for a linear layer (rows of A are samples). */
function gemmPerSample(
  a: Value,
  c: Value | undefined,
  g: Value,
  attrs: Attrs,
  perSample: readonly boolean[],
) {
  if (attrs.transA === 1 || perSample[0]) fail('per-sample gradients need the samples as rows of A');
  const n = a.shape[0];
  const [k, out] = [a.shape[1], g.shape[1]];
  const rows = (v: Value, d: number) => reshape(v, [n, d, 1]);
  const cols = (v: Value, d: number) => reshape(v, [n, 1, d]);
  // Sample i's gradient is the outer product of its row of g and its row of A.
  const outer = attrs.transB === 1 ? matmul(rows(g, out), cols(a, k)) : matmul(rows(a, k), cols(g, out));
  const dB = perSample[1] ? mul(outer, attrs.alpha as number) : null;
  const dC = c && perSample[2] ? reshape(mul(g, attrs.beta as number), [n, ...c.shape]) : null;
  return [dB, dC];
}
