/** What an op family defines for each op: its signature (shapes, ONNX form) and its backward rule. */
import type { Attrs, Node, OpSignature, Shape, Value } from '../graph/graph.js';

export interface GradContext {
  readonly node: Node;
  /** The node's inputs. */
  readonly x: readonly Value[];
  /** The node's output. */
  readonly y: Value;
  /** The cotangent of the output. */
  readonly g: Value;
  readonly attrs: Attrs;
  /**
   * Per input: true when it is a parameter whose cotangent must stay per sample, i.e. have
   * a leading batch axis [B, ...shape] instead of being summed over the batch (axis 0 of
   * the activations). Only rules of ops that take parameters support it.
   */
  readonly perSample: readonly boolean[];
}

/**
 * A backward rule: one cotangent per input (null where the input gets none). Rules are
 * written with pss's own op builders, so the gradient graph can be differentiated again.
 */
export type GradRule = (ctx: GradContext) => readonly (Value | null)[];

export interface OpDef extends OpSignature {
  readonly grad: GradRule;
}

/** Raised where a rule is deliberately absent (an op, or an op configuration, pss cannot differentiate). */
export class NoGradientError extends Error {
  override name = 'NoGradientError';
}

/** The output is piecewise constant (masks, comparisons, signs): no input gets a cotangent. */
export const zeroGrad: GradRule = (ctx) => ctx.x.map(() => null);

/** A deliberately absent rule. */
export function noGrad(why: string): GradRule {
  return (ctx) => {
    throw new NoGradientError(`no gradient for ${ctx.node.op}: ${why}`);
  };
}

export function fail(msg: string): never {
  throw new Error(msg);
}

export function assertRank(v: Value, rank: number, what: string): void {
  if (v.rank !== rank) fail(`${what} must have rank ${rank}, got [${v.shape.join(',')}]`);
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

export const ints = (v: Attrs[string], what: string): number[] =>
  Array.isArray(v) ? [...(v as number[])] : fail(`attribute ${what} is required`);
