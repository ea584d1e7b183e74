/**
 * ONNX import: a torch.onnx export of ResNet-18 (BatchNorm folded, as PyTorch exports it)
 * against the built-in ResNet-18 with the same weights, a round trip through pss's own
 * ONNX writer (BatchNorm kept), and the errors for files pss cannot use.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import onnxProto from 'onnx-proto';
import { PssError } from '../../src/errors.js';
import { reachableNodes, toOnnxModel } from '../../src/graph/onnx.js';
import { deterministicInput } from '../../src/models/deterministic.js';
import { Model } from '../../src/models/model.js';
import { onnxModel } from '../../src/models/onnx-import.js';
import { resnet18 } from '../../src/models/resnet.js';
import { tinycnn } from '../../src/models/tinycnn.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { buildForward } from '../../src/saliency/graph.js';
import { standardize } from '../../src/saliency/standardize.js';
import { RunningStats } from '../../src/stats/welford.js';
import { assertParity, cosine, loadFixture, maxRelDiff } from '../helpers/fixtures.js';
import { loadSkeleton, tinyOnnx } from '../helpers/onnx.js';

/** Statistics over n deterministic inputs, then z of `input`. */
async function zScores(model: Model, input: Float32Array, label: number, n: number) {
  await using engine = new SaliencyEngine(model);
  const stats = new RunningStats(model.unitCount);
  const shape = [n, 3, 224, 224] as const;
  const batch = await engine.compute(
    { data: deterministicInput('stats', shape), shape },
    Array.from({ length: n }, (_, i) => (i * 97) % 1000),
  );
  for (const r of batch) stats.push(r.saliency);
  const [r] = await engine.compute({ data: input, shape: [1, 3, 224, 224] }, [label]);
  return { z: standardize(r.saliency, { mean: stats.mean, std: stats.std() }), result: r };
}

describe('ONNX import: torch.onnx export of ResNet-18 (BatchNorm folded)', () => {
  const onnx = onnxModel(
    loadSkeleton('test/fixtures/onnx/resnet18-folded.skeleton.onnx'),
    'resnet18-folded.onnx',
  );
  const builtin = Model.deterministic(resnet18);
  const fx = loadFixture('resnet18');
  const label = fx.get('labels').data[0];
  const input = deterministicInput('input', [1, 3, 224, 224]);

  it('finds the same conv layers, in order, and says BatchNorm was folded', () => {
    assert.deepEqual(
      onnx.layers.map((l) => [l.name, l.filters]),
      builtin.layers.map((l) => [l.name, l.filters]),
    );
    assert.equal(onnx.info.batchNormFolded, true);
    assert.equal(onnx.numClasses, 1000);
  });

  it('gives the same z-ordering of filters as the built-in ResNet-18', async (t) => {
    const a = await zScores(onnx, input, label, 6);
    const b = await zScores(builtin, input, label, 6);
    assertParity(t, 'logits (BatchNorm folded) against PyTorch', a.result.logits, fx.reference('logits'));
    // Raw saliency differs by the folded per-filter factor...
    assert.ok(cosine(a.result.saliency, b.result.saliency) < 0.999);
    // ...which cancels in z.
    const cos = cosine(a.z, b.z);
    t.diagnostic(`z cosine ${cos.toFixed(9)}, max rel diff ${maxRelDiff(a.z, b.z).toExponential(2)}`);
    assert.ok(cos > 0.99999, `z cosine ${cos}`);
    const top = (z: Float64Array) =>
      Array.from(z.keys())
        .sort((i, j) => z[j] - z[i])
        .slice(0, 100);
    assert.deepEqual(top(a.z), top(b.z));
  });
});

describe('ONNX import: round trip through pss’s own writer (BatchNorm kept)', () => {
  it('matches the built-in model', async (t) => {
    const builtin = Model.deterministic(tinycnn);
    const { logits } = buildForward(builtin, [1, 3, 29, 29]);
    const bytes = toOnnxModel([{ name: 'logits', value: logits }]);
    const imported = onnxModel(bytes, 'tinycnn.onnx');
    assert.equal(imported.info.batchNormFolded, false);
    assert.equal(imported.unitCount, builtin.unitCount);
    const fx = loadFixture('tinycnn');
    const input = {
      data: Float32Array.from(fx.get('input').data.subarray(0, 3 * 29 * 29)),
      shape: [1, 3, 29, 29] as const,
    };
    await using e1 = new SaliencyEngine(imported);
    await using e2 = new SaliencyEngine(builtin);
    const [a] = await e1.compute(input, [3]);
    const [b] = await e2.compute(input, [3]);
    assert.ok(cosine(a.saliency, b.saliency) > 0.99999);
    assertParity(t, 'filter against PyTorch', a.saliency, fx.reference('filter', 0));
  });
});

