/**
 * pss correction on the bundled Fashion-MNIST model (Debian's dataset-fashion-mnist), small:
 * statistics over test items 0..299, the protocol over items 300..599 with k = 1..5. A row is
 * checked against an independent path (pss's fine-tuning of the same unit by one SGD step);
 * the rows, intervals and depth shares are what they must be; "last stage" is the last
 * conv stage for ResNet-style, DenseNet-style and plain names.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openDataset } from '../../src/data/open.js';
import { CORRECTION_STRATEGIES, lastStage } from '../../src/jobs/correction.js';
import { finetuneFilters } from '../../src/jobs/finetune.js';
import { loadModel } from '../../src/models/load.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import type { LayerSpan } from '../../src/saliency/units.js';
import { pss, tempDir } from '../helpers/cli.js';

const DATA = '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz';
const dir = tempDir();

describe('pss correction', { skip: !existsSync(DATA) && 'dataset-fashion-mnist is not installed' }, () => {
  it('rows, an independent check of one step, intervals and the depth histogram', async () => {
    const stats = join(dir, 'ref.safetensors');
    const s = pss(['stats', '--data', DATA, '--limit', '600', '--shard', '0/2', '--out', stats]);
    assert.equal(s.code, 0, s.stderr);
    const out = join(dir, 'correction');
    const r = pss([
      'correction',
      '--data',
      DATA,
      '--limit',
      '600',
      '--items',
      '300:600',
      '--stats',
      stats,
      '--k',
      '5',
      '--resamples',
      '20',
      '--out-dir',
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(readFileSync(join(out, 'correction.json'), 'utf8'));
    assert.equal(rep.images, 300);
    assert.ok(rep.misclassified > 5);
    assert.deepEqual(rep.lastStage, ['conv5']);
    const csv = readFileSync(join(out, 'correction.csv'), 'utf8').trim().split('\n').slice(1);
    assert.equal(csv.length, rep.misclassified * CORRECTION_STRATEGIES.length * 5);
    for (const c of rep.curves)
      for (const key of ['dWrong', 'dTrue', 'flipped', 'corrected'])
        for (const e of c[key])
          assert.ok(e.lo <= e.mean + 1e-12 && e.mean <= e.hi + 1e-12, `${c.strategy} ${key}`);
    for (const d of rep.depth) {
      for (const v of [d.filters, d.z, d.pot])
        assert.ok(Math.abs(v.reduce((a: number, b: number) => a + b, 0) - 1) < 1e-12);
    }
    // z beats random at correcting (the paper's finding, here on 300 images at k = 5).
    const at = (name: string) => rep.curves.find((c: { strategy: string }) => c.strategy === name);
    assert.ok(at('z').dTrue[4].mean > at('random').dTrue[4].mean);

    // The first image's k = 1 row by z, again through pss finetune's one SGD step on that unit.
    const [index, label, wrong, strategy, k, unit, predicted, dWrong, dTrue] = csv[0].split(',');
    assert.equal(strategy, 'z');
    assert.equal(k, '1');
    const model = await loadModel({ model: 'fashion-cnn' });
    const data = await openDataset(DATA, model, 600);
    await using engine = new SaliencyEngine(model);
    const x = await data.item(Number(index)).load();
    const image = { data: x, shape: [1, ...model.arch.inputShape] as [number, number, number, number] };
    const tuned = await finetuneFilters(engine, image, Number(label), [Number(unit)], { steps: 1, lr: 1e-3 });
    const [before, after] = tuned.history;
    assert.equal(after.predicted, Number(predicted));
    assert.ok(
      Math.abs(after.pTrue - before.pTrue - Number(dTrue)) <= 1e-6,
      `Δp(true) ${after.pTrue - before.pTrue} vs ${dTrue}`,
    );
    assert.notEqual(Number(wrong), Number(label));
    assert.ok(Number(dWrong) < 0 || Number(dTrue) > 0);
  });

  it('the last stage of ResNet-, DenseNet-style and plain layer names', () => {
    const spans = (names: string[]): LayerSpan[] =>
      names.map((name, i) => ({ name, offset: i, filters: 1, kind: 'filter' }) as LayerSpan);
    const names = (l: LayerSpan[]) => l.map((x) => x.name);
    assert.deepEqual(
      names(
        lastStage(
          spans([
            'conv1',
            'layer1.0.conv1',
            'layer3.1.conv2',
            'layer4.0.conv1',
            'layer4.0.downsample.0',
            'layer4.1.conv2',
          ]),
        ),
      ),
      ['layer4.0.conv1', 'layer4.0.downsample.0', 'layer4.1.conv2'],
    );
    assert.deepEqual(
      names(
        lastStage(
          spans([
            'features.conv0',
            'features.denseblock3.denselayer1.conv1',
            'features.denseblock4.denselayer1.conv1',
            'features.denseblock4.denselayer2.conv2',
          ]),
        ),
      ),
      ['features.denseblock4.denselayer1.conv1', 'features.denseblock4.denselayer2.conv2'],
    );
    assert.deepEqual(names(lastStage(spans(['conv1', 'conv2', 'conv5']))), ['conv5']);
  });
});
