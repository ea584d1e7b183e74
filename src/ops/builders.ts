/**
 * The op builders: functions that emit nodes, and nothing else. Every family's rules are
 * written with them, so the families never import each other: the graph looks up each
 * op's signature in the table it was made with (`new Graph(OPS)`).
 */
import { type DType, ELEM_TYPE, type Graph, sizeOf, type Value } from '../graph/graph.js';
import type { ConvAttrs, NoAttrs, OpAttrs, OpType, ReductionOp } from './attrs.js';
import { fail, normAxis } from './types.js';

/** The attributes argument of `emit`: optional for ops that have none. */
type AttrsArg<K extends OpType> = NoAttrs extends OpAttrs[K] ? [attrs?: OpAttrs[K]] : [attrs: OpAttrs[K]];

/** Adds a node of op `op`, its attributes typed by the op. */
export function emit<K extends OpType>(
  graph: Graph,
  op: K,
  inputs: readonly Value[],
  ...[attrs]: AttrsArg<K>
): Value {
  return graph.addNode(op, inputs, attrs ?? {});
}

// Elementwise (numpy broadcasting)

export type Operand = Value | number;

export function graphOf(...xs: Operand[]): Value {
  const v = xs.find((x): x is Value => typeof x !== 'number');
  return v ?? fail('at least one operand must be a graph value');
}
export function lift(x: Operand, like: Value): Value {
  return typeof x === 'number' ? like.graph.scalar(x, like.dtype) : x;
}
type Binary =
  | 'Add'
  | 'Sub'
  | 'Mul'
  | 'Div'
  | 'Equal'
  | 'Greater'
  | 'Less'
  | 'GreaterOrEqual'
  | 'LessOrEqual'
  | 'And'
  | 'Or';
type Unary = 'Neg' | 'Abs' | 'Sqrt' | 'Exp' | 'Log' | 'Sigmoid' | 'Relu' | 'Sign' | 'Not' | 'Identity';

const binary = (op: Binary) => (a: Operand, b: Operand) => {
  const like = graphOf(a, b);
  return emit(like.graph, op, [lift(a, like), lift(b, like)]);
};
const unary = (op: Unary | 'StopGradient') => (x: Value) => emit(x.graph, op, [x]);

export const add = binary('Add');
export const sub = binary('Sub');
export const mul = binary('Mul');
export const div = binary('Div');
export const equal = binary('Equal');
export const greater = binary('Greater');
export const less = binary('Less');
export const greaterOrEqual = binary('GreaterOrEqual');
export const lessOrEqual = binary('LessOrEqual');
export const and = binary('And');
export const or = binary('Or');
export const neg = unary('Neg');
export const abs = unary('Abs');
export const sqrt = unary('Sqrt');
export const exp = unary('Exp');
export const log = unary('Log');
export const sigmoid = unary('Sigmoid');
export const relu = unary('Relu');
export const sign = unary('Sign');
export const not = unary('Not');
export const identity = unary('Identity');
/** The value, as a constant for differentiation: no cotangent flows through it. */
export const stopGradient = unary('StopGradient');
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
export const clip = (x: Value, min: number, max: number) => emit(x.graph, 'Clip', [x], { min, max });

export const cast = (x: Value, to: DType) =>
  x.dtype === to ? x : emit(x.graph, 'Cast', [x], { to: ELEM_TYPE[to] });
export function where(cond: Value, a: Operand, b: Operand): Value {
  const like = graphOf(a, b);
  return emit(cond.graph, 'Where', [cond, lift(a, like), lift(b, like)]);
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

/**
 * The cotangent of a parameter of shape `shape` broadcast into g: summed back to `shape`,
 * or, per sample, to [N, ...shape] with the samples on g's axis 0 kept apart.
 */
export function paramCotangent(g: Value, shape: readonly number[], perSample = false): Value {
  if (!perSample) return unbroadcast(g, shape);
  const lead = g.rank - shape.length;
  if (lead < 0 || (lead === 0 && shape[0] !== 1))
    fail(`a per-sample parameter of shape [${shape}] must not span the batch axis of [${g.shape}]`);
  const axes = g.shape
    .map((_, i) => i)
    .filter((i) => i > 0 && (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)));
  return reshape(axes.length ? reduceSum(g, axes, true) : g, [g.shape[0], ...shape]);
}

// Data movement

/** Reshape; one entry may be -1 (inferred). */
export function reshape(x: Value, shape: readonly number[]): Value {
  const known = shape.filter((d) => d !== -1);
  const resolved = shape.map((d) => (d === -1 ? x.size / Math.max(1, sizeOf(known)) : d));
  if (resolved.length === x.rank && resolved.every((d, i) => d === x.shape[i])) return x;
  return emit(x.graph, 'Reshape', [x], { shape: resolved });
}
export const flatten = (x: Value, axis = 1) =>
  emit(x.graph, 'Flatten', [x], { axis: normAxis(axis, x.rank) });