describe('ONNX import: neurons (--units filters+neurons)', () => {
  it('linears with the images on axis 0 hold neurons (the head’s Gemm, the MLPs’ MatMuls on tokens); the out_proj Gemm on tokens [N·T, E] and the in-projection MatMul on [T, N, E] do not', async () => {
    const vit = onnxModel(loadSkeleton('test/fixtures/onnx/vit_b_16-op17.skeleton.onnx.gz'), 'vit.onnx');
    const units = vit.withUnits('filters+neurons');
    const outProj = units.params.filter((p) => /out_proj\.weight$/.test(p.name));
    assert.ok(
      outProj.length > 0 && outProj.every((p) => p.role === 'linear'),
      'the exports carry out_proj Gemms',
    );
    assert.deepEqual(
      units.layers.filter((l) => l.kind === 'neuron').map((l) => [l.name, l.filters]),
      [
        ...[0, 1].flatMap((i) => [
          [`encoder.layers.encoder_layer_${i}.mlp.0`, 256],
          [`encoder.layers.encoder_layer_${i}.mlp.3`, 64],
        ]),
        ['heads.head', 1000],
      ],
    );
    assert.ok(!units.layers.some((l) => /self_attention/.test(l.name)), 'no attention projection');
    // a batch of two: per-sample saliency of the neurons, and one image's neuron turned off
    const [c, h, w] = units.arch.inputShape;
    const shape = [2, c, h, w] as const;
    const x = deterministicInput('vit-neurons', shape);
    await using engine = new SaliencyEngine(units);
    const [a, b] = await engine.compute({ data: x, shape }, [1, 2]);
    assert.equal(a.saliency.length, vit.unitCount + 2 * (256 + 64) + 1000);
    assert.ok(maxRelDiff(a.saliency, b.saliency) > 1e-3, 'the two images differ');
    const [single] = await engine.compute({ data: x.subarray(x.length / 2), shape: [1, c, h, w] }, [2]);
    assert.ok(maxRelDiff(b.saliency, single.saliency) < 1e-5, 'row 1 is its own image');
  });
});

describe('ONNX import: shape arithmetic is evaluated on import', () => {
  it('leaves only the differentiable ops of a Shape/Gather/Unsqueeze/Concat/Reshape flatten', () => {
    const model = onnxProto.onnx.ModelProto.decode(tinyOnnx(['Conv']));
    const g = model.graph!;
    const i64 = (name: string, values: number[], dims = [values.length]) => ({
      name,
      dims,
      dataType: 7,
      int64Data: values,
    });
    g.node = [
      {
        opType: 'Conv',
        input: ['x', 'w'],
        output: ['c'],
        attribute: [{ name: 'pads', ints: [1, 1, 1, 1], type: 7 }],
      },
      { opType: 'Shape', input: ['c'], output: ['s'] },
      { opType: 'Gather', input: ['s', 'zero'], output: ['n'] },
      { opType: 'Unsqueeze', input: ['n', 'axes'], output: ['n1'] },
      {
        opType: 'Concat',
        input: ['n1', 'rest'],
        output: ['target'],
        attribute: [{ name: 'axis', i: 0, type: 2 }],
      },
      { opType: 'Reshape', input: ['c', 'target'], output: ['f'] },
      { opType: 'Gemm', input: ['f', 'fc'], output: ['y'], attribute: [{ name: 'transB', i: 1, type: 2 }] },
    ];
    const f32 = (name: string, dims: number[]) => ({
      name,
      dims,
      dataType: 1,
      floatData: Array.from({ length: dims.reduce((a, b) => a * b) }, (_, i) => Math.sin(i)),
    });
    g.initializer = [
      f32('w', [4, 3, 3, 3]),
      f32('fc', [10, 256]),
      i64('zero', [0], []),
      i64('axes', [0]),
      i64('rest', [-1]),
    ];
    const m = onnxModel(onnxProto.onnx.ModelProto.encode(model).finish(), 'flatten.onnx');
    const { logits } = buildForward(m, [1, 3, 8, 8]);
    assert.deepEqual(logits.shape, [1, 10]);
    assert.deepEqual(
      reachableNodes([logits]).map((n) => n.op),
      ['Conv', 'Reshape', 'Gemm'],
    );
  });
});

