/**
 * 'parameter' saliency where parameters reach the data through parameter-only ops: ConvNeXt's
 * MLPs are Net.linear on channels-last pixels, a MatMul with Wᵀ (a Transpose of the weight).
 * A batch of two must give each image's own row, and each row must equal |gradient| of that
 * image's loss alone, computed without per-sample rules at all.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { grad } from '../../src/autodiff/grad.js';
import { convnext_tiny } from '../../src/models/convnext.js';
import { deterministicInput } from '../../src/models/deterministic.js';
import { Model } from '../../src/models/model.js';
import * as op from '../../src/ops/index.js';
import { Runner } from '../../src/runtime/session.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { buildForward, crossEntropy, FEED, oneHot } from '../../src/saliency/graph.js';
import { maxRelDiff } from '../helpers/fixtures.js';

const SIZE = 64;

/** |d loss / d parameter| of one image, every parameter flattened in order: the plain gradient. */
async function plainParameterGradient(model: Model, data: Float32Array, label: number) {
  const shape = [1, 3, SIZE, SIZE];
  const { graph, net, logits } = buildForward(model, shape);
  const onehot = graph.input(FEED.onehot, [1, model.numClasses]);
  const loss = op.reduceSum(crossEntropy(logits, onehot), [0]);
  const params = model.params.filter((p) => !p.buffer);
  const grads = grad(
    loss,
    params.map((p) => net.value(p.name)),
  );
  const flat = op.concat(
    grads.map((g) => op.reshape(op.abs(g), [1, -1])),
    1,
  );
  const runner = await Runner.create([{ name: 'saliency', value: flat }]);
  try {
    return (await runner.run({ [FEED.input]: data, [FEED.onehot]: oneHot([label], model.numClasses) }))
      .saliency;
  } finally {
    await runner.release();
  }
}

describe(`'parameter' saliency through Net.linear (convnext_tiny, deterministic weights, ${SIZE}x${SIZE})`, () => {
  it('a batch of two gives each image its own gradient, as a plain gradient of it alone', async (t) => {
    const model = Model.deterministic({ ...convnext_tiny, inputShape: [3, SIZE, SIZE] });
    const shape = [1, 3, SIZE, SIZE] as const;
    const images = [deterministicInput('input', shape), deterministicInput('input-2', shape)];
    const labels = [3, 7];
    await using engine = new SaliencyEngine(model);
    const pair = await engine.compute(
      { data: Float32Array.from([...images[0], ...images[1]]), shape: [2, 3, SIZE, SIZE] },
      labels,
      'parameter',
    );
    for (let i = 0; i < 2; i++) {
      const [single] = await engine.compute({ data: images[i], shape }, [labels[i]], 'parameter');
      const d = maxRelDiff(pair[i].saliency, single.saliency);
      assert.ok(d < 1e-5, `row ${i} vs image ${i} alone: ${d}`);
      const plain = await plainParameterGradient(model, images[i], labels[i]);
      assert.equal(pair[i].saliency.length, plain.length);
      const dp = maxRelDiff(pair[i].saliency, plain);
      assert.ok(dp < 1e-5, `row ${i} vs the plain gradient: ${dp}`);
      t.diagnostic(`row ${i}: max rel diff ${d.toExponential(2)} vs alone, ${dp.toExponential(2)} vs plain`);
    }
    assert.ok(maxRelDiff(pair[0].saliency, pair[1].saliency) > 1e-2, 'the two images differ');
  });
});
