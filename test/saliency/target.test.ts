/**
 * --target: the loss of the true label (default), of one class, or of the model's own
 * prediction (chosen inside the graph). The prediction's saliency must equal that of the
 * predicted class fed as a class target — bit for bit, since it is the same graph but for
 * where the one-hot comes from — in `compute` and in `explain` alike.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PssError } from '../../src/errors.js';
import { deterministicInput } from '../../src/models/deterministic.js';
import { Model } from '../../src/models/model.js';
import { tinycnn } from '../../src/models/tinycnn.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { explain } from '../../src/saliency/explain.js';
import { parseTarget, readTarget, targetText } from '../../src/saliency/target.js';

describe('saliency target', () => {
  const model = Model.deterministic(tinycnn);
  const shape = [4, 3, 29, 29] as const;
  const image = { data: deterministicInput('target', shape), shape };
  const labels = [0, 1, 2, 3];

  it('predicted = the predicted class as a class target; true = the label; classes differ', async () => {
    await using engine = new SaliencyEngine(model);
    const byTrue = await engine.compute(image, labels);
    const byPred = await engine.compute(image, labels, 'filter', 'predicted');
    // The predictions fed as labels: the same batch, the same one-hot rows.
    const asLabels = await engine.compute(
      image,
      byPred.map((r) => r.predicted),
    );
    assert.ok(
      byPred.some((r, i) => r.predicted !== labels[i]),
      'some image is misclassified',
    );
    for (let i = 0; i < labels.length; i++) {
      assert.equal(byTrue[i].target, labels[i]);
      assert.equal(byPred[i].target, byPred[i].predicted);
      assert.equal(byPred[i].label, labels[i]);
      assert.deepEqual(asLabels[i].saliency, byPred[i].saliency, `image ${i}: predicted vs fed prediction`);
      if (byPred[i].predicted !== labels[i]) assert.notDeepEqual(byTrue[i].saliency, byPred[i].saliency);
      else assert.deepEqual(byTrue[i].saliency, byPred[i].saliency);
    }
    const byClass = await engine.compute(image, labels, 'filter', { class: 7 });
    const sevens = await engine.compute(image, [7, 7, 7, 7]);
    for (let i = 0; i < labels.length; i++) {
      assert.equal(byClass[i].target, 7);
      assert.deepEqual(byClass[i].saliency, sevens[i].saliency);
    }
    await assert.rejects(engine.compute(image, labels, 'filter', { class: 10 }), PssError);
  });

  it('explain takes the same target', async () => {
    await using engine = new SaliencyEngine(model);
    const one = { data: image.data.subarray(0, 3 * 29 * 29), shape: [1, 3, 29, 29] as const };
    const ex = await explain(engine, one, 5, { target: 'predicted' });
    const predicted = ex.result.predicted;
    assert.notEqual(predicted, 5);
    assert.equal(ex.result.target, predicted);
    assert.equal(ex.result.label, 5);
    const fed = await explain(engine, one, predicted);
    assert.deepEqual(ex.result.saliency, fed.result.saliency);
    assert.deepEqual(ex.inputGradient, fed.inputGradient);
    assert.deepEqual(ex.gradcam.predicted, fed.gradcam.predicted);
    const ex7 = await explain(engine, one, 5, { target: { class: 7 } });
    const fed7 = await explain(engine, one, 7);
    assert.equal(ex7.result.target, 7);
    assert.deepEqual(ex7.result.saliency, fed7.result.saliency);
    assert.deepEqual(ex7.inputGradient, fed7.inputGradient);
    // Grad-CAM's second map stays the true class's.
    const plain = await explain(engine, one, 5);
    assert.deepEqual(ex7.gradcam.true, plain.gradcam.true);
  });

  it('parses and records targets', () => {
    const cls = (t: string) => {
      if (!/^\d$/.test(t)) throw new PssError(`no class "${t}"`);
      return Number(t);
    };
    assert.equal(parseTarget('true', cls), 'true');
    assert.equal(parseTarget('predicted', cls), 'predicted');
    assert.deepEqual(parseTarget('3', cls), { class: 3 });
    assert.deepEqual(parseTarget('class:4', cls), { class: 4 });
    assert.throws(() => parseTarget('nope', cls), /--target is "true", "predicted" or a class/);
    for (const t of ['true', 'predicted', 'class:7']) assert.equal(targetText(readTarget(t)), t);
    assert.equal(readTarget(undefined), 'true');
  });
});
