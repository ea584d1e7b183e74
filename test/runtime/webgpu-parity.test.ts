/**
 * The parity suite on `--device webgpu` (SwiftShader in CI, a GPU where there is one): the
 * same models, inputs and PyTorch fixtures as test/saliency, through ONNX Runtime's WebGPU
 * provider, against PyTorch float64 with assertParity's tolerance and against the CPU.
 * Measured on SwiftShader (2 cores): cosine to the CPU 1 - 4e-14 (TinyCNN filter saliency),
 * 1 - 8e-14 (the embedded model's input gradient), 1 - 1.4e-9 (ResNet-18); about 4 minutes,
 * most of it ResNet-18's one 224x224 run.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadInput } from '../../src/image/input.js';
import { deterministicInput, hashUniform } from '../../src/models/deterministic.js';
import { loadModel } from '../../src/models/load.js';
import { Model } from '../../src/models/model.js';
import { resnet18 } from '../../src/models/resnet.js';
import { tinycnn } from '../../src/models/tinycnn.js';
import type { Device } from '../../src/runtime/session.js';
import { type ImageBatch, SaliencyEngine } from '../../src/saliency/engine.js';
import { type ExplainOptions, explain } from '../../src/saliency/explain.js';
import { readStats } from '../../src/stats/file.js';
import { assertParity, cosine, FILTER_COSINE, INPUT_COSINE, loadFixture } from '../helpers/fixtures.js';
import { webgpuSkipReason } from './webgpu-env.js';

const skip = webgpuSkipReason();

/** Filter saliency of a batch on one device. */
async function saliency(model: Model, batch: ImageBatch, labels: number[], device: Device) {
  await using engine = new SaliencyEngine(model, { device });
  return await engine.compute(batch, labels);
}
async function explained(model: Model, image: ImageBatch, label: number, o: ExplainOptions, device: Device) {
  await using engine = new SaliencyEngine(model, { device });
  return await explain(engine, image, label, o);
}

const assertNear = (name: string, gpu: ArrayLike<number>, cpu: ArrayLike<number>, min: number) => {
  const c = cosine(gpu, cpu);
  assert.ok(c >= min, `${name}: cosine to the CPU ${c} < ${min}`);
};

describe('webgpu parity', { skip }, () => {
  it('TinyCNN filter saliency, a batch of 3 per sample (PyTorch and the CPU)', async (t) => {
    const fx = loadFixture('tinycnn');
    const model = Model.deterministic(tinycnn);
    const labels = Array.from(fx.get('labels').data);
    const batch = { data: Float32Array.from(fx.get('input').data), shape: [3, 3, 29, 29] as const };
    const gpu = await saliency(model, batch, labels, 'webgpu');
    const cpu = await saliency(model, batch, labels, 'cpu');
    gpu.forEach((r, i) => {
      assertParity(t, `filter sample ${i}`, r.saliency, fx.reference('filter', i));
      assertParity(t, `logits ${i}`, r.logits, fx.reference('logits', i));
      assertNear(`filter sample ${i}`, r.saliency, cpu[i].saliency, FILTER_COSINE);
    });
  });

  it('TinyCNN explain (PyTorch double backprop and the CPU)', async (t) => {
    const fx = loadFixture('input_saliency_tinycnn');
    const model = Model.deterministic(tinycnn);
    const shape = [1, 3, 29, 29] as const;
    const image = { data: deterministicInput('input', shape), shape };
    const n = model.unitCount;
    const stats = {
      mean: Float64Array.from({ length: n }, (_, i) =>
        Math.fround(1e-3 * (hashUniform('stats-mean', i) + 1)),
      ),
      std: Float64Array.from({ length: n }, (_, i) =>
        Math.fround(1e-3 * (hashUniform('stats-std', i) + 1.5)),
      ),
    };
    const label = Number(fx.metadata.label);
    const gpu = await explained(model, image, label, { stats }, 'webgpu');
    const cpu = await explained(model, image, label, { stats }, 'cpu');
    assert.deepEqual(gpu.boosted, Array.from(fx.get('top').data));
    assertParity(t, 'input gradient', gpu.inputGradient, fx.reference('input_gradient'), INPUT_COSINE);
    assertNear('input gradient', gpu.inputGradient, cpu.inputGradient, INPUT_COSINE);
  });

  it('the embedded model: filter saliency of its 12 examples (PyTorch and the CPU), explain on its shirt (the CPU)', async (t) => {
    const model = await loadModel({ model: 'fashion-cnn' });
    const fx = loadFixture('fashion-cnn');
    const labels = Array.from(fx.get('labels').data);
    const batch = {
      data: Float32Array.from(fx.get('input').data),
      shape: [labels.length, 1, 28, 28] as const,
    };
    const gpuFilter = await saliency(model, batch, labels, 'webgpu');
    const cpuFilter = await saliency(model, batch, labels, 'cpu');
    gpuFilter.forEach((r, i) => {
      assertParity(t, `filter sample ${i}`, r.saliency, fx.reference('filter', i));
      assertNear(`filter sample ${i}`, r.saliency, cpuFilter[i].saliency, FILTER_COSINE);
    });
    const x = await loadInput('examples/fashion/shirt-as-tshirt-5806.png', model);
    const image = { data: x.data, shape: [1, 1, 28, 28] as const };
    const st = await readStats('models/fashion-cnn.stats.safetensors');
    const o = { stats: { mean: st.acc.mean, std: st.acc.std() } };
    const gpu = await explained(model, image, 6, o, 'webgpu');
    const cpu = await explained(model, image, 6, o, 'cpu');
    assert.deepEqual(gpu.boosted, cpu.boosted, 'the same top filters');
    assertNear('explain filter saliency', gpu.result.saliency, cpu.result.saliency, FILTER_COSINE);
    assertNear('input gradient', gpu.inputGradient, cpu.inputGradient, INPUT_COSINE);
    assertNear('Grad-CAM (predicted)', gpu.gradcam.predicted, cpu.gradcam.predicted, INPUT_COSINE);
  });

  it('ResNet-18 filter saliency, 224x224 (PyTorch and the CPU)', async (t) => {
    const fx = loadFixture('resnet18');
    const model = Model.deterministic(resnet18);
    const shape = [1, 3, 224, 224] as const;
    const image = { data: deterministicInput('input', shape), shape };
    const label = fx.get('labels').data[0];
    const [gpu] = await saliency(model, image, [label], 'webgpu');
    const [cpu] = await saliency(model, image, [label], 'cpu');
    assertParity(t, 'filter', gpu.saliency, fx.reference('filter'));
    assertParity(t, 'logits', gpu.logits, fx.reference('logits'));
    assertNear('filter', gpu.saliency, cpu.saliency, FILTER_COSINE);
  });
});
