/** Reductions and the ops that normalise along an axis (softmax, log-softmax, cumulative sum). */
import { type Shape, sizeOf, type Value } from '../graph/graph.js';
import type { OpAttrs, ReductionOp } from './attrs.js';
import {
  cumSum,
  div,
  equal,
  exp,
  expand,
  fastSign,
  mask,
  mul,
  reduceSum,
  reshape,
  sub,
  where,
} from './builders.js';
import {
  type Cotangents,
  fail,
  type GradContext,
  type GradRule,
  linear,
  noGrad,
  type OpDef,
  type OpTable,
} from './types.js';

const keptShape = (x: Shape, axes: readonly number[]) => x.map((d, i) => (axes.includes(i) ? 1 : d));

/** The cotangent of a reduction's output, reshaped with the reduced axes kept as size 1. */
const kept = (g: Value, x: Shape, axes: readonly number[]) => reshape(g, keptShape(x, axes));

function reduction<K extends ReductionOp>(grad: GradRule<K>): OpDef<K> {
  return {
    infer: ([x], { axes, keepdims }) => {
      if (axes.length === 0) fail('axes must not be empty');
      const shape = keepdims ? keptShape(x.shape, axes) : x.shape.filter((_, i) => !axes.includes(i));
      return { shape, dtype: x.dtype };
    },
    attrs: { keepdims: 'int' },
    inputAttrs: [{ name: 'axes', dtype: 'int64' }],
    grad,
  };
}

function extremumGrad({ x: [x], g, y, attrs: { axes } }: GradContext<OpAttrs['ReduceMax']>): Cotangents {
  const hit = mask(equal(x, kept(y, x.shape, axes)), x);
  return [mul(hit, div(kept(g, x.shape, axes), reduceSum(hit, axes, true)))];
}

function alongAxis<K extends 'Softmax' | 'LogSoftmax'>(grad: GradRule<K>): OpDef<K> {
  return { infer: ([x]) => ({ shape: x.shape, dtype: x.dtype }), attrs: { axis: 'int' }, grad };
}

export const reduceOps = {
  ReduceSum: reduction(linear((g, [x], { axes }) => [expand(kept(g, x, axes), x)])),
  ReduceMean: reduction(linear((g, [x], { axes }) => [expand(mul(kept(g, x, axes), g.size / sizeOf(x)), x)])),
  // Ties share the gradient equally, as torch.amax and torch.amin do.
  ReduceMax: reduction(extremumGrad),
  ReduceMin: reduction(extremumGrad),
  ReduceL1: reduction(({ x: [x], g, attrs: { axes } }) => [
    // Broadcast, not Expand: for per-sample weight gradients an expanded cotangent is one
    // more weight-sized tensor to write and read.
    mul(fastSign(x), kept(g, x.shape, axes)),
  ]),
  // x / |x|, 0 where |x| = 0 (PyTorch's norm rule).
  ReduceL2: reduction(({ x: [x], g, y, attrs: { axes } }) => [
    mul(x, where(equal(kept(y, x.shape, axes), 0), 0, div(kept(g, x.shape, axes), kept(y, x.shape, axes)))),
  ]),
  Softmax: alongAxis(({ y, g, attrs: { axis } }) => [mul(y, sub(g, reduceSum(mul(g, y), [axis], true)))]),
  LogSoftmax: alongAxis(({ y, g, attrs: { axis } }) => [sub(g, mul(exp(y), reduceSum(g, [axis], true)))]),
  // Used to pick filters, not differentiated through (DESIGN §1.6 treats the boosted target as a constant).
  TopK: {
    infer: ([x], { k: [k] }) => {
      const n = x.shape[x.rank - 1];
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
    grad: linear((g, _, { axis, exclusive, reverse }) => [
      cumSum(g, axis, { exclusive: exclusive === 1, reverse: reverse !== 1 }),
    ]),
  },
} satisfies Partial<OpTable>;
