/** Ops that move data without arithmetic: reshapes, transposes, broadcasts, concatenation, slicing, padding. */
import { sizeOf } from '../graph/graph.js';
import { pad, paramCotangent, reduceSum, reshape, slice, transpose } from './builders.js';
import { broadcastShapes, fail, linear, noGradient, type OpTable } from './types.js';

const int64 = 'int64' as const;

const inverse = (perm: readonly number[]) => perm.map((_, i) => perm.indexOf(i));
/** A reshape's rule, and its per-sample form: g back to x's shape (after the samples' axis). */
const unreshape = linear((g, [x]) => [reshape(g, x)]);
const unreshapeBatched = linear((g, [x]) => [reshape(g, [g.shape[0], ...x])]);

export const shapeOps = {
  Reshape: {
    infer: ([x], { shape }) => {
      if (sizeOf(shape) !== x.size) fail(`cannot reshape [${x.shape.join(',')}] to [${shape.join(',')}]`);
      return { shape, dtype: x.dtype };
    },
    inputAttrs: [{ name: 'shape', dtype: int64 }],
    grad: unreshape,
    batchedGrad: unreshapeBatched,
  },
  Flatten: {
    infer: ([x], { axis }) => ({
      shape: [sizeOf(x.shape.slice(0, axis)), sizeOf(x.shape.slice(axis))],
      dtype: x.dtype,
    }),
    attrs: { axis: 'int' },
    grad: unreshape,
    batchedGrad: unreshapeBatched,
  },
  Transpose: {
    infer: ([x], { perm }) => {
      if (perm.length !== x.rank || [...perm].sort().some((v, i) => v !== i))
        fail(`bad permutation [${perm}]`);
      return { shape: perm.map((i) => x.shape[i]), dtype: x.dtype };
    },
    attrs: { perm: 'ints' },
    grad: linear((g, _, { perm }) => [transpose(g, inverse(perm))]),
    // Per sample: the samples' axis stays first.
    batchedGrad: linear((g, _, { perm }) => [transpose(g, [0, ...inverse(perm).map((p) => p + 1)])]),
  },
  Expand: {
    infer: ([x], { shape }) => ({ shape: broadcastShapes(x.shape, shape), dtype: x.dtype }),
    inputAttrs: [{ name: 'shape', dtype: int64 }],
    // A parameter expanded over the batch (ViT's class token) may want per-sample cotangents;
    // one expanded without the data has them already (batchedGrad), paramCotangent keeps them.
    grad: ({ x: [x], g, perSample }) => [paramCotangent(g, x.shape, perSample[0])],
    batchedGrad: 'grad',
  },
  Concat: {
    infer: (xs, { axis }) => {
      const first = xs[0];
      for (const x of xs) {
        if (
          x.rank !== first.rank ||
          x.shape.some((d, i) => i !== axis && d !== first.shape[i]) ||
          x.dtype !== first.dtype
        )
          fail(`inputs do not match along axes other than ${axis}`);
      }
      const shape = [...first.shape];
      shape[axis] = xs.reduce((s, x) => s + x.shape[axis], 0);
      return { shape, dtype: first.dtype };
    },
    attrs: { axis: 'int' },
    grad: linear((g, shapes, { axis }) => {
      let offset = 0;
      return shapes.map((s) => slice(g, [offset], [(offset += s[axis])], [axis]));
    }),
  },
  Slice: {
    infer: ([x], { starts, ends, axes, steps }) => {
      const shape = [...x.shape];
      axes.forEach((a, i) => {
        if (steps[i] < 1) fail('only positive steps are supported');
        shape[a] = Math.max(0, Math.ceil((ends[i] - starts[i]) / steps[i]));
      });
      return { shape, dtype: x.dtype };
    },
    inputAttrs: [
      { name: 'starts', dtype: int64 },
      { name: 'ends', dtype: int64 },
      { name: 'axes', dtype: int64 },
      { name: 'steps', dtype: int64 },
    ],
    grad: linear((g, [x], { starts, axes, steps }) => {
      if (steps.some((v) => v !== 1)) noGradient('Slice', 'Slice with steps other than 1');
      const pads = new Array<number>(2 * x.length).fill(0);
      axes.forEach((a, i) => {
        pads[a] = starts[i];
        pads[a + x.length] = x[a] - starts[i] - g.shape[a];
      });
      return [pad(g, pads)];
    }),
  },
  Pad: {
    infer: ([x], { pads }) => {
      if (pads.length !== 2 * x.rank || pads.some((v) => v < 0))
        fail(`pads must be ${2 * x.rank} non-negative numbers`);
      return { shape: x.shape.map((d, i) => d + pads[i] + pads[i + x.rank]), dtype: x.dtype };
    },
    inputAttrs: [{ name: 'pads', dtype: int64 }],
    grad: linear((g, [x], { pads }) => [
      slice(
        g,
        pads.slice(0, x.length),
        x.map((d, i) => pads[i] + d),
      ),
    ]),
  },
  Tile: {
    infer: ([x], { repeats }) => {
      if (repeats.length !== x.rank || repeats.some((r) => !Number.isInteger(r) || r < 1))
        fail(`repeats must be ${x.rank} positive integers`);
      return { shape: x.shape.map((d, i) => d * repeats[i]), dtype: x.dtype };
    },
    inputAttrs: [{ name: 'repeats', dtype: int64 }],
    // Each output axis i is [repeats_i, d_i]: sum over the copies.
    grad: linear((g, [x], { repeats }) => [
      reshape(
        reduceSum(
          reshape(
            g,
            x.flatMap((d, i) => [repeats[i], d]),
          ),
          x.map((_, i) => 2 * i),
        ),
        x,
      ),
    ]),
  },
} satisfies Partial<OpTable>;
