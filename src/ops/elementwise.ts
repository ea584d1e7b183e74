/** Elementwise ops (with numpy broadcasting): arithmetic, activations, comparisons, selection. */
import { DTYPES, ELEM_TYPE, type Value } from '../graph/graph.js';
import type { OpType } from './attrs.js';
import {
  and,
  cast,
  div,
  fastSign,
  greater,
  less,
  mul,
  neg,
  paramCotangent,
  sub,
  unbroadcast,
  where,
} from './builders.js';
import {
  broadcasting as arith,
  bilinear,
  broadcastAll,
  FLOATS,
  fail,
  linear,
  type OpDef,
  type OpTable,
  pointwise,
  sameFloat,
  zeroGrad,
} from './types.js';

/**
 * A comparison (numbers of one dtype: floats or int64) or a logical op (bools); its output
 * is a bool mask, constant for differentiation.
 */
function compare<K extends OpType>(inputType: 'number' | 'bool' | 'any'): OpDef<K> {
  return {
    infer: (xs) => {
      if (xs.some((x) => x.dtype !== xs[0].dtype)) fail(`input dtypes differ: ${xs.map((x) => x.dtype)}`);
      if (inputType === 'bool' && xs[0].dtype !== 'bool') fail('expects bool inputs');
      if (inputType === 'number' && xs[0].dtype === 'bool') fail('expects numbers, not bools');
      return { shape: broadcastAll(xs), dtype: 'bool' };
    },
    grad: zeroGrad,
  };
}
const sameType = ([x]: readonly Value[]) => ({ shape: x.shape, dtype: x.dtype });

export const elementwiseOps = {
  // An operand may be a parameter with per-sample cotangents (a bias, a layer scale, a
  // position embedding of an imported model): paramCotangent keeps the samples apart, also
  // where g is already per sample (a parameter scaled by a constant: batchedGrad).
  Add: arith(
    ({ x: [a, b], g, perSample }) => [
      paramCotangent(g, a.shape, perSample[0]),
      paramCotangent(g, b.shape, perSample[1]),
    ],
    'grad',
  ),
  Sub: arith(
    ({ x: [a, b], g, perSample }) => [
      paramCotangent(g, a.shape, perSample[0]),
      paramCotangent(neg(g), b.shape, perSample[1]),
    ],
    'grad',
  ),
  Mul: arith(
    bilinear(
      (g, b, a, { perSample }) => paramCotangent(mul(g, b), a, perSample[0]),
      (g, a, b, { perSample }) => paramCotangent(mul(g, a), b, perSample[1]),
    ),
    'grad',
  ),
  Div: arith(
    ({ x: [a, b], y, g, perSample }) => [
      paramCotangent(div(g, b), a.shape, perSample[0]),
      paramCotangent(neg(div(mul(g, y), b)), b.shape, perSample[1]),
    ],
    'grad',
  ),
  Neg: pointwise(linear((g) => [neg(g)])),
  Abs: pointwise(({ x: [x], g }) => [mul(g, fastSign(x))]),
  Sqrt: pointwise(({ y, g }) => [div(g, mul(y, 2))]),
  Exp: pointwise(({ y, g }) => [mul(g, y)]),
  Log: pointwise(({ x: [x], g }) => [div(g, x)]),
  Sigmoid: pointwise(({ y, g }) => [mul(g, mul(y, sub(1, y)))]),
  // The derivative of ReLU is a mask, y > 0: the rule is linear in g and the mask has zero
  // derivative, so it differentiates again. Reading the output rather than the input lets
  // ONNX Runtime still fuse Conv+ReLU. Greater+Cast, then Mul: ONNX Runtime's Sign kernel
  // runs 4x slower than either, and Where slower still (profiled on ResNet-50).
  Relu: pointwise(({ y, g }) => [mul(g, cast(greater(y, 0), y.dtype))]),
  Clip: {
    ...pointwise<'Clip'>(({ x: [x], g, attrs }) => [
      where(and(greater(x, attrs.min), less(x, attrs.max)), g, 0),
    ]),
    inputAttrs: [
      { name: 'min', dtype: 'input' },
      { name: 'max', dtype: 'input' },
    ],
  },
  Sign: pointwise(zeroGrad),
  Identity: { infer: sameType, grad: linear((g) => [g]), batchedGrad: 'grad' },
  StopGradient: { infer: sameType, onnxOp: 'Identity', grad: zeroGrad },
  // Inference mode: Dropout is the identity.
  Dropout: { infer: sameType, grad: linear((g) => [g]), batchedGrad: 'grad' },
  Cast: {
    infer: ([x], { to }) => ({
      shape: x.shape,
      dtype: DTYPES.find((t) => ELEM_TYPE[t] === to) ?? fail('unknown Cast target'),
    }),
    attrs: { to: 'int' },
    grad: ({ x: [x], y, g }) => [
      FLOATS.includes(x.dtype) && FLOATS.includes(y.dtype) ? cast(g, x.dtype) : null,
    ],
    batchedGrad: 'grad',
  },
  Equal: compare('any'),
  Greater: compare('number'),
  Less: compare('number'),
  GreaterOrEqual: compare('number'),
  LessOrEqual: compare('number'),
  And: compare('bool'),
  Or: compare('bool'),
  Not: compare('bool'),
  Where: {
    infer: ([c, a, b]) => {
      if (c.dtype !== 'bool') fail('condition must be bool');
      return { shape: broadcastAll([c, a, b]), dtype: sameFloat([a, b]) };
    },
    grad: ({ x: [c, a, b], g }) => [
      null,
      unbroadcast(where(c, g, 0), a.shape),
      unbroadcast(where(c, 0, g), b.shape),
    ],
  },
} satisfies Partial<OpTable>;