export function transpose(x: Value, perm: readonly number[]): Value {
  if (perm.every((p, i) => p === i)) return x;
  return emit(x.graph, 'Transpose', [x], { perm });
}
export function expand(x: Value, shape: readonly number[]): Value {
  if (shape.length === x.rank && shape.every((d, i) => d === x.shape[i])) return x;
  return emit(x.graph, 'Expand', [x], { shape });
}
export function concat(xs: readonly Value[], axis: number): Value {
  if (xs.length === 1) return xs[0];
  return emit(xs[0].graph, 'Concat', xs, { axis: normAxis(axis, xs[0].rank) });
}
/** Slice along `axes` (all axes by default) with steps of 1 unless given; bounds clamp like numpy. */
export function slice(
  x: Value,
  starts: readonly number[],
  ends: readonly number[],
  axes: readonly number[] = starts.map((_, i) => i),
  steps: readonly number[] = starts.map(() => 1),
): Value {
  const ax = axes.map((a) => normAxis(a, x.rank));
  const clampIdx = (v: number, dim: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
  const s = starts.map((v, i) => clampIdx(v, x.shape[ax[i]]));
  const e = ends.map((v, i) => clampIdx(v, x.shape[ax[i]]));
  if (ax.every((a, i) => s[i] === 0 && e[i] === x.shape[a] && steps[i] === 1)) return x;
  return emit(x.graph, 'Slice', [x], { starts: s, ends: e, axes: ax, steps });
}
/** Zero padding: `pads` = [begin_0, ..., begin_n, end_0, ..., end_n] as in ONNX. */
export function pad(x: Value, pads: readonly number[]): Value {
  if (pads.every((p) => p === 0)) return x;
  return emit(x.graph, 'Pad', [x], { pads });
}

// Reductions and normalisers

const reducer =
  (op: ReductionOp) =>
  (x: Value, axes: readonly number[], keepdims = false) =>
    emit(x.graph, op, [x], {
      axes: [...new Set(axes.map((a) => normAxis(a, x.rank)))].sort((a, b) => a - b),
      keepdims: keepdims ? 1 : 0,
    });

export const reduceSum = reducer('ReduceSum');
export const reduceMean = reducer('ReduceMean');
export const reduceMax = reducer('ReduceMax');
export const reduceMin = reducer('ReduceMin');
/** sqrt of the sum of squares. */
export const reduceL2 = reducer('ReduceL2');
/** Sum of absolute values in one pass (no |x| intermediate). */
export const reduceL1 = reducer('ReduceL1');
export const softmax = (x: Value, axis = -1) =>
  emit(x.graph, 'Softmax', [x], { axis: normAxis(axis, x.rank) });
export const logSoftmax = (x: Value, axis = -1) =>
  emit(x.graph, 'LogSoftmax', [x], { axis: normAxis(axis, x.rank) });
/** The k largest values along the last axis, largest first (their indices are not used). */
export const topKValues = (x: Value, k: number) =>
  emit(x.graph, 'TopK', [x], { k: [k], axis: -1, largest: 1, sorted: 1 });
export function cumSum(x: Value, axis: number, opts: { exclusive?: boolean; reverse?: boolean } = {}): Value {
  return emit(x.graph, 'CumSum', [x], {
    axis: normAxis(axis, x.rank),
    exclusive: opts.exclusive ? 1 : 0,
    reverse: opts.reverse ? 1 : 0,
  });
}

// Products

export const matmul = (a: Value, b: Value) => emit(a.graph, 'MatMul', [a, b]);

export interface GemmOptions {
  alpha?: number;
  beta?: number;
  transA?: boolean;
  transB?: boolean;
}
/** alpha * op(A) op(B) + beta * C, where op transposes when asked. */
export function gemm(a: Value, b: Value, c?: Value, o: GemmOptions = {}): Value {
  return emit(a.graph, 'Gemm', c ? [a, b, c] : [a, b], {
    alpha: o.alpha ?? 1,
    beta: o.beta ?? 1,
    transA: o.transA ? 1 : 0,
    transB: o.transB ? 1 : 0,
  });
}

// Convolution (NCHW, explicit pads as PyTorch does, never SAME)

export interface ConvOptions {
  strides?: readonly number[];
  /** [top, left, bottom, right] */
  pads?: readonly number[];
  dilations?: readonly number[];
  group?: number;
}
function convAttrs(o: ConvOptions): ConvAttrs {
  return {
    strides: [...(o.strides ?? [1, 1])],
    pads: [...(o.pads ?? [0, 0, 0, 0])],
    dilations: [...(o.dilations ?? [1, 1])],
    group: o.group ?? 1,
  };
}

export function conv(x: Value, w: Value, b?: Value, o: ConvOptions = {}): Value {
  return emit(x.graph, 'Conv', b ? [x, w, b] : [x, w], convAttrs(o));
}

/** The adjoint of `conv` in x; `outputShape` ([H, W]) picks the output_padding that restores it. */
export function convTranspose(
  x: Value,
  w: Value,
  b: Value | undefined,
  o: ConvOptions & { outputShape?: readonly number[]; outputPadding?: readonly number[] },
): Value {
  const a = convAttrs(o);
  let outputPadding = [...(o.outputPadding ?? [0, 0])];
  if (o.outputShape) {
    outputPadding = [0, 1].map((i) => {
      const k = w.shape[2 + i];
      return o.outputShape![i] - transposedSize(x.shape[2 + i], k, a, i, 0);
    });
  }
  return emit(x.graph, 'ConvTranspose', b ? [x, w, b] : [x, w], { ...a, output_padding: outputPadding });
}

/** Output size of a Conv along spatial axis i, for input size n and kernel size k. */
export function convSize(n: number, k: number, a: ConvAttrs, i: number): number {
  return Math.floor((n + a.pads[i] + a.pads[i + 2] - a.dilations[i] * (k - 1) - 1) / a.strides[i]) + 1;
}
/** Output size of a ConvTranspose along spatial axis i. */
export function transposedSize(n: number, k: number, a: ConvAttrs, i: number, outputPadding: number): number {
  return a.strides[i] * (n - 1) + outputPadding + a.dilations[i] * (k - 1) + 1 - a.pads[i] - a.pads[i + 2];
}

/**
 * Sliding-window patches of x as channels: [N, C*kh*kw, Ho, Wo], channel c*kh*kw + (u*kw + v)
 * holding x at kernel offset (u, v). A depthwise Conv with a one-hot kernel, so exact and differentiable.
 */
export function extractPatches(x: Value, kernel: readonly number[], o: ConvOptions): Value {
  const c = x.shape[1];
  return conv(x, oneHotKernel(x, kernel), undefined, { ...convAttrs(o), group: c });
}

/** The adjoint of extractPatches: adds every patch entry back at its position (overlaps sum). */
export function foldPatches(
  p: Value,
  kernel: readonly number[],
  o: ConvOptions,
  outputShape: readonly number[],
): Value {
  const kk = kernel[0] * kernel[1];
  const c = p.shape[1] / kk;
  return convTranspose(p, oneHotKernel(p, kernel, c), undefined, { ...convAttrs(o), group: c, outputShape });
}

function oneHotKernel(like: Value, kernel: readonly number[], channels = like.shape[1]): Value {
  const [kh, kw] = kernel;
  const kk = kh * kw;
  return like.graph.cachedConstant(`onehot:${like.dtype}:${channels}:${kh}x${kw}`, () => {
    const data = new Float32Array(channels * kk * kk);
    for (let ch = 0; ch < channels; ch++) for (let j = 0; j < kk; j++) data[(ch * kk + j) * kk + j] = 1;
    const k = like.graph.constant(data, [channels * kk, 1, kh, kw]);
    return like.dtype === 'float32' ? k : like.graph.constant(Float64Array.from(data), k.shape);
  });
}

// Pooling and normalisation

export interface PoolOptions {
  kernel: readonly number[];
  strides?: readonly number[];
  /** [top, left, bottom, right] */
  pads?: readonly number[];
}
function poolAttrs(o: PoolOptions) {
  return {
    kernel_shape: [...o.kernel],
    strides: [...(o.strides ?? o.kernel)],
    pads: [...(o.pads ?? [0, 0, 0, 0])],
  };
}
export const maxPool = (x: Value, o: PoolOptions) => emit(x.graph, 'MaxPool', [x], poolAttrs(o));
export const averagePool = (x: Value, o: PoolOptions & { countIncludePad?: boolean }) =>
  emit(x.graph, 'AveragePool', [x], {
    ...poolAttrs(o),
    count_include_pad: o.countIncludePad === false ? 0 : 1,
  });
export const globalAveragePool = (x: Value) => emit(x.graph, 'GlobalAveragePool', [x]);

export function batchNorm(
  x: Value,
  scale: Value,
  bias: Value,
  mean: Value,
  variance: Value,
  epsilon = 1e-5,
): Value {
  return emit(x.graph, 'BatchNormalization', [x, scale, bias, mean, variance], { epsilon });
}
