/**
 * 'parameter' saliency where parameters reach the data through parameter-only ops: ConvNeXt's
 * MLPs are Net.linear on channels-last pixels (a MatMul with Wᵀ, a Transpose of the weight),
 * Swin's relative position bias is its table gathered, reshaped and transposed. A batch of
 * two must give each image the row it gets alone, which is a plain gradient (grad() takes one
 * sample's gradient as the batch's, without per-sample rules).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Architecture } from '../../src/models/architecture.js';
import { convnext_tiny } from '../../src/models/convnext.js';
import { deterministicInput } from '../../src/models/deterministic.js';
import { Model } from '../../src/models/model.js';
import { swin_t } from '../../src/models/swin.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { maxRelDiff } from '../helpers/fixtures.js';

const CASES: [Architecture, number][] = [
  [convnext_tiny, 64],
  [swin_t, 224], // whole 7×7 windows in every stage
];

for (const [arch, size] of CASES) {
  describe(`'parameter' saliency of ${arch.name} (deterministic weights, ${size}x${size})`, () => {
    it('a batch of two gives each image the gradient it gets alone', async (t) => {
      const model = Model.deterministic({ ...arch, inputShape: [3, size, size] });
      const shape = [1, 3, size, size] as const;
      const images = [deterministicInput('input', shape), deterministicInput('input-2', shape)];
      const labels = [3, 7];
      await using engine = new SaliencyEngine(model);
      const pair = await engine.compute(
        { data: Float32Array.from([...images[0], ...images[1]]), shape: [2, 3, size, size] },
        labels,
        'parameter',
      );
      for (let i = 0; i < 2; i++) {
        const [single] = await engine.compute({ data: images[i], shape }, [labels[i]], 'parameter');
        assert.equal(pair[i].saliency.length, single.saliency.length);
        const d = maxRelDiff(pair[i].saliency, single.saliency);
        t.diagnostic(`row ${i}: max |difference| / max |alone| ${d.toExponential(2)}`);
        assert.ok(d < 1e-5, `row ${i} vs image ${i} alone: ${d}`);
      }
      assert.ok(maxRelDiff(pair[0].saliency, pair[1].saliency) > 1e-2, 'the two images differ');
    });
  });
}
