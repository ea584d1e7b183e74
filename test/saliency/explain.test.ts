/**
 * Input-space saliency and Grad-CAM against PyTorch double backprop in float64 (same
 * weights, input and statistics; scripts/reference/make_input_saliency_fixture.py), with
 * assertParity's tolerance (test/helpers/fixtures.ts): cosine >= 0.9999 (DESIGN §3's bound for
 * input saliency) for the input gradient and the Grad-CAM maps, and every max deviation
 * within K times the fixture's own float32 noise floor.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deterministicInput, hashUniform } from '../../src/models/deterministic.js';
import { Model } from '../../src/models/model.js';
import { resnet50 } from '../../src/models/resnet.js';
import { tinycnn } from '../../src/models/tinycnn.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { explain } from '../../src/saliency/explain.js';
import { assertExplainParity, cosine, loadFixture } from '../helpers/fixtures.js';

const stats = (n: number) => ({
  mean: Float64Array.from({ length: n }, (_, i) => Math.fround(1e-3 * (hashUniform('stats-mean', i) + 1))),
  std: Float64Array.from({ length: n }, (_, i) => Math.fround(1e-3 * (hashUniform('stats-std', i) + 1.5))),
});

for (const [arch, shape] of [
  [tinycnn, [1, 3, 29, 29]],
  [resnet50, [1, 3, 224, 224]],
] as const) {
  describe(`explain ${arch.name}: parity with PyTorch double backprop`, () => {
    const fx = loadFixture(`input_saliency_${arch.name}`);
    const label = Number(fx.metadata.label);
    const model = Model.deterministic(arch);
    const image = { data: deterministicInput('input', shape), shape };

    it('input gradient, Grad-CAM and the chosen filters', async (t) => {
      await using engine = new SaliencyEngine(model);
      const r = await explain(engine, image, label, { stats: stats(model.unitCount) });
      assertExplainParity(t, r, fx);
    });
  });
}

describe('explain options', () => {
  const model = Model.deterministic(tinycnn);
  const image = { data: deterministicInput('input', [1, 3, 29, 29]), shape: [1, 3, 29, 29] as const };

  it('noise iterations run as one batch and average; p = 0 repeats the clean map', async () => {
    await using engine = new SaliencyEngine(model);
    const one = await explain(engine, image, 3);
    const three = await explain(engine, image, 3, { noiseIters: 3, noisePercent: 0 });
    assert.ok(cosine(one.inputGradient, three.inputGradient) > 0.99999);
    const noisy = await explain(engine, image, 3, { noiseIters: 4, noisePercent: 0.2, seed: 1 });
    const c = cosine(one.inputGradient, noisy.inputGradient);
    assert.ok(c < 0.9999 && c > 0, `noisy map differs but correlates: ${c}`);
  });

  it('hand-picked and random filters', async () => {
    await using engine = new SaliencyEngine(model);
    const picked = await explain(engine, image, 3, { filters: [5, 100] });
    assert.deepEqual(picked.boosted, [5, 100]);
    const a = await explain(engine, image, 3, { random: true, seed: 7 });
    const b = await explain(engine, image, 3, { random: true, seed: 7 });
    assert.deepEqual(a.boosted, b.boosted);
    assert.equal(new Set(a.boosted).size, 10);
    await assert.rejects(
      explain(engine, image, 3, { filters: [192] }),
      /filter index 192 is out of range 0\.\.191/,
    );
  });
});
