/**
 * One model of each imported ONNX family on `--device webgpu` (the opset 17 export of
 * test/models/onnx-families.test.ts, 32x32 inputs, and two of onnx-patterns.test.ts), against its PyTorch float64 fixture with
 * assertParity's tolerance and against the CPU; explain's second-order input gradient too
 * where the fixture has it (MobileNetV3, ConvNeXt, ViT).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deterministicInput, hashUniform } from '../../src/models/deterministic.js';
import { onnxModel } from '../../src/models/onnx-import.js';
import type { Device } from '../../src/runtime/session.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { explain } from '../../src/saliency/explain.js';
import {
  assertParity,
  cosine,
  FILTER_COSINE,
  INPUT_COSINE,
  loadFixture,
  type Reference,
} from '../helpers/fixtures.js';
import { loadSkeleton } from '../helpers/onnx.js';
import { torchConvs, torchFilterOrder } from '../helpers/onnx-parity.js';
import { webgpuSkipReason } from './webgpu-env.js';

const skip = webgpuSkipReason();
/**
 * In npm test: the three with explain fixtures, two more op mixes and two custom modules, about 80 s on
 * SwiftShader. PSS_WEBGPU_FAMILIES=all adds ResNeXt (grouped convs), EfficientNet and RegNet
 * (squeeze-excitation), about 100 s more; or a comma-separated list. All eight passed on
 * SwiftShader when this was written.
 */
const DEFAULT = [
  'mobilenet_v3_small',
  'convnext_tiny',
  'vit_b_16',
  'shufflenet_v2_x0_5',
  'mnasnet0_5',
  // custom modules (test/models/onnx-patterns.test.ts): If, LRN's 3-D pool, GroupNorm, ceil-mode
  // pools; Conv1d, DepthToSpace, ConvTranspose
  'onnx-patterns/norms_cnn',
  'onnx-patterns/eca',
];
const MORE = ['resnext50_32x4d', 'efficientnet_b0', 'regnet_y_400mf'];
const chosen = process.env.PSS_WEBGPU_FAMILIES;
const FAMILIES = !chosen ? DEFAULT : chosen === 'all' ? [...DEFAULT, ...MORE] : chosen.split(',');

const stat = (key: string, offset: number, i: number) => Math.fround(1e-3 * (hashUniform(key, i) + offset));
const reordered = (ref: Reference, order: readonly number[]): Reference => ({
  ...ref,
  data: Float64Array.from(order, (j) => ref.data[j]),
});

describe('imported ONNX families on webgpu', { skip }, () => {
  for (const family of FAMILIES) {
    it(family, async (t) => {
      const [dir, name] = family.includes('/') ? family.split('/') : ['onnx', family];
      const fx = loadFixture(`${dir}/${name}`);
      const shape = JSON.parse(fx.metadata.input_shape) as [number, number, number, number];
      const label = fx.get('labels').data[0];
      const data = deterministicInput('input', shape);
      const convs = torchConvs(fx);
      const path = `test/fixtures/${dir}/${name}-op17.skeleton.onnx.gz`;
      const model = onnxModel(loadSkeleton(path), `${name}-op17.onnx`);
      const order = torchFilterOrder(path, model, convs);
      const run = async (device: Device) => {
        await using engine = new SaliencyEngine(model, { device });
        const [r] = await engine.compute({ data, shape }, [label]);
        if (!fx.has('input_gradient')) return { r };
        const stats = {
          mean: Float64Array.from(order, (j) => stat('stats-mean', 1, j)),
          std: Float64Array.from(order, (j) => stat('stats-std', 1.5, j)),
        };
        return { r, ex: await explain(engine, { data, shape }, label, { stats }) };
      };
      const gpu = await run('webgpu');
      const cpu = await run('cpu');
      assertParity(t, 'logits', gpu.r.logits, fx.reference('logits'));
      assertParity(t, 'filter saliency', gpu.r.saliency, reordered(fx.reference('filter'), order));
      assert.ok(
        cosine(gpu.r.saliency, cpu.r.saliency) >= FILTER_COSINE,
        'filter saliency: cosine to the CPU',
      );
      if (gpu.ex && cpu.ex) {
        assert.deepEqual(
          gpu.ex.boosted.map((i) => order[i]),
          Array.from(fx.get('top').data),
        );
        assertParity(t, 'input gradient', gpu.ex.inputGradient, fx.reference('input_gradient'), INPUT_COSINE);
        assert.ok(
          cosine(gpu.ex.inputGradient, cpu.ex.inputGradient) >= INPUT_COSINE,
          'input gradient: cosine to the CPU',
        );
      }
    });
  }
});
