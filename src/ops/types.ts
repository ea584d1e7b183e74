/**
 * What an op family defines for each op (its shape inference, ONNX form and backward rule),
 * the helpers rules are written with, and the shape arithmetic the families share.
 */
import { PssError } from '../errors.js';
import type { AttrKind, Attrs, DType, Node, Shape, Value, ValueType } from '../graph/graph.js';
import type { OpAttrs, OpType } from './attrs.js';

export interface GradContext<A = Attrs> {
  readonly node: Node;
  /** The node's inputs. */
  readonly x: readonly Value[];
  /** The node's output. */
  readonly y: Value;
  /** The cotangent of the output. */
  readonly g: Value;
  readonly attrs: A;
  /**
   * Per input: true when it is a parameter (or a value computed from parameters alone: a
   * transposed weight) whose cotangent must stay per sample, i.e. have a leading batch axis
   * [B, ...shape] instead of being summed over the batch (axis 0 of the activations). Only
   * rules of ops that take parameters support it.
   */
  readonly perSample: readonly boolean[];
}

/** One cotangent per input, null where the input gets none. */
export type Cotangents = readonly (Value | null)[];

/**
 * A backward rule. Rules are written with pss's own op builders, so the gradient graph can
 * be differentiated again.
 */
export type GradRule<K extends OpType> = (ctx: GradContext<OpAttrs[K]>) => Cotangents;

export interface OpDef<K extends OpType> {
  /** Checks the inputs and returns the output type; throws with a plain message on a misuse. */
  infer(inputs: readonly Value[], attrs: OpAttrs[K]): ValueType;
  /** ONNX attributes of the op and their kinds; others are not written. */
  readonly attrs?: { readonly [A in keyof OpAttrs[K]]?: AttrKind };
  /**
   * Static parameters that ONNX (opset 18) takes as constant inputs after the tensor
   * inputs (axes, shapes, pads...). pss keeps them as attributes so that shapes stay
   * static; the writer turns them into initializers.
   */
  readonly inputAttrs?: readonly { name: keyof OpAttrs[K] & string; dtype: DType | 'input' }[];
  /** The ONNX operator, when it differs from the pss op's name (e.g. StopGradient is an Identity). */
  readonly onnxOp?: string;
  /** ONNX outputs the op declares besides the one pss uses (e.g. TopK's indices); written unused. */
  readonly extraOutputs?: number;
  readonly grad: GradRule<K>;
  /**
   * The rule at a node computed from per-sample parameters without the data (a transposed
   * or reshaped weight, a scaled bias: grad() with perSampleBatch): g is [B, ...y.shape], one
   * row per sample, and each input marked perSample wants [B, ...x.shape]. 'grad': the
   * ordinary rule does this as it is (an elementwise rule broadcasts g's extra axis, and
   * paramCotangent keeps it). Absent: grad() refuses such a node.
   */
  readonly batchedGrad?: 'grad' | GradRule<K>;
}

/** The op table: a definition for every op, with a rule (registry.ts). */
export type OpTable = { readonly [K in OpType]: OpDef<K> };

/** Raised where a rule is deliberately absent (an op, or an op configuration, pss cannot differentiate). */
export class NoGradientError extends Error {
  override name = 'NoGradientError';
}

/**
 * A configuration of an op that pss does not build (an einsum pattern, a resize mode...):
 * a PssError, as it comes from a user's model file; the importer adds the model's name.
 */
export class UnsupportedOpError extends PssError {
  override name = 'UnsupportedOpError';
}
export function unsupported(op: string, what: string): never {
  throw new UnsupportedOpError(`${op}: ${what} is not supported`);
}

/** The output is piecewise constant (masks, comparisons, signs): no input gets a cotangent. */
export const zeroGrad = (ctx: GradContext<unknown>): Cotangents => ctx.x.map(() => null);

