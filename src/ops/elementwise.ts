/** Elementwise ops (with numpy broadcasting): arithmetic, activations, comparisons, selection. */
import type { DType, Value } from '../graph/graph.js';
import { reduceSum } from './reduce.js';
import { reshape } from './shape.js';
import { broadcastShapes, fail, type GradRule, type OpDef, zeroGrad } from './types.js';

export type Operand = Value | number;

function graphOf(...xs: Operand[]): Value {
  const v = xs.find((x): x is Value => typeof x !== 'number');
  return v ?? fail('at least one operand must be a graph value');
}

function lift(x: Operand, like: Value): Value {
  return typeof x === 'number' ? like.graph.scalar(x, like.dtype) : x;
}

const binary = (op: string) => (a: Operand, b: Operand) => {
  const like = graphOf(a, b);
  return like.graph.emit(op, [lift(a, like), lift(b, like)]);
};
const unary = (op: string) => (x: Value) => x.graph.emit(op, [x]);

export const add = binary('Add');
export const sub = binary('Sub');
export const mul = binary('Mul');
export const div = binary('Div');
export const equal = binary('Equal');
export const greater = binary('Greater');
export const less = binary('Less');
export const and = binary('And');
export const neg = unary('Neg');
export const abs = unary('Abs');
export const sqrt = unary('Sqrt');
export const exp = unary('Exp');
export const log = unary('Log');
export const sigmoid = unary('Sigmoid');
export const relu = unary('Relu');
export const sign = unary('Sign');
/**
 * sign(x) for backward rules, from ops ONNX Runtime runs multithreaded (its Sign kernel is
 * single-threaded): clip(x * 2^149, -1, 1), the product in two steps as 2^149 is not a
 * float32. Exact: the smallest subnormal times 2^149 is 1. Held constant (StopGradient),
 * as Sign's derivative is zero.
 */
export function fastSign(x: Value): Value {
  const [a, b] = x.dtype === 'float64' ? [2 ** 537, 2 ** 537] : [2 ** 75, 2 ** 74];
  return stopGradient(clip(mul(mul(x, a), b), -1, 1));
}
export const not = unary('Not');
export const identity = unary('Identity');
/** The value, as a constant for differentiation: no cotangent flows through it. */
export const stopGradient = unary('StopGradient');
export const clip = (x: Value, min: number, max: number) => x.graph.emit('Clip', [x], { min, max });
export const cast = (x: Value, to: DType) =>
  x.dtype === to ? x : x.graph.emit('Cast', [x], { to: DTYPE_CODE[to] });
export function where(cond: Value, a: Operand, b: Operand): Value {
  const like = graphOf(a, b);
  return cond.graph.emit('Where', [cond, lift(a, like), lift(b, like)]);
}
/** A float mask (1 where `cond`, else 0) in the dtype of `like`. */
export const mask = (cond: Value, like: Value) => cast(cond, like.dtype);

/** Sums a broadcast cotangent back to the shape of the operand it was broadcast from. */
export function unbroadcast(g: Value, shape: readonly number[]): Value {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.rank - shape.length;
  const axes = g.shape
    .map((_, i) => i)
    .filter((i) => i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1));
  return reshape(reduceSum(g, axes, true), shape);
}

const DTYPE_CODE: Record<DType, number> = { float32: 1, float64: 11, int64: 7, bool: 9 };
const CODE_DTYPE = Object.fromEntries(Object.entries(DTYPE_CODE).map(([k, v]) => [v, k])) as Record<
  number,
  DType
>;

const FLOATS: readonly DType[] = ['float32', 'float64'];

function sameFloat(xs: readonly Value[]): DType {
  const t = xs[0].dtype;
  if (!FLOATS.includes(t)) fail(`expects floating-point inputs, got ${t}`);
  if (xs.some((x) => x.dtype !== t)) fail(`input dtypes differ: ${xs.map((x) => x.dtype).join(', ')}`);
  return t;
}

const broadcastAll = (xs: readonly Value[]) => xs.map((x) => x.shape).reduce(broadcastShapes);

function arith(grad: GradRule): OpDef {
  return { infer: (xs) => ({ shape: broadcastAll(xs), dtype: sameFloat(xs) }), grad };
}
function pointwise(grad: GradRule): OpDef {
  return { infer: ([x]) => ({ shape: x.shape, dtype: sameFloat([x]) }), grad };
}
function compare(inputType: 'float' | 'bool'): OpDef {
  return {
    infer: (xs) => {
      if (inputType === 'bool' && xs.some((x) => x.dtype !== 'bool')) fail('expects bool inputs');
      if (inputType === 'float') sameFloat(xs);
      return { shape: broadcastAll(xs), dtype: 'bool' };
    },
    grad: zeroGrad,
  };
}

export const elementwiseOps = {
  Add: arith(({ x: [a, b], g }) => [unbroadcast(g, a.shape), unbroadcast(g, b.shape)]),
  Sub: arith(({ x: [a, b], g }) => [unbroadcast(g, a.shape), unbroadcast(neg(g), b.shape)]),
  // Bilinear: each cotangent is linear in g and in the other operand.
  Mul: arith(({ x: [a, b], g }) => [unbroadcast(mul(g, b), a.shape), unbroadcast(mul(g, a), b.shape)]),
  Div: arith(({ x: [a, b], y, g }) => [
    unbroadcast(div(g, b), a.shape),
    unbroadcast(neg(div(mul(g, y), b)), b.shape),
  ]),
  Neg: pointwise(({ g }) => [neg(g)]),
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
    ...pointwise(({ x: [x], g, attrs }) => [
      where(and(greater(x, attrs.min as number), less(x, attrs.max as number)), g, 0),
    ]),
    inputAttrs: [
      { name: 'min', dtype: 'input' },
      { name: 'max', dtype: 'input' },
    ],
  },
  Sign: pointwise(zeroGrad),
  Identity: { infer: ([x]) => ({ shape: x.shape, dtype: x.dtype }), grad: ({ g }) => [g] },
  StopGradient: { infer: ([x]) => ({ shape: x.shape, dtype: x.dtype }), onnxOp: 'Identity', grad: zeroGrad },
  // Inference mode: Dropout is the identity.
  Dropout: { infer: ([x]) => ({ shape: x.shape, dtype: x.dtype }), grad: ({ g }) => [g] },
  Cast: {
    infer: ([x], attrs) => ({
      shape: x.shape,
      dtype: CODE_DTYPE[attrs.to as number] ?? fail('unknown Cast target'),
    }),
    attrs: { to: 'int' },
    grad: ({ x: [x], y, g }) => [
      FLOATS.includes(x.dtype) && FLOATS.includes(y.dtype) ? cast(g, x.dtype) : null,
    ],
  },
  Equal: compare('float'),
  Greater: compare('float'),
  Less: compare('float'),
  And: compare('bool'),
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
} satisfies Record<string, OpDef>;
