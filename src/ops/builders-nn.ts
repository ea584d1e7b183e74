/**
 * Builders of activations, pointwise maths and normalisers (their ops: activations.ts,
 * norm.ts, pool.ts). Where ONNX opset 18 has no operator (Gelu is opset 20) or ONNX Runtime
 * has no kernel (float Mod with fmod = 0), the builder composes the op from others.
 */
import type { Value } from '../graph/graph.js';
import { add, div, emit, graphOf, lift, mul, type Operand, sub } from './builders.js';
import { unsupported } from './types.js';

export const tanh = (x: Value) => emit(x.graph, 'Tanh', [x]);
export const erf = (x: Value) => emit(x.graph, 'Erf', [x]);
/** log(1 + exp(x)). */
export const softplus = (x: Value) => emit(x.graph, 'Softplus', [x]);
/** Rounds down; its derivative is zero. */
export const floor = (x: Value) => emit(x.graph, 'Floor', [x]);
/** clip(alpha x + beta, 0, 1); PyTorch's hardsigmoid is alpha = 1/6. */
export const hardSigmoid = (x: Value, alpha = 0.2, beta = 0.5) =>
  emit(x.graph, 'HardSigmoid', [x], { alpha, beta });
/** x * hardSigmoid(x, 1/6, 1/2). */
export const hardSwish = (x: Value) => emit(x.graph, 'HardSwish', [x]);
export const leakyRelu = (x: Value, alpha = 0.01) => emit(x.graph, 'LeakyRelu', [x], { alpha });
/** x where x > 0, else slope * x; `slope` broadcasts to x (one per channel: [C, 1, 1]). */
export const prelu = (x: Value, slope: Value) => emit(x.graph, 'PRelu', [x, slope]);
export const elu = (x: Value, alpha = 1) => emit(x.graph, 'Elu', [x], { alpha });
/** ONNX's SELU defaults: PyTorch's constants rounded to float32. */
export const SELU_ALPHA = Math.fround(1.6732632423543772);
export const SELU_GAMMA = Math.fround(1.0507009873554805);
export const selu = (x: Value, alpha = SELU_ALPHA, gamma = SELU_GAMMA) =>
  emit(x.graph, 'Selu', [x], { alpha, gamma });

/**
 * GELU, composed: ONNX has Gelu from opset 20 only and pss writes opset 18. 'none' is
 * x/2 (1 + erf(x/√2)), 'tanh' x/2 (1 + tanh(√(2/π) x (1 + 0.044715 x²))), each written in
 * the form ONNX Runtime's optimizer fuses into one kernel (Gelu, FastGelu) where no gradient
 * reads the parts.
 */
export function gelu(x: Value, approximate: 'none' | 'tanh' = 'none'): Value {
  const inner =
    approximate === 'tanh'
      ? tanh(mul(mul(x, Math.sqrt(2 / Math.PI)), add(mul(mul(x, 0.044715), x), 1)))
      : erf(div(x, Math.SQRT2));
  return mul(mul(x, 0.5), add(inner, 1));
}

/** a^b, numpy broadcasting; a number operand becomes a constant of the other's dtype. */
export function pow(a: Operand, b: Operand): Value {
  const like = graphOf(a, b);
  return emit(like.graph, 'Pow', [lift(a, like), lift(b, like)]);
}

const variadic =
  (op: 'Min' | 'Max') =>
  (...xs: Operand[]) => {
    const like = graphOf(...xs);
    return xs.length === 1
      ? like
      : emit(
          like.graph,
          op,
          xs.map((x) => lift(x, like)),
        );
  };
/** The elementwise minimum of one or more operands, numpy broadcasting. */
export const min = variadic('Min');
/** The elementwise maximum of one or more operands, numpy broadcasting. */
export const max = variadic('Max');

/**
 * The remainder of a / b. By default with Python's (numpy's, PyTorch's `remainder`) sign rule,
 * the sign of b; with `fmod`, C's (PyTorch's `fmod`), the sign of a. On floats ONNX's Mod
 * takes fmod = 1 only, so the default is composed: a - b floor(a / b).
 */
export function mod(a: Operand, b: Operand, fmod = false): Value {
  const like = graphOf(a, b);
  const [x, y] = [lift(a, like), lift(b, like)];
  const isFloat = like.dtype === 'float32' || like.dtype === 'float64';
  if (isFloat && !fmod) return sub(x, mul(y, floor(div(x, y))));
  return emit(like.graph, 'Mod', [x, y], { fmod: fmod ? 1 : 0 });
}

// Normalisers

/**
 * Layer normalisation over the axes from `axis` to the last (ONNX LayerNormalization,
 * opset 17); scale and bias broadcast to those axes.
 */
export function layerNorm(x: Value, scale: Value, bias?: Value, axis = -1, epsilon = 1e-5): Value {
  return emit(x.graph, 'LayerNormalization', bias ? [x, scale, bias] : [x, scale], {
    axis: axis < 0 ? axis + x.rank : axis,
    epsilon,
  });
}
/** Normalises each sample's channel over space; scale and bias are per channel ([C]). */
export const instanceNorm = (x: Value, scale: Value, bias: Value, epsilon = 1e-5) =>
  emit(x.graph, 'InstanceNormalization', [x, scale, bias], { epsilon });
/**
 * Local response normalisation across `size` neighbouring channels (AlexNet, GoogLeNet).
 * NCHW and odd sizes only, as ONNX Runtime runs it (at even sizes PyTorch and ONNX would
 * centre the window differently anyway).
 */
export function lrn(x: Value, size: number, alpha = 1e-4, beta = 0.75, bias = 1): Value {
  if (size % 2 !== 1) unsupported('LRN', `an even size (${size})`);
  if (x.rank !== 4) unsupported('LRN', `an input of rank ${x.rank} (ONNX Runtime runs NCHW)`);
  return emit(x.graph, 'LRN', [x], { size, alpha, beta, bias });
}
/** The maximum over space: [N, C, H, W] to [N, C, 1, 1]. */
export const globalMaxPool = (x: Value) => emit(x.graph, 'GlobalMaxPool', [x]);
