/**
 * Input-space saliency and Grad-CAM against PyTorch double backprop in float64 (same
 * weights, input and statistics; scripts/reference/make_input_saliency_fixture.py).
 * Tolerance: cosine >= 0.9999 for the input gradient and the Grad-CAM maps.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deterministicInput, hashUniform } from '../../src/models/deterministic.js';
import { Model } from '../../src/models/model.js';
import { resnet50 } from '../../src/models/resnet.js';
import { tinycnn } from '../../src/models/tinycnn.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { explain } from '../../src/saliency/explain.js';
import { cosine, loadFixture } from '../helpers/fixtures.js';

/** Cosine, or 1 when both maps are (numerically) zero — ReLU can zero a whole small CAM. */
function similarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const zero = (v: ArrayLike<number>) => Array.from(v).every((x) => Math.abs(x) < 1e-9);
  return zero(a) && zero(b) ? 1 : cosine(a, b);
}

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
      const r = await explain(engine, image, label, { stats: stats(model.filterCount) });
      const refTop = Array.from(fx.get('top').data);
      assert.deepEqual(r.boosted, refTop, 'same top-10 filters by z');
      const cos = cosine(r.inputGradient, fx.get('input_gradient').data);
      const camPred = similarity(r.gradcam.predicted, fx.get('gradcam_pred').data);
      const camTrue = similarity(r.gradcam.true, fx.get('gradcam_true').data);
      t.diagnostic(
        `input gradient cosine ${cos.toFixed(7)}; Grad-CAM cosine ${camPred.toFixed(7)} / ${camTrue.toFixed(7)}`,
      );
      assert.ok(cos >= 0.9999, `input gradient cosine ${cos}`);
      assert.ok(camPred >= 0.9999 && camTrue >= 0.9999, `Grad-CAM cosines ${camPred} ${camTrue}`);
      assert.equal(r.result.predicted, Number(fx.metadata.predicted));
      assert.ok(Math.abs(r.cos - fx.get('cos').data[0]) < 1e-4);
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
