/**
 * 'parameter' saliency where parameters reach the data through parameter-only ops: ConvNeXt's
 * MLPs are Net.linear on channels-last pixels (a MatMul with Wᵀ, a Transpose of the weight),
 * Swin's relative position bias is its table gathered, reshaped and transposed. A batch of
 * two must give each image the row it gets alone, which is a plain gradient (grad() takes one
 * sample's gradient as the batch's, without per-sample rules); so must the saliency of units
 * that are linear layers' rows.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { Architecture } from '../../src/models/architecture.js';
import { convnext_tiny } from '../../src/models/convnext.js';
import { deterministicInput } from '../../src/models/deterministic.js';
import { Model } from '../../src/models/model.js';
import { swin_t } from '../../src/models/swin.js';
import type { Aggregation } from '../../src/saliency/aggregation.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { maxRelDiff } from '../helpers/fixtures.js';

const CASES: [Architecture, number][] = [
  [convnext_tiny, 64],
  [swin_t, 224], // whole 7×7 windows in every stage
];

/** The pair's rows against each image alone, in `mode`. */
async function batchOfTwo(t: TestContext, model: Model, size: number, mode: Aggregation) {
  const shape = [1, 3, size, size] as const;
  const images = [deterministicInput('input', shape), deterministicInput('input-2', shape)];
  const labels = [3, 7];
  await using engine = new SaliencyEngine(model);
  const pair = await engine.compute(
    { data: Float32Array.from([...images[0], ...images[1]]), shape: [2, 3, size, size] },
    labels,
    mode,
  );
  for (let i = 0; i < 2; i++) {
    const [single] = await engine.compute({ data: images[i], shape }, [labels[i]], mode);
    assert.equal(pair[i].saliency.length, single.saliency.length);
    const d = maxRelDiff(pair[i].saliency, single.saliency);
    t.diagnostic(`row ${i}: max |difference| / max |alone| ${d.toExponential(2)}`);
    assert.ok(d < 1e-5, `row ${i} vs image ${i} alone: ${d}`);
  }
  assert.ok(maxRelDiff(pair[0].saliency, pair[1].saliency) > 1e-2, 'the two images differ');
}

for (const [arch, size] of CASES) {
  describe(`${arch.name}, a batch of two (deterministic weights, ${size}x${size})`, () => {
    const model = Model.deterministic({ ...arch, inputShape: [3, size, size] });
    it("'parameter': each image gets the gradient it gets alone", (t) =>
      batchOfTwo(t, model, size, 'parameter'));
    // the linear layers' rows are units here: their weights' per-sample gradients pass Wᵀ too
    it("'filter' with filters+neurons: each image gets the units' saliency it gets alone", (t) =>
      batchOfTwo(t, model.withUnits('filters+neurons'), size, 'filter'));
  });
}
