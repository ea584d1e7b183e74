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

/**
 * Per-sample parameter cotangents (the 'parameter' saliency of imported models): biases,
 * layer scales, position embeddings and class tokens, linear layers as MatMul.
 */
export const perSampleCases = [
  {
    name: 'Add (bias; position embedding [1, L, C])',
    inputs: [normal(3, 2, 4), normal(4), normal(1, 2, 4)],
    params: [1, 2],
    f: ([x, b, p]: Value[]) => cube(op.add(op.add(x, b), p)),
  },
  {
    name: 'Sub and Div (parameters on either side)',
    inputs: [normal(3, 4), normal(4), uniform(0.5, 2, 1, 4)],
    params: [1, 2],
    f: ([x, p, s]: Value[]) => cube(op.div(op.sub(p, x), s)),
  },
  {
    name: 'Mul (layer scale [C, 1, 1], on either side)',
    inputs: [normal(3, 4, 2, 2), normal(4, 1, 1), normal(2)],
    params: [1, 2],
    f: ([x, s, t]: Value[]) => cube(op.mul(t, op.mul(x, s))),
  },
  {
    name: 'Expand (class token concatenated to the tokens)',
    inputs: [normal(3, 2, 4), normal(1, 1, 4)],
    params: [1],
    f: ([x, cls]: Value[]) => cube(op.concat([op.expand(cls, [x.shape[0], 1, 4]), x], 1)),
  },
  {
    name: 'MatMul (linear layer on [B, L, K] and on [B, K])',
    inputs: [normal(3, 2, 4), normal(4, 5), normal(10, 2)],
    params: [1, 2],
    f: ([x, w, v]: Value[]) => cube(op.matmul(op.reshape(op.matmul(x, w), [x.shape[0], 10]), v)),
  },
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
