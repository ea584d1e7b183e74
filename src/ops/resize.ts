/**
 * Resize (ONNX's, opset 18) of the last two axes, nearest or linear. Its backward rule is its
 * adjoint: each resized axis is a constant matrix M (one 1 per row for nearest, two weights
 * for linear) built here with ONNX Runtime's coordinate arithmetic, y = M_H x M_Wᵀ, so
 * dx = M_Hᵀ g M_W — two MatMuls with constants, which differentiate again as MatMuls.
 */
import type { ResizeAttrs } from './attrs.js';
import { fail, noGrad, type OpTable, sameFloat } from './types.js';

/** Output sizes as ONNX Runtime computes them: given, or trunc(float32(scale * input)). */
export function resizedShape(x: readonly number[], a: ResizeAttrs): number[] {
  if (a.sizes) return [...a.sizes];
  return x.map((d, i) => Math.trunc(Math.fround(Math.fround(a.scales![i]) * d)));
}

export const resizeOps = {
  Resize: {
    infer: ([x], a) => {
      const dtype = sameFloat([x]);
      if (x.rank < 2) fail('Resize needs at least two axes');
      const shape = resizedShape(x.shape, a);
      if (shape.some((d) => d < 1)) fail(`the output [${shape}] is empty`);
      return { shape, dtype };
    },
    attrs: { mode: 'string', coordinate_transformation_mode: 'string', nearest_mode: 'string' },
    inputAttrs: [
      { name: 'roi', dtype: 'input' },
      { name: 'scales', dtype: 'float32' },
      { name: 'sizes', dtype: 'int64' },
    ],
    grad: noGrad('not yet'),
  },
} satisfies Partial<OpTable>;
