/**
 * The new ops' values against references: PyTorch float64 on the same float32 inputs
 * (test/fixtures/ops/torch_ops.safetensors, scripts/reference/make_ops_fixture.py), with
 * PyTorch's gradients at kinks and ties; and the ops pss composes (gelu, split, einsum)
 * against ONNX Runtime's own kernel for the operator they stand for.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { grad } from '../../src/autodiff/grad.js';
import { Graph, type Value } from '../../src/graph/graph.js';
import * as op from '../../src/ops/index.js';
import { OPS } from '../../src/ops/index.js';
import { Runner } from '../../src/runtime/session.js';
import { assertParity, loadFixture } from '../helpers/fixtures.js';
import { rng } from '../helpers/random.js';

const ix = (data: number[], shape: number[]) => ({ data, shape });
const nearest = (o: op.ResizeOptions) => (x: Value) => op.resize(x, o);
const linear = (o: op.ResizeOptions) => (x: Value) => op.resize(x, { mode: 'linear', ...o });

/** How pss builds each fixture case (scripts/reference/make_ops_fixture.py), by name. */
const CASES: Record<string, (xs: Value[]) => Value> = {
  erf: ([x]) => op.erf(x),
  tanh: ([x]) => op.tanh(x),
  softplus: ([x]) => op.softplus(x),
  gelu: ([x]) => op.gelu(x),
  gelu_tanh: ([x]) => op.gelu(x, 'tanh'),
  hardsigmoid: ([x]) => op.hardSigmoid(x, 1 / 6, 0.5),
  hardswish: ([x]) => op.hardSwish(x),
  elu: ([x]) => op.elu(x, 1.3),
  selu: ([x]) => op.selu(x),
  leaky_relu: ([x]) => op.leakyRelu(x, 0.1),
  prelu: ([x, w]) => op.prelu(x, op.reshape(w, [3, 1, 1])),
  pow: ([a, b]) => op.pow(a, b),
  pow_int: ([x]) => op.pow(x, 3),
  remainder: ([a, b]) => op.mod(a, b),
  fmod: ([a, b]) => op.mod(a, b, true),
  maximum: (xs) => op.max(...xs),
  hardsigmoid_kinks: ([x]) => op.hardSigmoid(x, 1 / 6, 0.5),
  hardswish_kinks: ([x]) => op.hardSwish(x),
  leaky_relu_kinks: ([x]) => op.leakyRelu(x, 0.1),
  elu_kinks: ([x]) => op.elu(x, 1.3),
  selu_kinks: ([x]) => op.selu(x),
  prelu_kinks: ([x, w]) => op.prelu(x, w),
  maximum_ties: ([a, b]) => op.max(a, b),
  minimum_ties: ([a, b]) => op.min(a, b),
  amax_ties: ([x]) => op.reduceMax(x, [1]),
  amin_ties: ([x]) => op.reduceMin(x, [1]),
  global_max_ties: ([x]) => op.globalMaxPool(x),
  norm_zero: ([x]) => op.reduceL2(x, [1]),
  pow_zero: ([a, b]) => op.pow(a, b),
  layer_norm: ([x, w, b]) => op.layerNorm(x, w, b),
  layer_norm_2d: ([x, w, b]) => op.layerNorm(x, w, b, 2, 1e-3),
  instance_norm: ([x, w, b]) => op.instanceNorm(x, w, b),
  lrn: ([x]) => op.lrn(x, 5),
  lrn_strong: ([x]) => op.lrn(x, 3, 0.5, 0.6, 2),
  reduce_l2: ([x]) => op.reduceL2(x, [2, 3], true),
  reduce_min: ([x]) => op.reduceMin(x, [1]),
  global_max_pool: ([x]) => op.globalMaxPool(x),
  tile: ([x]) => op.tile(x, [2, 3]),
  gather: ([x]) => op.gather(x, ix([3, 0, 3, -1], [2, 2]), 1),
  gather_elements: ([x]) => op.gatherElements(x, ix([0, 2, 2, 1, 4, 0, 1, 1], [4, 2]), 1),
  gather_nd: ([x]) => op.gatherND(x, ix([2, 1, 0, 4, 3, 4], [3, 2])),
  scatter_elements: ([d, u]) => op.scatterElements(d, ix([0, 2, 3, 1, 4, 0, 1, 2], [4, 2]), u, 1),
  scatter_elements_add: ([d, u]) =>
    op.scatterElements(d, ix([0, 2, 2, 1, 0, 0, 0, 0, 3, 3], [2, 5]), u, 0, 'add'),
  scatter_nd: ([d, u]) => op.scatterND(d, ix([3, 1], [2, 1]), u),
  scatter_nd_add: ([d, u]) => op.scatterND(d, ix([0, 1, 2, 1, 0, 1], [3, 2]), u, 'add'),
  // torch.onnx's Resize for F.interpolate: nearest is asymmetric + floor, nearest-exact
  // half_pixel + round_prefer_ceil, bilinear pytorch_half_pixel (or align_corners).
  nearest_x2: ([x]) =>
    nearest({ scales: [1, 1, 2, 2], coordinateTransformationMode: 'asymmetric', nearestMode: 'floor' })(x),
  nearest_sizes: ([x]) =>
    nearest({ sizes: [2, 3, 7, 3], coordinateTransformationMode: 'asymmetric', nearestMode: 'floor' })(x),
  nearest_exact: ([x]) => nearest({ sizes: [2, 3, 3, 7], nearestMode: 'round_prefer_ceil' })(x),
  bilinear: ([x]) => linear({ sizes: [2, 3, 7, 3], coordinateTransformationMode: 'pytorch_half_pixel' })(x),
  bilinear_scales: ([x]) =>
    linear({ scales: [1, 1, 1.5, 2.5], coordinateTransformationMode: 'pytorch_half_pixel' })(x),
  bilinear_down: ([x]) =>
    linear({ sizes: [2, 3, 2, 3], coordinateTransformationMode: 'pytorch_half_pixel' })(x),
  bilinear_align_corners: ([x]) =>
    linear({ sizes: [2, 3, 8, 6], coordinateTransformationMode: 'align_corners' })(x),
};

