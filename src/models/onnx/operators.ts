/**
 * The ONNX operators pss replays on its own graph: one rule per operator (or family), keyed by
 * op type. A rule reads its node's attributes and inputs and calls pss's differentiable ops;
 * nodes arrive in their opset-21 form (opsets.ts). Data movement and indexing rules are in
 * movement.ts; ops evaluated only on constants live in static.ts.
 */
import type { Value } from '../../graph/graph.js';
import * as op from '../../ops/index.js';
import { float, int, ints, kindOf, string } from './decode.js';
import { MOVEMENT_RULES } from './movement.js';
import {
  binary,
  optionalList,
  type ReplayContext,
  type ReplayRule,
  type ReplayRules,
  unary,
} from './rule.js';
import { asTwoD, ceilPads, explicitPads, includePadFactor, perAxis, transposedPads } from './spatial.js';
import { sizeOf } from './tensor.js';

export type { ReplayContext, ReplayRule } from './rule.js';

const pool =
  (type: 'MaxPool' | 'AveragePool'): ReplayRule =>
  (c) => {
    const n = c.node;
    if (ints(n, 'dilations')?.some((d) => d !== 1)) c.fail('dilated pooling is not supported');
    if (type === 'MaxPool' && (n.output ?? []).filter(Boolean).length > 1)
      c.fail('MaxPool with an Indices output is not supported');
    const kernel = ints(n, 'kernel_shape') ?? c.fail(`${type} has no kernel_shape`);
    const x = c.value(0);
    const r = kernel.length;
    if (x.rank !== r + 2) c.fail(`${type} kernel_shape [${kernel}] does not fit an input of rank ${x.rank}`);
    const strides = perAxis(c, 'strides', r, 1);
    const spatial = x.shape.slice(2);
    const given = { kernel, strides, pads: explicitPads(c, spatial, kernel) };
    const ceil = int(n, 'ceil_mode', 0) === 1;
    const pads = ceil ? ceilPads(spatial, given) : given.pads;
    const countIncludePad = int(n, 'count_include_pad', 0) === 1;
    // ceil mode's extension is padding no window counts: count the real entries only, and
    // rescale to the file's pads where count_include_pad asks for them
    const rescale = type === 'AveragePool' && ceil && countIncludePad;
    const y =
      asTwoD(x, { kernel, strides, pads }, (v, w) =>
        type === 'MaxPool'
          ? op.maxPool(v, w)
          : op.averagePool(v, { ...w, countIncludePad: countIncludePad && !rescale }),
      ) ??
      c.fail(
        `${type} over ${r} spatial axes is supported when at most 2 of them pool (the others kernel 1, stride 1, no pads); kernel_shape [${kernel}], strides [${strides}], pads [${pads}]`,
      );
    if (!rescale) return y;
    const factor = includePadFactor(spatial, given, pads);
    return op.mul(y, x.graph.constant(factor.data, factor.shape));
  };

/** Conv over 1 spatial axis: a 2-D conv of [N, C, 1, L] with the weight [O, I, k] as [O, I, 1, k]. */
function conv1d(c: ReplayContext, x: Value, w: Value, b: Value | undefined): Value {
  if (x.rank !== 3) c.fail(`a Conv weight [${w.shape}] needs an input of rank 3; it is [${x.shape}]`);
  const [n, ch, len] = x.shape;
  const [o, i, k] = w.shape;
  const [p0, p1] = explicitPads(c, [len], [k]);
  const y = op.conv(op.reshape(x, [n, ch, 1, len]), op.reshape(w, [o, i, 1, k]), b, {
    strides: [1, ...perAxis(c, 'strides', 1, 1)],
    dilations: [1, ...perAxis(c, 'dilations', 1, 1)],
    group: int(c.node, 'group', 1),
    pads: [0, p0, 0, p1],
  });
  return op.reshape(y, [n, y.shape[1], y.shape[3]]);
}

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
    const b = c.has(2) ? c.value(2) : undefined;
    if (w.rank === 3) return c.convOutput(1, conv1d(c, x, w, b));
    if (w.rank !== 4) c.fail(`Conv over ${w.rank - 2} spatial axes is not supported`);
    const y = op.conv(x, w, b, {
      strides: perAxis(c, 'strides', 2, 1),
      dilations: perAxis(c, 'dilations', 2, 1),
      group: int(c.node, 'group', 1),
      pads: explicitPads(c, x.shape.slice(2), w.shape.slice(2)),
    });
    return c.convOutput(1, y);
  },
  // The weight [C, M/group, kh, kw] is a parameter but holds no units (its output channels are
  // its axis 1 within each group; inspect.ts parameters).
  ConvTranspose: (c) => {
    const w = c.value(1);
    const x = c.value(0);
    if (w.rank !== 4) c.fail(`ConvTranspose over ${w.rank - 2} spatial axes is not supported`);
    const a = {
      strides: perAxis(c, 'strides', 2, 1),
      dilations: perAxis(c, 'dilations', 2, 1),
      outputPadding: perAxis(c, 'output_padding', 2, 0),
    };
    const kernel = ints(c.node, 'kernel_shape') ?? w.shape.slice(2);
    if (kernel.join() !== w.shape.slice(2).join())
      c.fail(`kernel_shape [${kernel}] is not the weight's [${w.shape.slice(2)}]`);
    return op.convTranspose(x, w, c.has(2) ? c.value(2) : undefined, {
      ...a,
      group: int(c.node, 'group', 1),
      pads: transposedPads(c, x.shape.slice(2), kernel, a),
    });
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
  GroupNormalization: (c) => {
    inferenceOnly(c, 'GroupNormalization');
    const x = c.value(0);
    const groups = int(c.node, 'num_groups', 0);
    const [n, channels, ...spatial] = x.shape;
    if (!(groups > 0) || channels % groups)
      c.fail(`${channels} channels do not split into num_groups = ${groups} groups`);
    const per = (channels / groups) * sizeOf(spatial);
    const ones = x.graph.cachedConstant(`ones:${per}`, () =>
      x.graph.constant(new Float32Array(per).fill(1), [per]),
    );
    const normed = op.layerNorm(
      op.reshape(x, [n, groups, per]),
      ones,
      undefined,
      2,
      float(c.node, 'epsilon', 1e-5),
    );
    const [scale, bias] = [c.value(1), c.value(2)];
    // opset 18 scales per group ([G]), opset 21 per channel ([C]): the length tells (G = C reads the same either way)
    if (scale.shape[0] === groups && groups !== channels)
      return op.reshape(
        op.add(op.mul(normed, op.reshape(scale, [groups, 1])), op.reshape(bias, [groups, 1])),
        x.shape,
      );
    const perChannel = [channels, ...spatial.map(() => 1)];
    return op.add(
      op.mul(op.reshape(normed, x.shape), op.reshape(scale, perChannel)),
      op.reshape(bias, perChannel),
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
  Mish: (c) => {
    const x = c.value(0);
    return op.mul(x, op.tanh(op.softplus(x)));
  },
  Softsign: (c) => {
    const x = c.value(0);
    return op.div(x, op.add(op.abs(x), 1));
  },
  // alpha · elu(x / alpha), as the spec defines it
  Celu: (c) => {
    const alpha = float(c.node, 'alpha', 1);
    return op.mul(op.elu(op.div(c.value(0), alpha)), alpha);
  },
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
      to === 9 ? 'bool' : to === 7 || to === 6 ? 'int64' : kindOf(to) === 'float' ? 'float32' : undefined;
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