describe('ONNX import: files pss cannot use', () => {
  const tiny = tinyOnnx;
  it('lists every unsupported operator', () => {
    assert.throws(
      () => onnxModel(tiny(['Relu', 'NonMaxSuppression', 'Foo', 'Foo']), 'm.onnx'),
      (e: Error) =>
        e instanceof PssError &&
        /operators pss cannot differentiate: Foo, NonMaxSuppression$/.test(e.message),
    );
  });
  it('names operators of other domains with their domain, and takes no operator for an object key', () => {
    const model = onnxProto.onnx.ModelProto.decode(tiny(['Relu', 'constructor', 'toString', 'Conv']));
    model.graph!.node![3].domain = 'com.microsoft';
    assert.throws(
      () => onnxModel(onnxProto.onnx.ModelProto.encode(model).finish(), 'm.onnx'),
      (e: Error) =>
        e instanceof PssError &&
        /cannot differentiate: Conv \(domain com\.microsoft\), constructor, toString$/.test(e.message),
    );
  });
  it('refuses bytes that are not ONNX', () => {
    assert.throws(
      () => onnxModel(new TextEncoder().encode('definitely not a protobuf'), 'bad.onnx'),
      (e: Error) => e instanceof PssError && /bad\.onnx/.test(e.message),
    );
  });
});

describe('ONNX import: damaged tensors are refused before anything is allocated', () => {
  const withInitializer = (t: import('onnx-proto').onnx.ITensorProto) => {
    const model = onnxProto.onnx.ModelProto.decode(tinyOnnx(['Conv']));
    model.graph!.node![0].input = ['x', 'w'];
    model.graph!.initializer = [onnxProto.onnx.TensorProto.create({ name: 'w', ...t })];
    return onnxProto.onnx.ModelProto.encode(model).finish();
  };
  const refuses = (t: import('onnx-proto').onnx.ITensorProto, pattern: RegExp) =>
    assert.throws(
      () => onnxModel(withInitializer(t), 'd.onnx'),
      (e: Error) => e instanceof PssError && !e.message.includes('\n') && pattern.test(e.message),
    );
  it('dims that claim 2^40 elements', () =>
    refuses(
      { dims: [2 ** 20, 2 ** 20], dataType: 1, rawData: new Uint8Array(8) },
      /tensor "w" has 8 bytes of raw_data; dims \[1048576, 1048576\] need 4398046511104$/,
    ));
  it('a negative dimension', () =>
    refuses({ dims: [-3], dataType: 1 }, /dims \[-3\]: each must be a non-negative integer/));
  it('typed data shorter than its dims, and raw_data with a typed field', () => {
    refuses({ dims: [3], dataType: 1, floatData: [1, 2] }, /has 2 values in float_data; dims \[3\] need 3/);
    refuses(
      { dims: [1], dataType: 1, floatData: [1], rawData: new Uint8Array(4) },
      /both raw_data and float_data/,
    );
  });
  it('external data, by location or by entries', () => {
    refuses({ dims: [1], dataType: 1, dataLocation: 1 }, /kept in an external file/);
    refuses({ dims: [1], dataType: 1, externalData: [{ key: 'location', value: 'w.bin' }] }, /external file/);
  });
  it('an operator type or a name with a newline', () => {
    const model = onnxProto.onnx.ModelProto.decode(tinyOnnx(['Relu']));
    model.graph!.node![0].opType = 'Re\nlu';
    assert.throws(
      () => onnxModel(onnxProto.onnx.ModelProto.encode(model).finish(), 'n.onnx'),
      (e: Error) =>
        e instanceof PssError && /operator type "Re�lu" is not an ONNX identifier/.test(e.message),
    );
  });
});