/** A deliberately absent rule. */
export function noGrad(why: string): (ctx: GradContext<unknown>) => never {
  return (ctx) => noGradient(ctx.node.op, why);
}
/** Refuses to differentiate `op` (in a configuration its rule does not cover). */
export function noGradient(op: string, why: string): never {
  throw new NoGradientError(`no gradient for ${op}: ${why}`);
}

/**
 * The rule of an op that is linear in its inputs (JAX's `deflinear`): its transpose applied
 * to g. The transpose sees the inputs' shapes, never their values, so the cotangents are
 * linear in g and their own derivatives in x are zero.
 */
export function linear<A>(
  transpose: (g: Value, shapes: readonly Shape[], attrs: A) => Cotangents,
): (ctx: GradContext<A>) => Cotangents {
  return ({ g, x, attrs }) =>
    transpose(
      g,
      x.map((v) => v.shape),
      attrs,
    );
}

/** One side of a bilinear rule: the transpose of op(a, .) or op(., b), given the other operand. */
export type BilinearSide<A> = (
  g: Value,
  other: Value,
  /** The shape of the operand whose cotangent this is (not its value: the rule is linear in it). */
  shape: Shape,
  ctx: { readonly attrs: A; readonly perSample: readonly boolean[] },
) => Value | null;

/**
 * The rule of op(a, b, ...rest), linear in a and in b (JAX's `defbilinear`, jax-js's
 * `bilinearTangentsJvp`): a's cotangent is the transpose of op(., b) applied to g, b's that
 * of op(a, .). Inputs after the two (a bias) get `rest`.
 */
export function bilinear<A>(
  lhs: BilinearSide<A>,
  rhs: BilinearSide<A>,
  rest: (ctx: GradContext<NoInfer<A>>) => Cotangents = () => [],
): (ctx: GradContext<A>) => Cotangents {
  return (ctx) => {
    const [a, b] = ctx.x;
    return [lhs(ctx.g, b, a.shape, ctx), rhs(ctx.g, a, b.shape, ctx), ...rest(ctx)];
  };
}

export function fail(msg: string): never {
  throw new Error(msg);
}

export function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) fail(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Numpy broadcasting of two shapes. */
export function broadcastShapes(a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1)
      fail(`shapes [${a.join(',')}] and [${b.join(',')}] do not broadcast`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Whether `shape` broadcasts to `target` without growing it (ONNX's unidirectional broadcasting). */
export function broadcastsTo(shape: Shape, target: Shape): boolean {
  const lead = target.length - shape.length;
  return lead >= 0 && shape.every((d, i) => d === 1 || d === target[lead + i]);
}

export const FLOATS: readonly DType[] = ['float32', 'float64'];

/** The one floating-point dtype of all inputs. */
export function sameFloat(xs: readonly Value[]): DType {
  const t = xs[0].dtype;
  if (!FLOATS.includes(t)) fail(`expects floating-point inputs, got ${t}`);
  if (xs.some((x) => x.dtype !== t)) fail(`input dtypes differ: ${xs.map((x) => x.dtype).join(', ')}`);
  return t;
}

export const broadcastAll = (xs: readonly Value[]) => xs.map((x) => x.shape).reduce(broadcastShapes);

/**
 * An elementwise op on floats with numpy broadcasting; `batchedGrad` when its rule keeps
 * per-sample cotangents apart (paramCotangent) and so also serves parameter-only nodes.
 */
export function broadcasting<K extends OpType>(grad: GradRule<K>, batchedGrad?: 'grad'): OpDef<K> {
  return { infer: (xs) => ({ shape: broadcastAll(xs), dtype: sameFloat(xs) }), grad, batchedGrad };
}
/**
 * An op on one float tensor whose output has its shape. Its rule is elementwise in g, so a
 * g with an extra leading (sample) axis broadcasts through it: it serves as batchedGrad too.
 */
export function pointwise<K extends OpType>(grad: GradRule<K>): OpDef<K> {
  return { infer: ([x]) => ({ shape: x.shape, dtype: sameFloat([x]) }), grad, batchedGrad: 'grad' };
}
