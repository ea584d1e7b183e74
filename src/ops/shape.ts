/** Ops that move data without arithmetic: reshapes, transposes, broadcasts, concatenation, slicing, padding. */
import { sizeOf, type Value } from '../graph/graph.js';
import { unbroadcast } from './elementwise.js';
import { broadcastShapes, fail, ints, noGrad, normAxis, type OpDef } from './types.js';

/** Reshape; one entry may be -1 (inferred). */
export function reshape(x: Value, shape: readonly number[]): Value {
  const known = shape.filter((d) => d !== -1);
  const resolved = shape.map((d) => (d === -1 ? x.size / Math.max(1, sizeOf(known)) : d));
  if (resolved.length === x.rank && resolved.every((d, i) => d === x.shape[i])) return x;
  return x.graph.emit('Reshape', [x], { shape: resolved });
}
export const flatten = (x: Value, axis = 1) => x.graph.emit('Flatten', [x], { axis: normAxis(axis, x.rank) });
export function transpose(x: Value, perm: readonly number[]): Value {
  if (perm.every((p, i) => p === i)) return x;
  return x.graph.emit('Transpose', [x], { perm });
}
export function expand(x: Value, shape: readonly number[]): Value {
  if (shape.length === x.rank && shape.every((d, i) => d === x.shape[i])) return x;
  return x.graph.emit('Expand', [x], { shape });
}
export function concat(xs: readonly Value[], axis: number): Value {
  if (xs.length === 1) return xs[0];
  return xs[0].graph.emit('Concat', xs, { axis: normAxis(axis, xs[0].rank) });
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
  return x.graph.emit('Slice', [x], { starts: s, ends: e, axes: ax, steps });
}
/** Zero padding: `pads` = [begin_0, ..., begin_n, end_0, ..., end_n] as in ONNX. */
export function pad(x: Value, pads: readonly number[]): Value {
  if (pads.every((p) => p === 0)) return x;
  return x.graph.emit('Pad', [x], { pads });
}

const int64 = 'int64' as const;

export const shapeOps = {
  Reshape: {
    infer: ([x], { shape }) => {
      const s = ints(shape, 'shape');
      if (sizeOf(s) !== x.size) fail(`cannot reshape [${x.shape.join(',')}] to [${s.join(',')}]`);
      return { shape: s, dtype: x.dtype };
    },
    inputAttrs: [{ name: 'shape', dtype: int64 }],
    grad: ({ x: [x], g }) => [reshape(g, x.shape)],
  },
  Flatten: {
    infer: ([x], { axis }) => {
      const a = axis as number;
      return { shape: [sizeOf(x.shape.slice(0, a)), sizeOf(x.shape.slice(a))], dtype: x.dtype };
    },
    attrs: { axis: 'int' },
    grad: ({ x: [x], g }) => [reshape(g, x.shape)],
  },
  Transpose: {
    infer: ([x], { perm }) => {
      const p = ints(perm, 'perm');
      if (p.length !== x.rank || [...p].sort().some((v, i) => v !== i)) fail(`bad permutation [${p}]`);
      return { shape: p.map((i) => x.shape[i]), dtype: x.dtype };
    },
    attrs: { perm: 'ints' },
    grad: ({ g, attrs }) => {
      const p = attrs.perm as number[];
      const inverse = p.map((_, i) => p.indexOf(i));
      return [transpose(g, inverse)];
    },
  },
  Expand: {
    infer: ([x], { shape }) => ({ shape: broadcastShapes(x.shape, ints(shape, 'shape')), dtype: x.dtype }),
    inputAttrs: [{ name: 'shape', dtype: int64 }],
    grad: ({ x: [x], g }) => [unbroadcast(g, x.shape)],
  },
  Concat: {
    infer: (xs, { axis }) => {
      const a = axis as number;
      const first = xs[0];
      for (const x of xs) {
        if (
          x.rank !== first.rank ||
          x.shape.some((d, i) => i !== a && d !== first.shape[i]) ||
          x.dtype !== first.dtype
        )
          fail(`inputs do not match along axes other than ${a}`);
      }
      const shape = [...first.shape];
      shape[a] = xs.reduce((s, x) => s + x.shape[a], 0);
      return { shape, dtype: first.dtype };
    },
    attrs: { axis: 'int' },
    grad: ({ x, g, attrs }) => {
      const a = attrs.axis as number;
      let offset = 0;
      return x.map((v) => slice(g, [offset], [(offset += v.shape[a])], [a]));
    },
  },
  Slice: {
    infer: ([x], attrs) => {
      const [s, e, ax, st] = (['starts', 'ends', 'axes', 'steps'] as const).map((k) => ints(attrs[k], k));
      const shape = [...x.shape];
      ax.forEach((a, i) => {
        if (st[i] < 1) fail('only positive steps are supported');
        shape[a] = Math.max(0, Math.ceil((e[i] - s[i]) / st[i]));
      });
      return { shape, dtype: x.dtype };
    },
    inputAttrs: [
      { name: 'starts', dtype: int64 },
      { name: 'ends', dtype: int64 },
      { name: 'axes', dtype: int64 },
      { name: 'steps', dtype: int64 },
    ],
    grad: (ctx) => {
      const { x, g, attrs } = ctx;
      const [s, , ax, st] = (['starts', 'ends', 'axes', 'steps'] as const).map((k) => attrs[k] as number[]);
      if (st.some((v) => v !== 1)) return noGrad('Slice with steps other than 1')(ctx);
      const pads = new Array<number>(2 * x[0].rank).fill(0);
      ax.forEach((a, i) => {
        pads[a] = s[i];
        pads[a + x[0].rank] = x[0].shape[a] - s[i] - g.shape[a];
      });
      return [pad(g, pads)];
    },
  },
  Pad: {
    infer: ([x], { pads }) => {
      const p = ints(pads, 'pads');
      if (p.length !== 2 * x.rank || p.some((v) => v < 0))
        fail(`pads must be ${2 * x.rank} non-negative numbers`);
      return { shape: x.shape.map((d, i) => d + p[i] + p[i + x.rank]), dtype: x.dtype };
    },
    inputAttrs: [{ name: 'pads', dtype: int64 }],
    grad: ({ x: [x], g, attrs }) => {
      const p = attrs.pads as number[];
      return [
        slice(
          g,
          p.slice(0, x.rank),
          x.shape.map((d, i) => p[i] + d),
        ),
      ];
    },
  },
} satisfies Record<string, OpDef>;
