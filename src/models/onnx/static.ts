/**
 * Shape arithmetic evaluated at import time. Exporters compute reshape targets, slice bounds,
 * pads, masks and expand shapes with Shape, Gather, Equal, Where, ConstantOfShape, Range,
 * ScatterND... on static shapes (ViT's class token, Swin's windows and attention mask); pss
 * evaluates those nodes on constants, so the replayed graph holds only the differentiable
 * part. One rule per operator, keyed by op type; nodes are in their opset-21 form (opsets.ts).
 */
import {
  attr,
  type Const,
  type ConstKind,
  int,
  ints,
  kindOf,
  type NodeProto,
  num,
  tensorConst,
} from './decode.js';
import {
  axisOf,
  concatConst,
  expandTo,
  gatherConst,
  konst,
  mapBroadcast,
  reduceConst,
  reshapeTarget,
  scatterNDConst,
  sizeOf,
  sliceConst,
  transposeConst,
} from './tensor.js';

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
/** A rule's result: one constant, or one per output (Split). */
export type StaticRule = (c: StaticContext) => Const | Const[];

const numbers = (c: Const) => Array.from(c.data);
const float32 = (v: number) => Math.fround(v);

/** Elementwise over broadcast constants; float results are rounded to float32, as ONNX Runtime computes. */
const elementwise =
  (f: (kind: ConstKind) => (...v: number[]) => number, out?: ConstKind): StaticRule =>
  ({ inputs, need, fail }) => {
    const xs = inputs.map((_, k) => need(k));
    const kind = xs.some((x) => x.kind === 'float') ? 'float' : xs[0].kind;
    const g = f(kind);
    const r = out ?? kind;
    return mapBroadcast(xs, r === 'float' ? (...v) => float32(g(...v)) : g, r, fail);
  };
const arithmetic = (f: (x: number, y: number, kind: ConstKind) => number) =>
  elementwise((k) => (x, y) => f(x, y, k));
const unary = (f: (x: number) => number, out?: ConstKind) => elementwise(() => f, out);
const comparison = (f: (x: number, y: number) => boolean) =>
  elementwise(() => (x, y) => (f(x, y) ? 1 : 0), 'bool');

/** Squeeze/Unsqueeze axes: the second input (their opset-13 form). */
const axesOf = ({ inputs }: StaticContext) => (inputs[1] ? numbers(inputs[1]) : []);

const reduction =
  (init: number, f: (acc: number, v: number) => number): StaticRule =>
  (c) => {
    const x = c.need(0);
    const axes = c.inputs[1] ? numbers(c.inputs[1]) : [];
    if (!axes.length && int(c.node, 'noop_with_empty_axes', 0)) return x;
    return reduceConst(x, axes, int(c.node, 'keepdims', 1) === 1, init, f);
  };

