/**
 * Shape arithmetic evaluated at import time. Exporters compute reshape targets and slice bounds
 * with Shape, Gather, Concat... on static shapes; pss evaluates those nodes on constants, so the
 * replayed graph holds only the differentiable part. One rule per operator, keyed by op type.
 */
import { attr, type Const, int, ints, type NodeProto, num, tensorConst } from './decode.js';

/** What a static rule sees of its node. */
export interface StaticContext {
  readonly node: NodeProto;
  /** The node's inputs, where they are constants. */
  readonly inputs: readonly (Const | undefined)[];
  /** Input k, which must be a constant. */
  need(k: number): Const;
  /** The shape of a tensor computed before (a graph value or a constant). */
  shapeOf(name: string): readonly number[];
  readonly source: string;
  /** Throws a PssError naming the model. */
  fail(message: string): never;
}
export type StaticRule = (c: StaticContext) => Const;

const konst = (data: ArrayLike<number>, shape: number[], float = false): Const => ({
  data: Float64Array.from(data),
  shape,
  float,
});

/** Elementwise on two constants, one of them possibly a scalar (the broadcasting exporters use). */
const arithmetic =
  (f: (x: number, y: number, float: boolean) => number): StaticRule =>
  ({ need }) => {
    const [a, b] = [need(0), need(1)];
    const float = a.float || b.float;
    const big = a.data.length >= b.data.length ? a : b;
    return konst(
      Array.from(big.data, (_, i) =>
        f(a.data[a.data.length === 1 ? 0 : i], b.data[b.data.length === 1 ? 0 : i], float),
      ),
      big.shape,
      float,
    );
  };

/** Squeeze/Unsqueeze axes: the second input (opset 13+) or the attribute. */
const axesOf = ({ node, inputs }: StaticContext) =>
  inputs[1] ? Array.from(inputs[1].data) : ints(node, 'axes', [])!;

const STATIC_RULES: Readonly<Record<string, StaticRule>> = {
  Constant: ({ node, source, fail }) => {
    const a = node.attribute?.[0];
    if (a?.t) return tensorConst(a.t, source);
    if (a?.name === 'value_float') return konst([a.f ?? 0], [], true);
    if (a?.name === 'value_floats') return konst(a.floats ?? [], [a.floats?.length ?? 0], true);
    if (a?.name === 'value_int') return konst([num(a.i)], []);
    if (a?.name === 'value_ints') return konst((a.ints ?? []).map(num), [a.ints?.length ?? 0]);
    return fail('unsupported Constant node');
  },
  Shape: ({ node, shapeOf }) => {
    const shape = shapeOf(node.input![0]);
    return konst(shape, [shape.length]);
  },
  Gather: ({ node, need, fail }) => {
    const [data, idx] = [need(0), need(1)];
    if (int(node, 'axis', 0) !== 0 || data.shape.length !== 1)
      fail('Gather on constants supports 1-D data only');
    return konst(
      Array.from(idx.data, (i) => data.data[i < 0 ? i + data.data.length : i]),
      idx.shape,
    );
  },
  Cast: ({ node, need }) => ({ ...need(0), float: [1, 10, 11].includes(int(node, 'to', 1)) }),
  ConstantOfShape: ({ node, need, source }) => {
    const shape = Array.from(need(0).data);
    const value = attr(node, 'value')?.t;
    const fill = value ? tensorConst(value, source).data[0] : 0;
    return konst(new Float64Array(shape.reduce((a, b) => a * b, 1)).fill(fill), shape);
  },
  Range: ({ need }) => {
    const [s, l, d] = [need(0).data[0], need(1).data[0], need(2).data[0]];
    const out: number[] = [];
    for (let v = s; d > 0 ? v < l : v > l; v += d) out.push(v);
    return konst(out, [out.length]);
  },
  Floor: ({ need }) => konst(need(0).data.map(Math.floor), need(0).shape, true),
  Ceil: ({ need }) => konst(need(0).data.map(Math.ceil), need(0).shape, true),
  Squeeze: (c) => {
    const axes = axesOf(c);
    return { ...c.need(0), shape: squeezed(c.need(0).shape, axes) };
  },
  Unsqueeze: (c) => {
    const axes = axesOf(c);
    return { ...c.need(0), shape: unsqueezed(c.need(0).shape, axes) };
  },
  Concat: ({ inputs, need }) => {
    const parts = inputs.map((_, k) => need(k));
    return konst(
      parts.flatMap((p) => Array.from(p.data)),
      [parts.reduce((s, p) => s + (p.shape[0] ?? 1), 0)],
    );
  },
  Reshape: ({ need }) => ({ ...need(0), shape: Array.from(need(1).data) }),
  Slice: ({ inputs, need, fail }) => {
    const data = need(0);
    if (data.shape.length !== 1) fail('Slice on constants supports 1-D data only');
    const len = data.data.length;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + len : v, 0), len);
    const [s, e] = [clamp(need(1).data[0]), clamp(need(2).data[0])];
    const step = inputs[4]?.data[0] ?? 1;
    const out: number[] = [];
    for (let i = s; step > 0 ? i < e : i > e; i += step) out.push(data.data[i]);
    return konst(out, [out.length]);
  },
  Add: arithmetic((x, y) => x + y),
  Sub: arithmetic((x, y) => x - y),
  Mul: arithmetic((x, y) => x * y),
  // integer division truncates (ONNX's Div on int64)
  Div: arithmetic((x, y, float) => (float ? x / y : Math.trunc(x / y))),
};

/** The static rule of an op type, if it has one. */
export const staticRule = (opType: string): StaticRule | undefined =>
  Object.hasOwn(STATIC_RULES, opType) ? STATIC_RULES[opType] : undefined;

/** A shape without the given axes, or without every 1 when no axes are given (Squeeze). */
export function squeezed(shape: readonly number[], axes: readonly number[]): number[] {
  const ax = axes.length
    ? axes.map((a) => (a < 0 ? a + shape.length : a))
    : shape.flatMap((d, i) => (d === 1 ? [i] : []));
  return shape.filter((_, i) => !ax.includes(i));
}

/** A shape with 1s inserted at the given axes of the result (Unsqueeze). */
export function unsqueezed(shape: readonly number[], axes: readonly number[]): number[] {
  const rank = shape.length + axes.length;
  const ax = axes.map((a) => (a < 0 ? a + rank : a));
  const out: number[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) out.push(ax.includes(i) ? 1 : shape[k++]);
  return out;
}
