/**
 * The ONNX operators pss replays on its own graph: one rule per operator (or family), keyed by
 * op type. A rule reads its node's attributes and inputs and calls pss's differentiable ops;
 * nodes arrive in their opset-21 form (opsets.ts). Data movement and indexing rules are in
 * movement.ts; ops evaluated only on constants live in static.ts.
 */
import type { Value } from '../../graph/graph.js';
import * as op from '../../ops/index.js';
import { float, int, ints, string } from './decode.js';
import { MOVEMENT_RULES } from './movement.js';
import {
  binary,
  optionalList,
  type ReplayContext,
  type ReplayRule,
  type ReplayRules,
  unary,
} from './rule.js';

export type { ReplayContext, ReplayRule } from './rule.js';

/** ONNX pads, with auto_pad SAME_UPPER/SAME_LOWER/VALID resolved on the static input size. */
function explicitPads(c: ReplayContext, spatial: readonly number[], kernel: readonly number[]): number[] {
  const n = c.node;
  const autoPad = string(n, 'auto_pad', 'NOTSET');
  if (autoPad === 'NOTSET') return ints(n, 'pads', [0, 0, 0, 0])!;
  if (autoPad === 'VALID') return [0, 0, 0, 0];
  if (autoPad !== 'SAME_UPPER' && autoPad !== 'SAME_LOWER') c.fail(`unknown auto_pad ${autoPad}`);
  const strides = ints(n, 'strides', [1, 1])!;
  const dilations = ints(n, 'dilations', [1, 1])!;
  const pads = [0, 0, 0, 0];
  [0, 1].forEach((i) => {
    const out = Math.ceil(spatial[i] / strides[i]);
    const total = Math.max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - spatial[i]);
    const small = Math.floor(total / 2);
    [pads[i], pads[i + 2]] = autoPad === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
  });
  return pads;
}

const pool =
  (type: 'MaxPool' | 'AveragePool'): ReplayRule =>
  (c) => {
    const n = c.node;
    if (ints(n, 'dilations', [1, 1])!.some((d) => d !== 1)) c.fail('dilated pooling is not supported');
    if (type === 'MaxPool' && (n.output ?? []).filter(Boolean).length > 1)
      c.fail('MaxPool with an Indices output is not supported');
    const kernel = ints(n, 'kernel_shape') ?? c.fail(`${type} has no kernel_shape`);
    if (kernel.length !== 2) c.fail(`${type} over ${kernel.length} spatial axes is not supported`);
    const strides = ints(n, 'strides', [1, 1])!;
    const x = c.value(0);
    const pads = explicitPads(c, x.shape.slice(2), kernel);
    if (int(n, 'ceil_mode', 0)) {
      // Ceil mode = extra end padding that lets the last partial window count.
      if (type === 'AveragePool') c.fail('AveragePool with ceil_mode is not supported');
      [0, 1].forEach((i) => {
        const span = x.shape[2 + i] + pads[i] + pads[i + 2] - kernel[i];
        pads[i + 2] += (strides[i] - (span % strides[i])) % strides[i];
      });
    }
    return type === 'MaxPool'
      ? op.maxPool(x, { kernel, strides, pads })
      : op.averagePool(x, { kernel, strides, pads, countIncludePad: int(n, 'count_include_pad', 0) === 1 });
  };

/** Reduce*: axes from the second input (opset-18 form), all axes when absent unless noop_with_empty_axes. */
const reduce =
  (f: (x: Value, axes: readonly number[], keep: boolean) => Value): ReplayRule =>
  (c) => {
    const x = c.value(0);
    const axes = optionalList(c, 1, `${c.node.opType} axes`);
    if (!axes && int(c.node, 'noop_with_empty_axes', 0)) return x;
    return f(x, axes ?? x.shape.map((_, i) => i), int(c.node, 'keepdims', 1) === 1);
  };

const softmax =
  (f: typeof op.softmax): ReplayRule =>
  (c) =>
    f(c.value(0), int(c.node, 'axis', -1));

