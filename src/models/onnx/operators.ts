/**
 * The ONNX operators pss replays on its own graph: one rule per operator (or family), keyed by
 * op type. A rule reads its node's attributes and inputs and calls pss's differentiable ops;
 * ops evaluated only on constants live in static.ts.
 */
import type { Value } from '../../graph/graph.js';
import * as op from '../../ops/index.js';
import { float, int, ints, type NodeProto, string } from './decode.js';
import { squeezed, unsqueezed } from './static.js';

/** What a replay rule sees of its node. */
export interface ReplayContext {
  readonly node: NodeProto;
  /** Whether input k is given (ONNX leaves an optional input's name empty). */
  has(k: number): boolean;
  /** Input k on the graph (a constant input becomes a graph constant). */
  value(k: number): Value;
  /** Every input on the graph. */
  values(): Value[];
  /** Input k's values, which must be static; `what` names it in the error. */
  constant(k: number, what: string): number[];
  /** A conv's output through the model's hook, given the input k that holds its weight. */
  convOutput(k: number, y: Value): Value;
  readonly opset: number;
  /** Throws a PssError naming the model. */
  fail(message: string): never;
}
export type ReplayRule = (c: ReplayContext) => Value;

const unary =
  (f: (x: Value) => Value): ReplayRule =>
  (c) =>
    f(c.value(0));
const binary =
  (f: (a: Value, b: Value) => Value): ReplayRule =>
  (c) =>
    f(c.value(0), c.value(1));

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
    const kernel = ints(n, 'kernel_shape') ?? c.fail(`${type} has no kernel_shape`);
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

const reduce =
  (type: 'ReduceMean' | 'ReduceSum' | 'ReduceMax', f: typeof op.reduceSum): ReplayRule =>
  (c) => {
    const x = c.value(0);
    // axes moved from the attribute to an input: ReduceSum's at opset 13, the others' at 18
    const fromInput = type === 'ReduceSum' ? c.opset >= 13 : c.opset >= 18;
    const axes =
      (fromInput && c.has(1) ? c.constant(1, `${type} axes`) : ints(c.node, 'axes')) ??
      x.shape.map((_, i) => i);
    return f(x, axes, int(c.node, 'keepdims', 1) === 1);
  };

const softmax =
  (type: 'Softmax' | 'LogSoftmax', f: typeof op.softmax): ReplayRule =>
  (c) => {
    const x = c.value(0);
    if (c.opset < 13 && x.rank !== 2) c.fail(`${type} before opset 13 is supported on matrices only`);
    return f(x, int(c.node, 'axis', -1));
  };

/** Squeeze/Unsqueeze axes: the second input (opset 13+) or the attribute. */
const squeezeAxes = (c: ReplayContext, type: string) =>
  c.has(1) ? c.constant(1, `${type} axes`) : ints(c.node, 'axes', [])!;

const clampIndex = (v: number) => Math.max(-(2 ** 31), Math.min(2 ** 31, v));

const REPLAY_RULES: Readonly<Record<string, ReplayRule>> = {
  // ---- convolution, normalisation, pooling, products
  Conv: (c) => {
    const w = c.value(1);
    const x = c.value(0);
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
  MaxPool: pool('MaxPool'),
  AveragePool: pool('AveragePool'),
  GlobalAveragePool: unary(op.globalAveragePool),
  Gemm: (c) =>
    op.gemm(c.value(0), c.value(1), c.has(2) ? c.value(2) : undefined, {
      alpha: float(c.node, 'alpha', 1),
      beta: float(c.node, 'beta', 1),
      transA: int(c.node, 'transA', 0) === 1,
      transB: int(c.node, 'transB', 0) === 1,
    }),
  MatMul: binary(op.matmul),

  // ---- elementwise
  Add: binary(op.add),
  Sub: binary(op.sub),
  Mul: binary(op.mul),
  Div: binary(op.div),
  Neg: unary(op.neg),
  Abs: unary(op.abs),
  Sqrt: unary(op.sqrt),
  Exp: unary(op.exp),
  Log: unary(op.log),
  Sigmoid: unary(op.sigmoid),
  Relu: unary(op.relu),
  Clip: (c) => {
    // min and max: inputs since opset 11, attributes before
    const lo = c.has(1) ? c.constant(1, 'Clip min')[0] : float(c.node, 'min', -3.4e38);
    const hi = c.has(2) ? c.constant(2, 'Clip max')[0] : float(c.node, 'max', 3.4e38);
    return op.clip(c.value(0), lo, hi);
  },
  Identity: (c) => c.value(0),
  Dropout: (c) => c.value(0),

  // ---- reductions and normalisers
  ReduceMean: reduce('ReduceMean', op.reduceMean),
  ReduceSum: reduce('ReduceSum', op.reduceSum),
  ReduceMax: reduce('ReduceMax', op.reduceMax),
  Softmax: softmax('Softmax', op.softmax),
  LogSoftmax: softmax('LogSoftmax', op.logSoftmax),

  // ---- data movement
  Flatten: (c) => op.flatten(c.value(0), int(c.node, 'axis', 1)),
  Reshape: (c) => {
    const x = c.value(0);
    // a 0 copies the input's dimension, unless allowzero
    const shape = c
      .constant(1, 'Reshape shape')
      .map((d, i) => (d === 0 && !int(c.node, 'allowzero', 0) ? x.shape[i] : d));
    return op.reshape(x, shape);
  },
  Squeeze: (c) => {
    const x = c.value(0);
    return op.reshape(x, squeezed(x.shape, squeezeAxes(c, 'Squeeze')));
  },
  Unsqueeze: (c) => {
    const x = c.value(0);
    return op.reshape(x, unsqueezed(x.shape, squeezeAxes(c, 'Unsqueeze')));
  },
  Concat: (c) => op.concat(c.values(), int(c.node, 'axis', 0)),
  Transpose: (c) => {
    const x = c.value(0);
    return op.transpose(
      x,
      ints(
        c.node,
        'perm',
        x.shape.map((_, i) => x.rank - 1 - i),
      )!,
    );
  },
  Pad: (c) => {
    const mode = string(c.node, 'mode', 'constant');
    const value = c.has(2) ? c.constant(2, 'Pad value')[0] : 0;
    if (mode !== 'constant' || value !== 0) c.fail(`only zero padding is supported (Pad mode ${mode})`);
    return op.pad(c.value(0), c.has(1) ? c.constant(1, 'Pad pads') : ints(c.node, 'pads')!);
  },
  Slice: (c) => {
    const x = c.value(0);
    const [starts, ends] = [c.constant(1, 'Slice starts'), c.constant(2, 'Slice ends')];
    const axes = c.has(3) ? c.constant(3, 'Slice axes') : starts.map((_, i) => i);
    const steps = c.has(4) ? c.constant(4, 'Slice steps') : undefined;
    return op.slice(x, starts.map(clampIndex), ends.map(clampIndex), axes, steps);
  },
};

/** The replay rule of an op type, if pss replays it. */
export const replayRule = (opType: string): ReplayRule | undefined =>
  Object.hasOwn(REPLAY_RULES, opType) ? REPLAY_RULES[opType] : undefined;