const STATIC_RULES: Readonly<Record<string, StaticRule>> = {
  Constant: ({ node, source, fail }) => {
    const a = node.attribute?.[0];
    if (a?.t) return tensorConst(a.t, source);
    if (a?.name === 'value_float') return konst([a.f ?? 0], [], 'float');
    if (a?.name === 'value_floats') return konst(a.floats ?? [], [a.floats?.length ?? 0], 'float');
    if (a?.name === 'value_int') return konst([num(a.i)], []);
    if (a?.name === 'value_ints') return konst((a.ints ?? []).map(num), [a.ints?.length ?? 0]);
    return fail('unsupported Constant node');
  },
  Shape: ({ node, shapeOf }) => {
    const shape = shapeOf(node.input![0]);
    const rank = shape.length;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
    const part = shape.slice(clamp(int(node, 'start', 0)), clamp(int(node, 'end', rank)));
    return konst(part, [part.length]);
  },
  Size: ({ node, shapeOf }) => konst([sizeOf(shapeOf(node.input![0]))], []),
  Identity: ({ need }) => need(0),
  Gather: ({ node, need, fail }) => gatherConst(need(0), need(1), int(node, 'axis', 0), fail),
  Cast: ({ node, need }) => {
    const x = need(0);
    const kind = kindOf(int(node, 'to', 1));
    const f = kind === 'float' ? float32 : kind === 'bool' ? (v: number) => (v ? 1 : 0) : Math.trunc;
    return { data: Float64Array.from(x.data, f), shape: x.shape, kind };
  },
  ConstantOfShape: ({ node, need, source }) => {
    const shape = numbers(need(0));
    const value = attr(node, 'value')?.t;
    const fill = value ? tensorConst(value, source) : konst([0], [], 'float');
    return konst(new Float64Array(sizeOf(shape)).fill(fill.data[0]), shape, fill.kind);
  },
  Range: ({ need, fail }) => {
    const [s, l, d] = [need(0), need(1), need(2)].map((c) => c.data[0]);
    if (!d) fail('Range with a zero step');
    const n = Math.max(Math.ceil((l - s) / d), 0);
    if (n > 1e7) fail(`Range of ${n} elements`);
    const kind = need(0).kind;
    return konst(
      Array.from({ length: n }, (_, i) => (kind === 'float' ? float32(s + i * d) : s + i * d)),
      [n],
      kind,
    );
  },
  Squeeze: (c) => {
    const x = c.need(0);
    return { ...x, shape: squeezed(x.shape, axesOf(c)) };
  },
  Unsqueeze: (c) => {
    const x = c.need(0);
    return { ...x, shape: unsqueezed(x.shape, axesOf(c)) };
  },
  Flatten: ({ node, need }) => {
    const x = need(0);
    const axis = axisOf(int(node, 'axis', 1), x.shape.length);
    return { ...x, shape: [sizeOf(x.shape.slice(0, axis)), sizeOf(x.shape.slice(axis))] };
  },
  Concat: ({ node, inputs, need, fail }) => {
    // exporters concatenate empty 1-D lists (no pads, no roi) with others
    const parts = inputs.map((_, k) => need(k)).filter((x) => x.data.length || x.shape.length > 1);
    return parts.length ? concatConst(parts, int(node, 'axis', 0), fail) : need(0);
  },
  Reshape: ({ node, need, fail }) => {
    const x = need(0);
    return { ...x, shape: reshapeTarget(x.shape, numbers(need(1)), int(node, 'allowzero', 0) === 1, fail) };
  },
  Slice: ({ inputs, need }) => {
    const x = need(0);
    const starts = numbers(need(1));
    const axes = inputs[3] ? numbers(inputs[3]) : starts.map((_, i) => i);
    const steps = inputs[4] ? numbers(inputs[4]) : starts.map(() => 1);
    return sliceConst(x, starts, numbers(need(2)), axes, steps);
  },
  Transpose: ({ node, need }) => {
    const x = need(0);
    const perm = ints(node, 'perm') ?? x.shape.map((_, i) => x.shape.length - 1 - i);
    return transposeConst(x, perm);
  },
  Expand: ({ need, fail }) => {
    const x = need(0);
    const target = numbers(need(1));
    // Expand broadcasts both ways: a 1 in the target keeps the input's dimension
    const rank = Math.max(x.shape.length, target.length);
    const shape = Array.from({ length: rank }, (_, i) => {
      const a = x.shape[x.shape.length - rank + i] ?? 1;
      const b = target[target.length - rank + i] ?? 1;
      return b === 1 ? a : b;
    });
    return expandTo(x, shape, fail);
  },
  Tile: ({ need, fail }) => {
    let x = need(0);
    numbers(need(1)).forEach((r, axis) => {
      if (r !== 1)
        x = concatConst(
          Array.from({ length: r }, () => x),
          axis,
          fail,
        );
    });
    return x;
  },
  Split: ({ node, inputs, need, fail }) => {
    const x = need(0);
    const axis = axisOf(int(node, 'axis', 0), x.shape.length);
    const outputs = (node.output ?? []).length;
    const sizes = inputs[1]
      ? numbers(inputs[1])
      : evenSplit(x.shape[axis], int(node, 'num_outputs', outputs));
    if (sizes.reduce((a, b) => a + b, 0) !== x.shape[axis]) fail('Split sizes do not add up');
    let start = 0;
    return sizes.map((d) => sliceConst(x, [start], [(start += d)], [axis], [1]));
  },
  ScatterND: ({ node, need, fail }) => {
    const reduction = attr(node, 'reduction')?.s;
    if (reduction && new TextDecoder().decode(reduction) !== 'none')
      fail('ScatterND with a reduction on constants');
    return scatterNDConst(need(0), need(1), need(2), fail);
  },
  Where: ({ need, fail }) => {
    const [c, a, b] = [need(0), need(1), need(2)];
    return mapBroadcast(
      [c, a, b],
      (k, x, y) => (k ? x : y),
      a.kind === 'float' || b.kind === 'float' ? 'float' : a.kind,
      fail,
    );
  },
  Add: arithmetic((x, y) => x + y),
  Sub: arithmetic((x, y) => x - y),
  Mul: arithmetic((x, y) => x * y),
  // integer division truncates (ONNX's Div on int64)
  Div: arithmetic((x, y, kind) => (kind === 'float' ? x / y : Math.trunc(x / y))),
  Pow: arithmetic((x, y) => x ** y),
  Mod: ({ node, need, fail }) => {
    const [a, b] = [need(0), need(1)];
    const cFmod = int(node, 'fmod', 0) === 1;
    // fmod = 0: the sign of the divisor (Python's %); fmod = 1: the sign of the dividend (C's fmod)
    const f = cFmod ? (x: number, y: number) => x % y : (x: number, y: number) => ((x % y) + y) % y;
    return mapBroadcast([a, b], f, a.kind === 'float' ? 'float' : a.kind, fail);
  },
  Min: elementwise(() => Math.min),
  Max: elementwise(() => Math.max),
  Neg: unary((x) => -x),
  Abs: unary(Math.abs),
  Sqrt: unary(Math.sqrt),
  Reciprocal: unary((x) => 1 / x),
  Floor: unary(Math.floor),
  Ceil: unary(Math.ceil),
  Round: unary((x) => {
    const f = Math.floor(x);
    return x - f === 0.5 ? (f % 2 === 0 ? f : f + 1) : Math.round(x);
  }),
  Sign: unary(Math.sign),
  Equal: comparison((x, y) => x === y),
  Less: comparison((x, y) => x < y),
  Greater: comparison((x, y) => x > y),
  LessOrEqual: comparison((x, y) => x <= y),
  GreaterOrEqual: comparison((x, y) => x >= y),
  And: comparison((x, y) => !!x && !!y),
  Or: comparison((x, y) => !!x || !!y),
  Xor: comparison((x, y) => !!x !== !!y),
  Not: unary((x) => (x ? 0 : 1), 'bool'),
  ReduceProd: reduction(1, (a, v) => a * v),
  ReduceSum: reduction(0, (a, v) => a + v),
  ReduceMax: reduction(Number.NEGATIVE_INFINITY, Math.max),
  ReduceMin: reduction(Number.POSITIVE_INFINITY, Math.min),
};

/** Split into `n` pieces: equal, the last smaller when the length does not divide (opset 18's num_outputs). */
export function evenSplit(length: number, n: number): number[] {
  const piece = Math.ceil(length / n);
  return Array.from({ length: n }, (_, i) => Math.max(0, Math.min(piece, length - i * piece)));
}

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
