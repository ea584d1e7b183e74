/**
 * Resize (ONNX's, opset 18) of the last two axes, nearest or linear. Its backward rule is its
 * adjoint: each resized axis is a constant matrix M (one 1 per row for nearest, two weights
 * for linear) built here with ONNX Runtime's float32 coordinate arithmetic, y = M_H x M_Wᵀ,
 * so dx = M_Hᵀ g M_W: two MatMuls with constants, which differentiate again as MatMuls.
 */
import type { Value } from '../graph/graph.js';
import type { NearestMode, ResizeAttrs } from './attrs.js';
import { matmul } from './builders.js';
import { fail, type OpTable, sameFloat } from './types.js';

const f32 = Math.fround;

/** The float32 scale of axis i, as ONNX Runtime has it: given, or output / input. */
const scaleOf = (a: ResizeAttrs, input: number, output: number, i: number) =>
  a.scales ? f32(a.scales[i]) : f32(f32(output) / f32(input));

/** Output sizes as ONNX Runtime computes them: given, or trunc(float32(scale * input)). */
export function resizedShape(x: readonly number[], a: ResizeAttrs): number[] {
  if (a.sizes) return [...a.sizes];
  return x.map((d, i) => Math.trunc(f32(f32(a.scales![i]) * d)));
}

/** The input coordinate of output index o (ONNX Runtime's GetOriginalCoordinateFromResizedCoordinate). */
function sourceCoordinate(a: ResizeAttrs, o: number, scale: number, input: number, output: number): number {
  switch (a.coordinate_transformation_mode) {
    case 'asymmetric':
      return f32(o / scale);
    case 'pytorch_half_pixel':
      return output > 1 ? f32(f32(f32(o + 0.5) / scale) - 0.5) : 0;
    case 'tf_half_pixel_for_nn':
      return f32(f32(o + 0.5) / scale);
    case 'align_corners':
      return output === 1 ? 0 : f32(f32(o * (input - 1)) / (output - 1));
    case 'half_pixel':
      return f32(f32(f32(o + 0.5) / scale) - 0.5);
  }
}

/** C's round: halves away from zero. */
const cRound = (v: number) => Math.sign(v) * Math.floor(Math.abs(v) + 0.5);
const NEAREST: Readonly<Record<NearestMode, (v: number) => number>> = {
  round_prefer_floor: (v) => (v === Math.trunc(v) + 0.5 ? Math.floor(v) : cRound(v)),
  round_prefer_ceil: cRound,
  floor: Math.floor,
  ceil: Math.ceil,
};

/** The interpolation matrix [output, input] of one axis, row-major; undefined where ONNX Runtime copies (scale 1). */
export function axisMatrix(
  a: ResizeAttrs,
  input: number,
  output: number,
  i: number,
): Float64Array | undefined {
  const scale = scaleOf(a, input, output, i);
  if (scale === 1) return undefined;
  const m = new Float64Array(output * input);
  const clamp = (v: number) => Math.min(Math.max(v, 0), input - 1);
  for (let o = 0; o < output; o++) {
    const src = sourceCoordinate(a, o, scale, input, output);
    if (a.mode === 'nearest') {
      m[o * input + clamp(NEAREST[a.nearest_mode](src))] = 1;
      continue;
    }
    const v = clamp(src);
    const i1 = Math.min(Math.trunc(v), input - 1);
    const i2 = Math.min(i1 + 1, input - 1);
    // Each neighbour weighs the distance to the other; one neighbour at the edge takes both halves.
    m[o * input + i1] += i1 === i2 ? 0.5 : f32(Math.abs(v - i2));
    m[o * input + i2] += i1 === i2 ? 0.5 : f32(Math.abs(v - i1));
  }
  return m;
}

/** Axis `axis`'s matrix as a graph constant, transposed ([input, output]) when asked. */
function axisConstant(like: Value, a: ResizeAttrs, axis: number, output: number, transposed: boolean) {
  const input = like.shape[axis];
  const key = `resize:${a.mode}:${a.coordinate_transformation_mode}:${a.nearest_mode}:${a.scales ?? a.sizes}:${axis}:${input}:${like.dtype}:${transposed}`;
  const m = axisMatrix(a, input, output, axis);
  if (!m) return undefined;
  return like.graph.cachedConstant(key, () => {
    const data = transposed
      ? Float64Array.from(m, (_, k) => m[(k % output) * input + Math.floor(k / output)])
      : m;
    const typed = like.dtype === 'float64' ? data : Float32Array.from(data);
    return like.graph.constant(typed, transposed ? [input, output] : [output, input]);
  });
}

export const resizeOps = {
  Resize: {
    infer: ([x], a) => {
      const dtype = sameFloat([x]);
      if (x.rank < 2) fail('Resize needs at least two axes');
      const shape = resizedShape(x.shape, a);
      if (shape.some((d) => d < 1)) fail(`the output [${shape}] is empty`);
      if (shape.some((d, i) => i < x.rank - 2 && d !== x.shape[i]))
        fail('only the last two axes may be resized');
      return { shape, dtype };
    },
    attrs: { mode: 'string', coordinate_transformation_mode: 'string', nearest_mode: 'string' },
    inputAttrs: [
      { name: 'roi', dtype: 'input' },
      { name: 'scales', dtype: 'float32' },
      { name: 'sizes', dtype: 'int64' },
    ],
    // dx = M_Hᵀ (g M_W); an axis ONNX Runtime copies has no matrix.
    grad: ({ x: [x], g, attrs: a }) => {
      const [h, w] = [x.rank - 2, x.rank - 1];
      const mw = axisConstant(x, a, w, g.shape[w], false);
      const mht = axisConstant(x, a, h, g.shape[h], true);
      const gw = mw ? matmul(g, mw) : g;
      return [mht ? matmul(mht, gw) : gw];
    },
  },
} satisfies Partial<OpTable>;