const sumAll = (v: Value) =>
  op.reduceSum(
    v,
    v.shape.map((_, i) => i),
  );

describe('new ops against PyTorch float64 (test/fixtures/ops/torch_ops)', () => {
  const fx = loadFixture('ops/torch_ops');
  const names = JSON.parse(fx.metadata.noise_floor) as Record<string, unknown>;
  const stored = Object.keys(names).map((k) => k.replace(/\/y$/, ''));
  it('has a pss builder for every stored case, and a case for every builder', () => {
    assert.deepEqual(stored.slice().sort(), Object.keys(CASES).sort());
  });
  for (const name of stored) {
    it(name, async (t) => {
      const g = new Graph(OPS);
      const feeds: Record<string, Float32Array> = {};
      const xs: Value[] = [];
      for (let i = 0; fx.has(`${name}/x${i}`); i++) {
        const { shape, data } = fx.get(`${name}/x${i}`);
        xs.push(g.input(`x${i}`, shape));
        feeds[`x${i}`] = Float32Array.from(data);
      }
      const y = CASES[name](xs);
      const withGrads = fx.has(`${name}/dx0`);
      const dxs = withGrads ? grad(sumAll(y), xs) : [];
      const runner = await Runner.create(
        [{ name: 'y', value: y }, ...dxs.map((value, i) => ({ name: `dx${i}`, value }))],
        { threads: 1 },
      );
      const out = await runner.run(feeds);
      await runner.release();
      assert.deepEqual(y.shape, fx.get(`${name}/y`).shape, 'output shape');
      assertParity(t, name, out.y, fx.reference(`${name}/y`));
      dxs.forEach((_, i) => {
        const want = fx.get(`${name}/dx${i}`).data;
        const got = Array.from(out[`dx${i}`]);
        // Simple numbers (1/2, alpha, 0...): PyTorch's side at the kink, to float32 rounding.
        got.forEach((v, j) => {
          const close = v === want[j] || Math.abs(v - want[j]) <= 1e-6 * (1 + Math.abs(want[j]));
          assert.ok(close, `dx${i}: ${got} vs PyTorch ${want}`);
        });
      });
    });
  }
});

// ---- composed builders against ONNX Runtime's kernel of the operator they stand for

interface Tensor {
  shape: number[];
  data: Float32Array;
}
type AttributeProto = onnxProto.onnx.IAttributeProto;

/** Runs one ONNX node (`opset`) on ONNX Runtime, outside pss. */
async function runNode(
  opType: string,
  inputs: Tensor[],
  outputs: number,
  attribute: AttributeProto[] = [],
  opset = 18,
  extra: { name: string; tensor: onnxProto.onnx.ITensorProto }[] = [],
): Promise<Float32Array[]> {
  const vi = (name: string) => ({ name, type: { tensorType: { elemType: 1 } } });
  const outNames = Array.from({ length: outputs }, (_, i) => `y${i}`);
  const model = onnxProto.onnx.ModelProto.encode({
    irVersion: 9,
    opsetImport: [{ domain: '', version: opset }],
    graph: {
      name: 'one',
      node: [
        {
          opType,
          input: [...inputs.map((_, i) => `x${i}`), ...extra.map((e) => e.name)],
          output: outNames,
          attribute,
        },
      ],
      input: inputs.map((_, i) => vi(`x${i}`)),
      initializer: extra.map((e) => ({ ...e.tensor, name: e.name })),
      output: outNames.map(vi),
    },
  }).finish();
  const session = await ort.InferenceSession.create(model);
  const feeds = Object.fromEntries(
    inputs.map((x, i) => [`x${i}`, new ort.Tensor('float32', x.data, x.shape)]),
  );
  const res = await session.run(feeds);
  await session.release();
  return outNames.map((n) => res[n].data as Float32Array);
}

