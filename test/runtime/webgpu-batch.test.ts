/**
 * Batch defaults per device (src/runtime/batch.ts) and explain's noise rows run in batches:
 * the same map however the rows are split into runs (to float32 summation order: ONNX Runtime
 * blocks its kernels by batch size, as test/saliency/parity.test.ts's batch-vs-single check).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deterministicInput } from '../../src/models/deterministic.js';
import { Model } from '../../src/models/model.js';
import { tinycnn } from '../../src/models/tinycnn.js';
import { defaultBatch } from '../../src/runtime/batch.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { explain } from '../../src/saliency/explain.js';
import { maxRelDiff } from '../helpers/fixtures.js';

describe('default batch sizes', () => {
  it("the CPU keeps each command's own default", () => {
    assert.equal(defaultBatch('saliency', 'cpu', 4), 4);
    assert.equal(defaultBatch('saliency', undefined, 16), 16);
    assert.equal(defaultBatch('explain', 'cpu', 9), 9);
  });
  it('a GPU takes more images, fewer for larger inputs, and between 1 and 128', () => {
    assert.equal(defaultBatch('saliency', 'webgpu', 4), 32);
    assert.equal(defaultBatch('saliency', 'webgpu', 4, [3, 299, 299]), 17); // Inception-v3
    assert.equal(defaultBatch('saliency', 'webgpu', 4, [1, 28, 28]), 128); // the embedded model
    assert.equal(defaultBatch('explain', 'webgpu', 9), 8);
    assert.equal(defaultBatch('parameter', 'webgpu', 1), 2);
    assert.equal(defaultBatch('explain', 'webgpu', 9, [3, 2000, 2000]), 1);
  });
});

describe('explain: noise rows in batches', () => {
  const model = Model.deterministic(tinycnn);
  const image = { data: deterministicInput('input', [1, 3, 29, 29]), shape: [1, 3, 29, 29] as const };
  it('gives the map of one run, whatever the batch (the last run short)', async () => {
    await using engine = new SaliencyEngine(model);
    const o = { noiseIters: 4, noisePercent: 0.2, seed: 3 };
    const one = await explain(engine, image, 3, o);
    for (const noiseBatch of [1, 2, 3]) {
      const split = await explain(engine, image, 3, { ...o, noiseBatch });
      assert.ok(maxRelDiff(split.inputGradient, one.inputGradient) < 1e-5, `batch ${noiseBatch}`);
      assert.deepEqual(split.boosted, one.boosted);
      assert.ok(maxRelDiff(split.result.saliency, one.result.saliency) < 1e-5);
      assert.ok(maxRelDiff(split.gradcam.predicted, one.gradcam.predicted) < 1e-5);
    }
    await assert.rejects(explain(engine, image, 3, { ...o, noiseBatch: 0 }), /noise batch must be >= 1/);
  });
});
