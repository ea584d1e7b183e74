/**
 * One meaning of "turn a filter off" (src/saliency/units.ts: its whole output zero, weights and
 * bias), checked where it used to differ: VGG-11, whose convs have biases. `pss prune`'s path
 * (runPrune on a one-image dataset, its prune.csv) and the explorer's "zero these filters"
 * (Explorer.predict) give the same prediction for the same filters, and both equal a copy of
 * the weights with those filters' weights and biases set to zero — not the weights alone
 * (what the explorer used to do).
 *
 * Deterministic weights at 224×224: VGG's AdaptiveAvgPool2d((7, 7)) refuses small inputs
 * (32×32 gives a 1×1 feature map, which it cannot pool evenly; pss supports multiples of 7).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openDataset } from '../../src/data/open.js';
import { encodePng } from '../../src/figures/heatmap.js';
import { forwardRunner } from '../../src/jobs/forward.js';
import { runPrune } from '../../src/jobs/prune.js';
import { STRATEGIES } from '../../src/jobs/prune-orders.js';
import { deterministicInput } from '../../src/models/deterministic.js';
import { Model } from '../../src/models/model.js';
import { vgg11 } from '../../src/models/vgg.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { softmax } from '../../src/saliency/report.js';
import { parseUnits } from '../../src/saliency/units.js';
import { Explorer } from '../../src/web/explorer.js';
import { maxRelDiff } from '../helpers/fixtures.js';
import { zeroUnits } from '../helpers/zero-by-hand.js';

const K = 3;

describe('turning filters off on VGG-11 (convs with biases)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pss-vgg-zero-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("the explorer's zeroed prediction equals pss prune's, and zeroes weights and biases", async (t) => {
    const model = Model.deterministic(vgg11);
    // An RGB photo-sized PNG (resized to 256, cropped to 224 by VGG's preprocessing).
    const noise = deterministicInput('vgg-zero', [256 * 256 * 3]);
    const pixels = Uint8Array.from(noise, (v) => Math.max(0, Math.min(255, Math.round(128 + 60 * v))));
    const png = await encodePng({ width: 256, height: 256, data: pixels });
    writeFileSync(join(dir, 'photo.png'), png);

    await using explorer = new Explorer();
    const m = await explorer.models.add('test:vgg11', 'vgg11 (deterministic)', model);
    const { id: ref } = await explorer.images.add(png, 'photo.png');
    const plain = await explorer.predict(m, ref);
    // A label the model gets wrong, so that pss prune studies the image.
    const label = (plain.predicted + 1) % model.numClasses;
    writeFileSync(join(dir, 'data.csv'), `path,label\nphoto.png,${label}\n`);

    const result = await runPrune(m.engine, await openDataset(join(dir, 'data.csv'), model), {
      k: K,
      rankBy: 'z',
      seed: 0,
      aggregation: 'filter',
      batch: 1,
      out: join(dir, 'prune'),
      identity: { test: 'vgg11' },
    });
    assert.equal(result.misclassified, 1);
    assert.equal(result.rows.length, STRATEGIES.length * K);

    // Every (strategy, k) row of prune.csv against the explorer with the same filters off,
    // named as prune.csv names them and read back by the one --filters parser.
    let worst = 0;
    for (const strategy of STRATEGIES) {
      const rows = result.rows.filter((r) => r.strategy === strategy).sort((a, b) => a.k - b.k);
      for (const row of rows) {
        const off = parseUnits(
          rows
            .slice(0, row.k)
            .map((r) => r.filter)
            .join(','),
          model,
        );
        assert.equal(off.length, row.k);
        const zeroed = await explorer.predict(m, ref, off);
        const p = softmax(zeroed.logits);
        assert.equal(zeroed.predicted, row.newPredicted, `${strategy} k=${row.k}`);
        for (const [ours, theirs] of [
          [p[label], row.pTrue],
          [p[plain.predicted], row.pPredicted],
        ])
          worst = Math.max(worst, Math.abs(ours - theirs) / Math.max(theirs, 1e-12));
        assert.ok(worst < 1e-4, `${strategy} k=${row.k}: relative difference ${worst}`);
      }
    }
    t.diagnostic(
      `explorer vs prune.csv, p(true) and p(predicted): max relative difference ${worst.toExponential(2)}`,
    );

    // The salient K against copies of the weights: weights and biases zeroed (equal), weights alone (not).
    const salient = result.rows.filter((r) => r.strategy === 'salient').sort((a, b) => a.k - b.k);
    const off = parseUnits(salient.map((r) => r.filter).join(','), model);
    const { logits } = await explorer.predict(m, ref, off);
    const { batch } = await explorer.images.input(m, ref);
    const byHand = async (copy: Model) => {
      await using engine = new SaliencyEngine(copy);
      return await forwardRunner(engine, 1).logits(batch.data);
    };
    const whole = maxRelDiff(logits, await byHand(zeroUnits(model, off)));
    const weightsOnly = maxRelDiff(logits, await byHand(zeroUnits(model, off, { keepBias: true })));
    const moved = maxRelDiff(logits, plain.logits);
    t.diagnostic(
      `logits with ${off.length} filters off, max relative difference: vs weights and biases zeroed ${whole.toExponential(2)}, vs weights alone ${weightsOnly.toExponential(2)}, vs nothing off ${moved.toExponential(2)}`,
    );
    assert.ok(whole < 1e-5, `vs weights and biases zeroed: ${whole}`);
    assert.ok(weightsOnly > 1e-4, `the biases should matter on VGG: ${weightsOnly}`);
    assert.ok(moved > 1e-3, `turning filters off should move the logits: ${moved}`);
  });
});