async function runPss(inputs: Tensor[], f: (xs: Value[]) => Value | Value[]): Promise<Float32Array[]> {
  const g = new Graph(OPS);
  const xs = inputs.map((x, i) => g.input(`x${i}`, x.shape));
  const ys = [f(xs)].flat();
  const runner = await Runner.create(
    ys.map((value, i) => ({ name: `y${i}`, value })),
    { threads: 1 },
  );
  const out = await runner.run(Object.fromEntries(inputs.map((x, i) => [`x${i}`, x.data])));
  await runner.release();
  return ys.map((_, i) => out[`y${i}`] as Float32Array);
}

function assertClose(ours: Float32Array[], theirs: Float32Array[], what: string, tol = 2e-6) {
  assert.equal(ours.length, theirs.length, `${what}: outputs`);
  ours.forEach((a, k) => {
    assert.equal(a.length, theirs[k].length, `${what}: output ${k} size`);
    const scale = Math.max(1, ...Array.from(theirs[k], Math.abs));
    a.forEach((v, i) => {
      assert.ok(Math.abs(v - theirs[k][i]) <= tol * scale, `${what}[${k}][${i}]: ${v} vs ${theirs[k][i]}`);
    });
  });
}

describe("composed builders against ONNX Runtime's own kernel", () => {
  const r = rng(21);
  const tensor = (...shape: number[]): Tensor => ({
    shape,
    data: r.normal(shape.reduce((a, b) => a * b, 1)),
  });
  const str = (name: string, s: string): AttributeProto => ({
    name,
    type: onnxProto.onnx.AttributeProto.AttributeType.STRING,
    s: new TextEncoder().encode(s),
  });

  for (const approximate of ['none', 'tanh'] as const) {
    it(`gelu (${approximate}) = Gelu of opset 20`, async () => {
      const x = tensor(3, 50);
      x.data = x.data.map((v) => v * 3);
      const theirs = await runNode('Gelu', [x], 1, [str('approximate', approximate)], 20);
      assertClose(await runPss([x], ([v]) => op.gelu(v, approximate)), theirs, `gelu ${approximate}`);
    });
  }

  it('split = Split (three outputs)', async () => {
    const x = tensor(2, 9, 3);
    const split = {
      name: 'split',
      tensor: { dims: [3], dataType: 7, rawData: new Uint8Array(BigInt64Array.from([2n, 4n, 3n]).buffer) },
    };
    const axis: AttributeProto = {
      name: 'axis',
      type: onnxProto.onnx.AttributeProto.AttributeType.INT,
      i: 1,
    };
    const theirs = await runNode('Split', [x], 3, [axis], 18, [split]);
    assertClose(await runPss([x], ([v]) => op.split(v, 1, [2, 4, 3])), theirs, 'split', 0);
  });

  const equations: [string, number[][]][] = [
    [
      'bij,bjk->bik',
      [
        [2, 3, 4],
        [2, 4, 5],
      ],
    ],
    [
      'bhqd,bhkd->bhqk',
      [
        [2, 3, 4, 5],
        [2, 3, 6, 5],
      ],
    ],
    [
      'bhqk,bhkd->bhqd',
      [
        [2, 3, 4, 6],
        [2, 3, 6, 5],
      ],
    ],
    [
      'nchw,kc->nkhw',
      [
        [2, 3, 4, 5],
        [6, 3],
      ],
    ],
    [
      '...ij,...jk->...ik',
      [
        [2, 3, 4],
        [2, 4, 2],
      ],
    ],
    [
      'ij,kj',
      [
        [3, 4],
        [5, 4],
      ],
    ],
    ['ij->ji', [[3, 4]]],
    ['bij->b', [[2, 3, 4]]],
    [
      'bi,bi->b',
      [
        [3, 4],
        [3, 4],
      ],
    ],
    ['i,j->ij', [[3], [4]]],
  ];
  for (const [equation, shapes] of equations) {
    it(`einsum "${equation}" = Einsum`, async () => {
      const xs = shapes.map((s) => tensor(...s));
      const theirs = await runNode('Einsum', xs, 1, [str('equation', equation)]);
      assertClose(await runPss(xs, (vs) => op.einsum(equation, ...vs)), theirs, equation, 1e-5);
    });
  }
});
