/** Reductions and the ops that normalise along an axis (softmax, log-softmax, cumulative sum). */
import type { Value } from '../graph/graph.js';
import { div, equal, exp, fastSign, mask, mul, sub } from './elementwise.js';
import { expand, reshape } from './shape.js';
import { fail, ints, noGrad, normAxis, type OpDef } from './types.js';

const reducer =
  (op: string) =>
  (x: Value, axes: readonly number[], keepdims = false) =>
    x.graph.emit(op, [x], {
      axes: [...new Set(axes.map((a) => normAxis(a, x.rank)))].sort((a, b) => a - b),
      keepdims: keepdims ? 1 : 0,
    });

export const reduceSum = reducer('ReduceSum');
export const reduceMean = reducer('ReduceMean');
export const reduceMax = reducer('ReduceMax');
/** Sum of absolute values in one pass (no |x| intermediate). */
export const reduceL1 = reducer('ReduceL1');
export const softmax = (x: Value, axis = -1) =>
  x.graph.emit('Softmax', [x], { axis: normAxis(axis, x.rank) });
export const logSoftmax = (x: Value, axis = -1) =>
  x.graph.emit('LogSoftmax', [x], { axis: normAxis(axis, x.rank) });
/** The k largest values along the last axis, largest first (their indices are not used). */
export const topKValues = (x: Value, k: number) =>
  x.graph.emit('TopK', [x], { k: [k], axis: -1, largest: 1, sorted: 1 }); // ONNX wants k as a 1-element tensor

export function cumSum(x: Value, axis: number, opts: { exclusive?: boolean; reverse?: boolean } = {}): Value {
  return x.graph.emit('CumSum', [x], {
    axis: normAxis(axis, x.rank),
    exclusive: opts.exclusive ? 1 : 0,
    reverse: opts.reverse ? 1 : 0,
  });
}

const keptShape = (x: Value, axes: readonly number[]) => x.shape.map((d, i) => (axes.includes(i) ? 1 : d));

/** The cotangent of a reduction's output, reshaped with the reduced axes kept as size 1. */
const kept = (g: Value, x: Value, axes: readonly number[]) => reshape(g, keptShape(x, axes));

function reduction(grad: OpDef['grad']): OpDef {
  return {
    infer: ([x], { axes, keepdims }) => {
      const ax = ints(axes, 'axes');
      if (ax.length === 0) fail('axes must not be empty');
      const shape = keepdims ? keptShape(x, ax) : x.shape.filter((_, i) => !ax.includes(i));
      return { shape, dtype: x.dtype };
    },
    attrs: { keepdims: 'int' },
    inputAttrs: [{ name: 'axes', dtype: 'int64' }],
    grad,
  };
}

const alongAxis = (grad: OpDef['grad']): OpDef => ({
  infer: ([x]) => ({ shape: x.shape, dtype: x.dtype }),
  attrs: { axis: 'int' },
  grad,
});

export const reduceOps = {
  ReduceSum: reduction(({ x: [x], g, attrs }) => [expand(kept(g, x, attrs.axes as number[]), x.shape)]),
  ReduceMean: reduction(({ x: [x], g, y, attrs }) => {
    const ax = attrs.axes as number[];
    return [expand(mul(kept(g, x, ax), y.size / x.size), x.shape)];
  }),
  // Ties share the gradient equally, as torch.amax does.
  ReduceMax: reduction(({ x: [x], g, y, attrs }) => {
    const ax = attrs.axes as number[];
    const hit = mask(equal(x, kept(y, x, ax)), x);
    return [mul(hit, div(kept(g, x, ax), reduceSum(hit, ax, true)))];
  }),
  ReduceL1: reduction(({ x: [x], g, attrs }) => [
    // Broadcast, not Expand: for per-sample weight gradients an expanded cotangent is one
    // more weight-sized tensor to write and read.
    mul(fastSign(x), kept(g, x, attrs.axes as number[])),
  ]),
  Softmax: alongAxis(({ y, g, attrs }) => [
    mul(y, sub(g, reduceSum(mul(g, y), [attrs.axis as number], true))),
  ]),
  LogSoftmax: alongAxis(({ y, g, attrs }) => [
    sub(g, mul(exp(y), reduceSum(g, [attrs.axis as number], true))),
  ]),
  // Used to pick filters, not differentiated through (DESIGN §1.6 treats the boosted target as a constant).
  TopK: {
    infer: ([x], attrs) => {
      const n = x.shape[x.rank - 1];
      const [k] = ints(attrs.k, 'k');
      if (!Number.isInteger(k) || k < 1 || k > n) fail(`k must be in 1..${n}`);
      return { shape: [...x.shape.slice(0, -1), k], dtype: x.dtype };
    },
    attrs: { axis: 'int', largest: 'int', sorted: 'int' },
    inputAttrs: [{ name: 'k', dtype: 'int64' }],
    extraOutputs: 1,
    grad: noGrad('TopK selects; pss does not differentiate through it'),
  },
  CumSum: {
    infer: ([x]) => ({ shape: x.shape, dtype: x.dtype }),
    attrs: { exclusive: 'int', reverse: 'int' },
    inputAttrs: [{ name: 'axis', dtype: 'int64' }],
    // Linear: the adjoint sums in the other direction.
    grad: ({ g, attrs }) => [
      cumSum(g, attrs.axis as number, { exclusive: attrs.exclusive === 1, reverse: attrs.reverse !== 1 }),
    ],
  },
} satisfies Record<string, OpDef>;
