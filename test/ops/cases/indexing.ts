/** Rule cases of tiling, gathers and scatters at constant indices, Resize and einsum. */
import type { Value } from '../../../src/graph/graph.js';
import * as op from '../../../src/ops/index.js';
import { cube, inputs, type Table } from './inputs.js';

const { normal } = inputs(17);
const ix = (data: number[], shape: number[] = [data.length]) => ({ data, shape });

export const indexingCases: Table = {
  Tile: [{ inputs: [normal(2, 3)], f: ([x]) => cube(op.tile(x, [2, 3])) }],
  Gather: [
    // repeated and negative indices: the cotangents of a repeated row add up
    { inputs: [normal(4, 5)], f: ([x]) => cube(op.gather(x, ix([3, 0, 3, -1], [2, 2]), 1)) },
    // a scalar index (ViT's class token): the axis goes away
    { inputs: [normal(2, 3, 4)], f: ([x]) => cube(op.gather(x, ix([1], []), 1)) },
    { inputs: [normal(5, 2)], f: ([x]) => cube(op.gather(x, ix([4, 1, 1]))) },
  ],
  GatherND: [
    { inputs: [normal(3, 4, 2)], f: ([x]) => cube(op.gatherND(x, ix([2, 1, 0, 3, 2, 1], [3, 2]))) },
    { inputs: [normal(2, 3, 4)], f: ([x]) => cube(op.gatherND(x, ix([2, 0, 1, 1], [2, 2, 1]), 1)) },
  ],
  GatherElements: [
    { inputs: [normal(3, 4)], f: ([x]) => cube(op.gatherElements(x, ix([0, 2, 2, 1, 3, 0], [3, 2]), 1)) },
  ],
  ScatterND: [
    // overwrite: the replaced entries of data get no cotangent
    {
      inputs: [normal(4, 3), normal(2, 3)],
      f: ([d, u]) => cube(op.scatterND(d, ix([3, 1], [2, 1]), u)),
    },
    // add, with a position written twice (Swin's masks write whole windows)
    {
      inputs: [normal(3, 4), normal(3)],
      f: ([d, u]) => cube(op.scatterND(d, ix([0, 1, 2, 3, 0, 1], [3, 2]), u, 'add')),
    },
  ],
  ScatterElements: [
    {
      inputs: [normal(3, 4), normal(3, 2)],
      f: ([d, u]) => cube(op.scatterElements(d, ix([0, 2, 3, 1, 2, 0], [3, 2]), u, 1)),
    },
    {
      inputs: [normal(3, 4), normal(2, 4)],
      f: ([d, u]) => cube(op.scatterElements(d, ix([0, 2, 2, 1, 0, 0, 0, 2], [2, 4]), u, 0, 'add')),
    },
  ],
  Resize: [
    // Upsample's nearest (asymmetric, floor), scale 2
    {
      inputs: [normal(1, 2, 3, 4)],
      f: ([x]) =>
        cube(
          op.resize(x, {
            scales: [1, 1, 2, 2],
            coordinateTransformationMode: 'asymmetric',
            nearestMode: 'floor',
          }),
        ),
    },
    // nearest down and up at odd sizes, ONNX's defaults (half_pixel, round_prefer_floor)
    { inputs: [normal(2, 1, 5, 3)], f: ([x]) => cube(op.resize(x, { sizes: [2, 1, 3, 7] })) },
    // bilinear as torch exports align_corners=False (pytorch_half_pixel), up on H, down on W
    {
      inputs: [normal(1, 2, 3, 5)],
      f: ([x]) =>
        cube(
          op.resize(x, {
            mode: 'linear',
            sizes: [1, 2, 7, 3],
            coordinateTransformationMode: 'pytorch_half_pixel',
          }),
        ),
    },
    {
      inputs: [normal(1, 1, 4, 3)],
      f: ([x]) => cube(op.resize(x, { mode: 'linear', scales: [1, 1, 1.5, 2.5] })),
    },
    {
      inputs: [normal(2, 2, 3, 3)],
      f: ([x]) =>
        cube(
          op.resize(x, {
            mode: 'linear',
            sizes: [2, 2, 5, 4],
            coordinateTransformationMode: 'align_corners',
          }),
        ),
    },
    // NHWC (tf2onnx): H and W moved last and back
    {
      inputs: [normal(1, 3, 4, 2)],
      f: ([x]) =>
        cube(
          op.resize(x, {
            mode: 'linear',
            scales: [1, 2, 0.75, 1],
            coordinateTransformationMode: 'half_pixel',
          }),
        ),
    },
    {
      inputs: [normal(1, 1, 4, 4)],
      f: ([x]) =>
        cube(
          op.resize(x, {
            sizes: [1, 1, 6, 3],
            coordinateTransformationMode: 'tf_half_pixel_for_nn',
            nearestMode: 'round_prefer_ceil',
          }),
        ),
    },
  ],
};

/** einsum is lowered to MatMul, Transpose, Reshape and ReduceSum: its gradients come from theirs. */
export const einsumCases = [
  ['bij,bjk->bik', [2, 3, 4], [2, 4, 5]],
  ['bhqd,bhkd->bhqk', [2, 2, 3, 4], [2, 2, 5, 4]],
  ['nchw,kc->nkhw', [2, 3, 2, 2], [4, 3]],
  ['...ij,...jk->...ik', [2, 3, 4], [2, 4, 2]],
  ['ij,kj', [3, 4], [2, 4]],
  ['bij->bj', [2, 3, 4]],
].map(([equation, ...shapes]) => ({
  name: `einsum ${equation}`,
  inputs: (shapes as number[][]).map((s) => normal(...s)),
  f: (xs: Value[]) => cube(op.einsum(equation as string, ...xs)),
}));