/** Variadic Sum, Mean, Min, Max (numpy broadcasting). */
const variadic =
  (f: (xs: Value[]) => Value): ReplayRule =>
  (c) =>
    f(c.values());

/** Only the first output of an op whose others serve training (LayerNormalization's Mean and InvStdDev). */
const inferenceOnly = (c: ReplayContext, what: string) => {
  if ((c.node.output ?? []).slice(1).some(Boolean))
    c.fail(`${what} with its training outputs is not supported`);
};

const NN_RULES: ReplayRules = {
  // ---- convolution, normalisation, pooling, products
  Conv: (c) => {
    const w = c.value(1);
    const x = c.value(0);
    if (w.rank !== 4) c.fail(`Conv over ${w.rank - 2} spatial axes is not supported`);
    const y = op.conv(x, w, c.has(2) ? c.value(2) : undefined, {
      strides: ints(c.node, 'strides', [1, 1]),
      dilations: ints(c.node, 'dilations', [1, 1]),
      group: int(c.node, 'group', 1),
      pads: explicitPads(c, x.shape.slice(2), w.shape.slice(2)),
    });
    return c.convOutput(1, y);
  },
  BatchNormalization: (c) => {
    if ((c.node.output ?? []).filter(Boolean).length > 1 || int(c.node, 'training_mode', 0))
      c.fail('BatchNormalization in training mode is not supported');
    const [x, scale, bias, mean, variance] = [0, 1, 2, 3, 4].map(c.value);
    return op.batchNorm(x, scale, bias, mean, variance, float(c.node, 'epsilon', 1e-5));
  },
  LayerNormalization: (c) => {
    inferenceOnly(c, 'LayerNormalization');
    const x = c.value(0);
    const axis = int(c.node, 'axis', -1);
    return op.layerNorm(
      x,
      c.value(1),
      c.has(2) ? c.value(2) : undefined,
      axis,
      float(c.node, 'epsilon', 1e-5),
    );
  },
  InstanceNormalization: (c) =>
    op.instanceNorm(c.value(0), c.value(1), c.value(2), float(c.node, 'epsilon', 1e-5)),
  LRN: (c) =>
    op.lrn(
      c.value(0),
      int(c.node, 'size', 0) || c.fail('LRN has no size'),
      float(c.node, 'alpha', 1e-4),
      float(c.node, 'beta', 0.75),
      float(c.node, 'bias', 1),
    ),
  MaxPool: pool('MaxPool'),
  AveragePool: pool('AveragePool'),
  GlobalAveragePool: unary(op.globalAveragePool),
  GlobalMaxPool: unary(op.globalMaxPool),
  // Through the hook: a Gemm or MatMul with a constant weight holds neurons (inspect.ts
  // neuronWeights; the import's probe keeps those whose output has the samples on axis 0).
  Gemm: (c) =>
    c.linearOutput(
      1,
      op.gemm(c.value(0), c.value(1), c.has(2) ? c.value(2) : undefined, {
        alpha: float(c.node, 'alpha', 1),
        beta: float(c.node, 'beta', 1),
        transA: int(c.node, 'transA', 0) === 1,
        transB: int(c.node, 'transB', 0) === 1,
      }),
    ),
  MatMul: (c) => c.linearOutput(1, op.matmul(c.value(0), c.value(1))),
  Einsum: (c) => op.einsum(string(c.node, 'equation', ''), ...c.values()),

  // ---- elementwise arithmetic
  Add: binary(op.add),
  Sub: binary(op.sub),
  Mul: binary(op.mul),
  Div: binary(op.div),
  Pow: binary(op.pow),
  Mod: (c) => op.mod(c.value(0), c.value(1), int(c.node, 'fmod', 0) === 1),
  Neg: unary(op.neg),
  Abs: unary(op.abs),
  Sqrt: unary(op.sqrt),
  Reciprocal: (c) => op.div(1, c.value(0)),
  Exp: unary(op.exp),
  Log: unary(op.log),
  Sum: variadic((xs) => xs.reduce((a, b) => op.add(a, b))),
  Mean: variadic((xs) =>
    op.div(
      xs.reduce((a, b) => op.add(a, b)),
      xs.length,
    ),
  ),
  Min: variadic((xs) => op.min(xs[0], ...xs.slice(1))),
  Max: variadic((xs) => op.max(xs[0], ...xs.slice(1))),
  Clip: (c) => {
    const bound = (k: number, dflt: number) =>
      c.has(k) ? (c.konst(k)?.data[0] ?? c.fail('Clip bounds must be constants')) : dflt;
    return op.clip(c.value(0), bound(1, -3.4028234663852886e38), bound(2, 3.4028234663852886e38));
  },
  Dropout: (c) => c.value(0),

  // ---- activations
  Relu: unary(op.relu),
  Sigmoid: unary(op.sigmoid),
  Tanh: unary(op.tanh),
  Erf: unary(op.erf),
  Softplus: unary(op.softplus),
  HardSigmoid: (c) => op.hardSigmoid(c.value(0), float(c.node, 'alpha', 0.2), float(c.node, 'beta', 0.5)),
  HardSwish: unary(op.hardSwish),
  LeakyRelu: (c) => op.leakyRelu(c.value(0), float(c.node, 'alpha', 0.01)),
  PRelu: (c) => op.prelu(c.value(0), c.value(1)),
  Elu: (c) => op.elu(c.value(0), float(c.node, 'alpha', 1)),
  Selu: (c) =>
    op.selu(c.value(0), float(c.node, 'alpha', op.SELU_ALPHA), float(c.node, 'gamma', op.SELU_GAMMA)),
  Gelu: (c) => {
    const approximate = string(c.node, 'approximate', 'none');
    if (approximate !== 'none' && approximate !== 'tanh') c.fail(`Gelu approximate ${approximate}`);
    return op.gelu(c.value(0), approximate === 'tanh' ? 'tanh' : 'none');
  },

  // ---- comparisons and selection (masks computed from data; constant ones are static)
  Equal: binary(op.equal),
  Less: binary(op.less),
  Greater: binary(op.greater),
  LessOrEqual: binary(op.lessOrEqual),
  GreaterOrEqual: binary(op.greaterOrEqual),
  And: binary(op.and),
  Or: binary(op.or),
  Not: unary(op.not),
  Where: (c) => op.where(c.value(0), c.value(1), c.value(2)),
  // pss's graphs compute in float32: a half-precision file (Casts to float16 or bfloat16 around
  // its ops) runs at float32's precision, as double does
  Cast: (c) => {
    const to = int(c.node, 'to', 1);
    const dtype =
      to === 9
        ? 'bool'
        : to === 7 || to === 6
          ? 'int64'
          : [1, 10, 11, 16].includes(to)
            ? 'float32'
            : undefined;
    return dtype ? op.cast(c.value(0), dtype) : c.fail(`Cast to ONNX type ${to} is not supported`);
  },

  // ---- reductions and normalisers
  ReduceMean: reduce(op.reduceMean),
  ReduceSum: reduce(op.reduceSum),
  ReduceMax: reduce(op.reduceMax),
  ReduceMin: reduce(op.reduceMin),
  ReduceL1: reduce(op.reduceL1),
  ReduceL2: reduce(op.reduceL2),
  ReduceSumSquare: reduce((x, axes, keep) => op.reduceSum(op.mul(x, x), axes, keep)),
  Softmax: softmax(op.softmax),
  LogSoftmax: softmax(op.logSoftmax),
};

const REPLAY_RULES: ReplayRules = { ...NN_RULES, ...MOVEMENT_RULES };

/** The replay rule of an op type, if pss replays it. */
export const replayRule = (opType: string): ReplayRule | undefined =>
  Object.hasOwn(REPLAY_RULES, opType) ? REPLAY_RULES[opType] : undefined;

/** Every op type pss replays or evaluates (for the documentation and the tests). */
export const replayedOps = (): string[] => Object.keys(REPLAY_RULES).sort();
