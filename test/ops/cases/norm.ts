/** Rule cases of the normalisers, reductions and pooling added for imported models. */
import type { Value } from '../../../src/graph/graph.js';
import * as op from '../../../src/ops/index.js';
import { cube, inputs, type Table } from './inputs.js';

const { normal, uniform, away, distinct } = inputs(16);

export const normCases: Table = {
  LayerNormalization: [
    { inputs: [normal(2, 3, 4), normal(4), normal(4)], f: ([x, s, b]) => op.layerNorm(x, s, b) },
    // over the last two axes, no bias, a scale broadcast along one of them
    { inputs: [normal(2, 3, 4), normal(1, 4)], f: ([x, s]) => op.layerNorm(x, s, undefined, 1, 1e-3) },
  ],
  InstanceNormalization: [
    { inputs: [normal(2, 3, 3, 4), normal(3), normal(3)], f: ([x, s, b]) => op.instanceNorm(x, s, b, 1e-3) },
  ],
  LRN: [
    // alpha large enough that the normaliser is far from 1
    { inputs: [normal(2, 5, 2, 3)], f: ([x]) => op.lrn(x, 3, 0.9, 0.75, 1) },
    { inputs: [normal(1, 6, 3, 2)], f: ([x]) => op.lrn(x, 5, 1.5, 0.6, 2) },
  ],
  ReduceL2: [{ inputs: [away(2, 3, 4)], f: ([x]) => cube(op.reduceL2(x, [1, 2], true)) }],
  ReduceMin: [{ inputs: [distinct(0.05, 3, 5)], f: ([x]) => cube(op.reduceMin(x, [0])) }],
  GlobalMaxPool: [{ inputs: [distinct(0.03, 2, 3, 3, 4)], f: ([x]) => cube(op.globalMaxPool(x)) }],
};

/** Per-sample parameter cotangents (the 'parameter' saliency of imported models). */
export const normPerSample = [
  {
    name: 'LayerNormalization (scale, bias)',
    inputs: [normal(3, 2, 4), normal(4), normal(4)],
    params: [1, 2],
    f: ([x, s, b]: Value[]) => cube(op.layerNorm(x, s, b)),
  },
  {
    name: 'InstanceNormalization (scale, bias)',
    inputs: [normal(3, 2, 3, 3), normal(2), normal(2)],
    params: [1, 2],
    f: ([x, s, b]: Value[]) => cube(op.instanceNorm(x, s, b)),
  },
  {
    name: 'PRelu (slope per channel)',
    inputs: [away(3, 2, 2, 2), uniform(0.1, 0.5, 2, 1, 1)],
    params: [1],
    f: ([x, s]: Value[]) => cube(op.prelu(x, s)),
  },
];
