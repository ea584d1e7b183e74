/** Every op's backward rule, first and second order, against finite differences. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { grad } from '../../src/autodiff/grad.js';
import { Graph, type Value } from '../../src/graph/graph.js';
import * as op from '../../src/ops/index.js';
import { forceWeightGradForm, OPS, type OpType } from '../../src/ops/index.js';
import { Runner } from '../../src/runtime/session.js';
import { checkGrads, checkPerSample, type GradCase } from '../helpers/gradcheck.js';
import { rng } from '../helpers/random.js';
import { activationCases, composedCases } from './cases/activations.js';
import { einsumCases, indexingCases } from './cases/indexing.js';
import { normCases, perSampleCases } from './cases/norm.js';

const r = rng(42);
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const normal = (...shape: number[]) => ({ shape, data: r.normal(size(shape)) });
const uniform = (lo: number, hi: number, ...shape: number[]) => ({
  shape,
  data: r.uniform(size(shape), lo, hi),
});
const away = (...shape: number[]) => ({ shape, data: r.awayFromZero(size(shape)) });
const distinct = (gap: number, ...shape: number[]) => ({ shape, data: r.distinct(size(shape), gap) });
const cube = (x: Value) => op.mul(x, op.mul(x, x)); // makes linear ops' second derivatives non-trivial

type Table = Partial<Record<OpType, Omit<GradCase, 'name'>[]>>;

const baseTable: Table = {
  Add: [{ inputs: [normal(2, 3, 4), normal(3, 1)], f: ([a, b]) => cube(op.add(a, b)) }],
  Sub: [{ inputs: [normal(3, 1), normal(2, 3, 4)], f: ([a, b]) => cube(op.sub(a, b)) }],
  Mul: [{ inputs: [normal(2, 3, 4), normal(4)], f: ([a, b]) => op.mul(a, b) }],
  Div: [{ inputs: [normal(2, 3), uniform(0.5, 2, 2, 1)], f: ([a, b]) => op.div(a, b) }],
  Neg: [{ inputs: [normal(5)], f: ([x]) => cube(op.neg(x)) }],
  Abs: [{ inputs: [away(7)], f: ([x]) => cube(op.abs(x)) }],
  Sqrt: [{ inputs: [uniform(0.5, 2, 6)], f: ([x]) => op.sqrt(x) }],
  Exp: [{ inputs: [normal(6)], f: ([x]) => op.exp(x) }],
  Log: [{ inputs: [uniform(0.5, 2, 6)], f: ([x]) => op.log(x) }],
  Sigmoid: [{ inputs: [normal(6)], f: ([x]) => op.sigmoid(x) }],
  Relu: [{ inputs: [away(2, 8)], f: ([x]) => cube(op.relu(x)) }],
  Clip: [{ inputs: [distinct(0.11, 20)], f: ([x]) => cube(op.clip(x, -0.5, 0.6)) }],
  Sign: [{ inputs: [away(9)], f: ([x]) => op.mul(cube(x), op.sign(x)) }],
  Identity: [{ inputs: [normal(4)], f: ([x]) => cube(op.identity(x)) }],
  Dropout: [{ inputs: [normal(4)], f: ([x]) => cube(op.emit(x.graph, 'Dropout', [x])) }],
  Cast: [{ inputs: [normal(5)], f: ([x]) => cube(op.cast(op.exp(op.cast(x, 'float64')), 'float32')) }],
  Equal: [{ inputs: [distinct(0.1, 8)], f: ([x]) => op.mul(cube(x), op.mask(op.not(op.equal(x, 0.05)), x)) }],
  Greater: [{ inputs: [distinct(0.1, 8)], f: ([x]) => op.mul(cube(x), op.mask(op.greater(x, 0.03), x)) }],
  Less: [{ inputs: [distinct(0.1, 8)], f: ([x]) => op.mul(cube(x), op.mask(op.less(x, 0.03), x)) }],
  And: [
    {
      inputs: [distinct(0.1, 8)],
      f: ([x]) => op.mul(cube(x), op.mask(op.and(op.less(x, 0.23), op.greater(x, -0.23)), x)),
    },
  ],
  Not: [{ inputs: [distinct(0.1, 8)], f: ([x]) => op.mul(cube(x), op.mask(op.not(op.less(x, 0.03)), x)) }],
  Where: [
    {
      inputs: [normal(2, 5), normal(5)],
      f: ([a, b]) => cube(op.where(op.greater(a.graph.constant(r.normal(5), [5]), 0), a, b)),
    },
  ],
  Reshape: [{ inputs: [normal(2, 3, 4)], f: ([x]) => cube(op.reshape(x, [4, -1])) }],
  Flatten: [{ inputs: [normal(2, 3, 2, 2)], f: ([x]) => cube(op.flatten(x, 2)) }],
  Transpose: [{ inputs: [normal(2, 3, 4)], f: ([x]) => cube(op.transpose(x, [2, 0, 1])) }],
  Expand: [{ inputs: [normal(3, 1)], f: ([x]) => cube(op.expand(x, [2, 3, 4])) }],
  Concat: [{ inputs: [normal(2, 3), normal(2, 2)], f: ([a, b]) => cube(op.concat([a, b], 1)) }],
  Slice: [{ inputs: [normal(4, 6)], f: ([x]) => cube(op.slice(x, [1, -4], [3, 100])) }],
  Pad: [{ inputs: [normal(2, 3)], f: ([x]) => op.add(cube(op.pad(x, [1, 0, 2, 3])), 1) }],
  ReduceSum: [
    { inputs: [normal(2, 3, 4)], f: ([x]) => cube(op.reduceSum(x, [0, 2])) },
    { inputs: [normal(2, 3, 4)], f: ([x]) => cube(op.reduceSum(x, [1], true)) },
  ],
  ReduceMean: [{ inputs: [normal(2, 3, 4)], f: ([x]) => cube(op.reduceMean(x, [2], true)) }],
  ReduceMax: [{ inputs: [distinct(0.05, 3, 5)], f: ([x]) => cube(op.reduceMax(x, [1])) }],
  ReduceL1: [{ inputs: [away(2, 3, 4)], f: ([x]) => cube(op.reduceL1(x, [0, 2])) }],
  Softmax: [{ inputs: [normal(3, 5)], f: ([x]) => op.softmax(x, 1) }],
  LogSoftmax: [{ inputs: [normal(3, 5)], f: ([x]) => op.logSoftmax(x, -1) }],
  // TopK only selects (here: a mask of the 3 largest per row); no cotangent reaches it.
  TopK: [
    {
      inputs: [distinct(0.1, 2, 6)],
      f: ([x]) => {
        const third = op.slice(op.topKValues(x, 3), [2], [3], [1]);
        return op.mul(cube(x), op.mask(op.not(op.less(x, third)), x));
      },
    },
  ],
  CumSum: [
    { inputs: [normal(3, 5)], f: ([x]) => cube(op.cumSum(x, 1)) },
    { inputs: [normal(3, 5)], f: ([x]) => cube(op.cumSum(x, 0, { exclusive: true, reverse: true })) },
  ],
  MatMul: [
    { inputs: [normal(2, 3, 4), normal(4, 5)], f: ([a, b]) => cube(op.matmul(a, b)) },
    { inputs: [normal(2, 1, 3, 4), normal(3, 4, 2)], f: ([a, b]) => cube(op.matmul(a, b)) },
  ],
  Gemm: [false, true].flatMap((transA) =>
    [false, true].map((transB) => ({
      inputs: [normal(...(transA ? [4, 3] : [3, 4])), normal(...(transB ? [5, 4] : [4, 5])), normal(5)],
      f: ([a, b, c]: Value[]) => cube(op.gemm(a, b, c, { alpha: 0.7, beta: 1.3, transA, transB })),
    })),
  ),
  Conv: [
    // stride 2, odd size, bias
    {
      inputs: [normal(2, 3, 7, 7), normal(4, 3, 3, 3), normal(4)],
      f: ([x, w, b]) => cube(op.conv(x, w, b, { strides: [2, 2], pads: [1, 1, 1, 1] })),
    },
    // groups, dilation, asymmetric pads
    {
      inputs: [normal(1, 4, 8, 9), normal(6, 2, 3, 2)],
      f: ([x, w]) => cube(op.conv(x, w, undefined, { group: 2, dilations: [2, 1], pads: [0, 1, 2, 0] })),
    },
    // depthwise, stride 2
    {
      inputs: [normal(2, 3, 6, 6), normal(3, 1, 3, 3)],
      f: ([x, w]) => cube(op.conv(x, w, undefined, { group: 3, strides: [2, 2], pads: [1, 1, 1, 1] })),
    },
    // 1x1 stride 2 (ResNet downsample)
    {
      inputs: [normal(2, 4, 5, 5), normal(3, 4, 1, 1)],
      f: ([x, w]) => cube(op.conv(x, w, undefined, { strides: [2, 2] })),
    },
  ],
  ConvTranspose: [
    {
      inputs: [normal(2, 4, 3, 3), normal(4, 3, 3, 3), normal(3)],
      f: ([x, w, b]) =>
        cube(op.convTranspose(x, w, b, { strides: [2, 2], pads: [1, 1, 1, 1], outputPadding: [1, 0] })),
    },
    {
      inputs: [normal(1, 4, 4, 5), normal(4, 1, 2, 3)],
      f: ([x, w]) => cube(op.convTranspose(x, w, undefined, { group: 2, dilations: [1, 2] })),
    },
  ],
  MaxPool: [
    {
      inputs: [distinct(0.03, 2, 2, 7, 7)],
      f: ([x]) => cube(op.maxPool(x, { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] })),
    },
    { inputs: [distinct(0.03, 1, 3, 6, 6)], f: ([x]) => cube(op.maxPool(x, { kernel: [2, 2] })) },
  ],
  AveragePool: [
    {
      inputs: [normal(2, 2, 7, 7)],
      f: ([x]) =>
        cube(
          op.averagePool(x, { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], countIncludePad: false }),
        ),
    },
    {
      inputs: [normal(2, 2, 5, 6)],
      f: ([x]) => cube(op.averagePool(x, { kernel: [3, 2], strides: [1, 2], pads: [1, 0, 1, 1] })),
    },
  ],
  GlobalAveragePool: [{ inputs: [normal(2, 3, 4, 5)], f: ([x]) => cube(op.globalAveragePool(x)) }],
  BatchNormalization: [
    {
      inputs: [normal(2, 3, 4, 4), normal(3), normal(3), normal(3), uniform(0.5, 2, 3)],
      f: ([x, s, b, m, v]) => cube(op.batchNorm(x, s, b, m, v, 1e-3)),
    },
  ],
};

const table: Table = { ...baseTable, ...activationCases, ...normCases, ...indexingCases };

describe('backward rules: finite differences, first and second order', () => {
  it('cover every op in the registry', () => {
    // StopGradient's rule is zero by definition, which finite differences cannot see: tested below.
    const missing = Object.keys(OPS).filter((k) => !table[k as OpType]?.length && k !== 'StopGradient');
    if (missing.length) throw new Error(`no gradient test for: ${missing.join(', ')}`);
  });
  for (const [name, cases] of Object.entries(table)) {
    cases!.forEach((c, i) => {
      it(`${name} #${i}`, () => checkGrads({ ...c, name: `${name} #${i}` }));
    });
  }
  for (const c of [...composedCases, ...einsumCases]) it(c.name, () => checkGrads(c));
  for (const form of ['matmul', 'im2col', 'conv'] as const) {
    it(`Conv weight gradient, ${form} formulation`, async () => {
      forceWeightGradForm(form);
      try {
        await checkGrads({
          name: `Conv/${form}`,
          inputs: [normal(2, 4, 7, 6), normal(6, 2, form === 'matmul' ? 1 : 3, form === 'matmul' ? 1 : 2)],
          f: ([x, w]) => cube(op.conv(x, w, undefined, { group: 2, strides: [2, 1], pads: [1, 0, 0, 1] })),
        });
      } finally {
        forceWeightGradForm(undefined);
      }
    });
  }
});

describe('per-sample cotangents equal single-sample gradients, and differentiate again', () => {
  const cases = [
    {
      name: 'Conv (weight, bias; grouped, strided)',
      inputs: [normal(3, 4, 7, 6), normal(6, 2, 3, 3), normal(6)],
      params: [1, 2],
      f: ([x, w, b]: Value[]) => cube(op.conv(x, w, b, { group: 2, strides: [2, 1], pads: [1, 1, 1, 1] })),
    },
    {
      name: 'Conv 1x1 stride 2',
      inputs: [normal(2, 4, 5, 5), normal(3, 4, 1, 1)],
      params: [1],
      f: ([x, w]: Value[]) => cube(op.conv(x, w, undefined, { strides: [2, 2] })),
    },
    {
      name: 'ConvTranspose (weight, bias)',
      inputs: [normal(2, 4, 3, 3), normal(4, 3, 3, 3), normal(3)],
      params: [1, 2],
      f: ([x, w, b]: Value[]) => cube(op.convTranspose(x, w, b, { strides: [2, 2], pads: [1, 1, 1, 1] })),
    },
    {
      name: 'Gemm (B transposed, C)',
      inputs: [normal(3, 4), normal(5, 4), normal(5)],
      params: [1, 2],
      f: ([a, b, c]: Value[]) => cube(op.gemm(a, b, c, { transB: true, alpha: 0.7, beta: 1.3 })),
    },
    {
      name: 'Gemm (B plain)',
      inputs: [normal(3, 4), normal(4, 5)],
      params: [1],
      f: ([a, b]: Value[]) => cube(op.gemm(a, b)),
    },
    {
      name: 'BatchNormalization (scale, bias)',
      inputs: [normal(3, 2, 3, 3), normal(2), normal(2), normal(2), uniform(0.5, 2, 2)],
      params: [1, 2],
      f: ([x, s, b, m, v]: Value[]) => cube(op.batchNorm(x, s, b, m, v)),
    },
    ...perSampleCases,
  ];
  for (const form of ['default', 'matmul', 'im2col', 'conv'] as const) {
    for (const c of cases) {
      if (form !== 'default' && !c.name.startsWith('Conv')) continue;
      if (form === 'matmul' && !c.name.includes('1x1')) continue;
      it(`${c.name}${form === 'default' ? '' : `, ${form} formulation`}`, async () => {
        forceWeightGradForm(form === 'default' ? undefined : form);
        try {
          await checkPerSample(c);
        } finally {
          forceWeightGradForm(undefined);
        }
      });
    }
  }
});

describe('StopGradient and TopK', () => {
  it('StopGradient passes values and blocks cotangents: d/dx (x * sg(x)) = x', async () => {
    const g = new Graph(OPS);
    const x = g.input('x', [4]);
    const [dx] = grad(op.reduceSum(op.mul(x, op.stopGradient(x)), [0]), [x]);
    const runner = await Runner.create([{ name: 'dx', value: dx }], { threads: 1 });
    const data = Float32Array.from([1, -2, 3, 0.5]);
    assert.deepEqual(Array.from((await runner.run({ x: data })).dx), Array.from(data));
    await runner.release();
  });
  it('TopK refuses to be differentiated', () => {
    const g = new Graph(OPS);
    const x = g.input('x', [2, 5]);
    assert.throws(() => grad(op.reduceSum(op.topKValues(x, 2), [0, 1]), [x]), /no gradient for TopK/);
  });
});

describe('constants folded at build time (Graph.foldConstant)', () => {
  // d/dW <grad_x <Conv(x, W)², c>, d>: the input gradient uses the adjoint kernel, which is
  // folded in JS when W is a constant and built from graph ops when W is a graph input.
  const r = rng(11);
  const [x0, w0] = [r.normal(2 * 4 * 5 * 5), r.normal(6 * 2 * 3 * 3)];
  const [c0, d0] = [r.normal(2 * 6 * 5 * 5), r.normal(2 * 4 * 5 * 5)];
  const opts = { pads: [1, 1, 1, 1], group: 2 };
  async function mixedSecondOrder(weightAsConstant: boolean) {
    const g = new Graph(OPS);
    const x = g.input('x', [2, 4, 5, 5]);
    const w = weightAsConstant ? g.constant(w0, [6, 2, 3, 3]) : g.input('w', [6, 2, 3, 3]);
    const z = op.conv(x, w, undefined, opts);
    const y = op.reduceSum(op.mul(op.mul(z, z), g.constant(c0, [2, 6, 5, 5])), [0, 1, 2, 3]);
    const [gx] = grad(y, [x]);
    const h = op.reduceSum(op.mul(gx, g.constant(d0, [2, 4, 5, 5])), [0, 1, 2, 3]);
    const [gw, gx2] = grad(h, [w, x]);
    assert.equal(g.folded.size, weightAsConstant ? 1 : 0);
    const runner = await Runner.create([
      { name: 'gx', value: gx },
      { name: 'gw', value: gw },
      { name: 'gx2', value: gx2 },
    ]);
    const out = await runner.run({ x: x0, w: w0 });
    await runner.release();
    return out;
  }
  it('differentiate like the graph ops they replace (the adjoint conv kernel, groups of 2)', async () => {
    const [ops, folded] = [await mixedSecondOrder(false), await mixedSecondOrder(true)];
    for (const k of ['gx', 'gw', 'gx2']) {
      const scale = Math.max(...Array.from(ops[k], Math.abs));
      assert.ok(scale > 0, `${k} is all zeros`);
      for (let i = 0; i < ops[k].length; i++)
        assert.ok(
          Math.abs(ops[k][i] - folded[k][i]) <= 1e-5 * scale,
          `${k}[${i}]: ${ops[k][i]} vs ${folded[k][i]}`,
        );
    }
  });
  it('refuse per-sample gradients through a folded copy', () => {
    const g = new Graph(OPS);
    const x = g.input('x', [2, 4, 5, 5]);
    const w = g.constant(w0, [6, 2, 3, 3]);
    const [gx] = grad(op.reduceSum(op.conv(x, w, undefined, opts), [0, 1, 2, 3]), [x]);
    const h = op.reduceSum(op.mul(gx, gx), [0, 1, 2, 3]);
    assert.throws(() => grad(h, [w], { perSampleBatch: 2 }), /per-sample gradients of .* folded copy/);
  });
});

describe('fastSign', () => {
  it('equals Sign exactly, subnormals and infinities included, in float32 and float64', async () => {
    const special = [0, -0, 2 ** -149, -(2 ** -149), 1e-40, -3.5, 7, 3e38, -3e38, Infinity, -Infinity];
    for (const dtype of ['float32', 'float64'] as const) {
      const values = dtype === 'float32' ? special : [...special, 2 ** -1074, -(2 ** -1074), 1e300];
      const g = new Graph(OPS);
      const x = g.input('x', [values.length], dtype);
      const runner = await Runner.create([
        { name: 'fast', value: op.fastSign(x) },
        { name: 'sign', value: op.sign(x) },
      ]);
      const data = dtype === 'float32' ? Float32Array.from(values) : Float64Array.from(values);
      const out = await runner.run({ x: data });
      await runner.release();
      const plusZero = (a: ArrayLike<number>) => Array.from(a, (v) => v + 0); // -0 and 0 alike
      assert.deepEqual(plusZero(out.fast), plusZero(out.sign), dtype);
      assert.deepEqual(Array.from(out.fast).map(Math.abs), [0, 0, ...values.slice(2).map(() => 1)]);
    }
  });
});
