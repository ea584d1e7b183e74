/**
 * The embedded default model on the real Fashion-MNIST test set (Debian package
 * dataset-fashion-mnist, installed by .ci/run): its accuracy, and its shipped statistics.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { idxDataset } from '../../src/data/idx.js';
import { collectStats } from '../../src/jobs/collect-stats.js';
import { loadModel } from '../../src/models/load.js';
import { Runner } from '../../src/runtime/session.js';
import { argmax, SaliencyEngine } from '../../src/saliency/engine.js';
import { buildForward } from '../../src/saliency/graph.js';
import { checkStatsFor } from '../../src/stats/check.js';
import { readStats } from '../../src/stats/file.js';

const IMAGES = '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz';
const LABELS = '/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz';

describe('embedded model (fashion-cnn) on the Fashion-MNIST test set', {
  skip: !existsSync(IMAGES) && 'dataset-fashion-mnist is not installed',
}, () => {
  const load = async () => {
    const model = await loadModel({ model: 'fashion-cnn' });
    const data = await idxDataset(IMAGES, LABELS, {
      ...model.arch.preprocessing,
      channels: 1,
      height: 28,
      width: 28,
    });
    return { model, data };
  };

  it('reaches at least 90% test accuracy', async (t) => {
    const { model, data } = await load();
    const batch = 500;
    const { logits } = buildForward(model, [batch, 1, 28, 28]);
    const runner = await Runner.create([{ name: 'logits', value: logits }]);
    let correct = 0;
    for (let start = 0; start < data.length; start += batch) {
      const x = new Float32Array(batch * 784);
      const labels: number[] = [];
      for (let i = 0; i < batch; i++) {
        const s = data.item(start + i);
        x.set(await s.load(), i * 784);
        labels.push(s.label);
      }
      const out = (await runner.run({ input: x })).logits;
      labels.forEach((label, i) => {
        if (argmax(out.subarray(i * 10, (i + 1) * 10)) === label) correct += 1;
      });
    }
    await runner.release();
    const accuracy = correct / data.length;
    t.diagnostic(`test accuracy ${(100 * accuracy).toFixed(2)}% (${correct}/${data.length})`);
    assert.ok(accuracy >= 0.9, `accuracy ${accuracy}`);
  });

  it('ships statistics that belong to it and that a recomputation on a subset agrees with', async (t) => {
    const { model, data } = await load();
    const path = fileURLToPath(model.arch.bundled!.stats!);
    const shipped = await readStats(path);
    checkStatsFor(shipped, model, 'filter', path); // same weights hash, aggregation, filter count
    assert.equal(shipped.acc.count, 10_000);
    await using engine = new SaliencyEngine(model);
    const n = 1000;
    const sub = await collectStats(engine, { ...data, length: n }, { aggregation: 'filter', batch: 50 });
    const std = shipped.acc.std();
    let worst = 0;
    for (let i = 0; i < model.unitCount; i++) {
      if (std[i] === 0) continue;
      // The subset mean lies within a few standard errors of the full-set mean.
      worst = Math.max(worst, Math.abs(sub.acc.mean[i] - shipped.acc.mean[i]) / (std[i] / Math.sqrt(n)));
    }
    t.diagnostic(`largest deviation of a subset mean: ${worst.toFixed(2)} standard errors`);
    assert.ok(worst < 5, `${worst} standard errors`);
  });
});
