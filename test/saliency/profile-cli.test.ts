/**
 * pss profile on the bundled Fashion-MNIST model (Debian's dataset-fashion-mnist): statistics
 * over test items 0..299, profiles over items 300..599. The raw average of all images equals
 * the mean pss stats finds over the same items; z's average is the raw average standardised
 * (z is linear); the groups partition the images; layer means are the means of their filters.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readStats } from '../../src/stats/file.js';
import { pss, tempDir } from '../helpers/cli.js';
import { maxRelDiff } from '../helpers/fixtures.js';

const DATA = '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz';
const dir = tempDir();

describe('pss profile', { skip: !existsSync(DATA) && 'dataset-fashion-mnist is not installed' }, () => {
  it('averages that agree with pss stats, groups that partition the images, the figures', async () => {
    const ref = join(dir, 'ref.safetensors');
    const same = join(dir, 'same.safetensors');
    for (const [out, shard] of [
      [ref, '0/2'],
      [same, '1/2'],
    ]) {
      const r = pss(['stats', '--data', DATA, '--limit', '600', '--shard', shard, '--out', out]);
      assert.equal(r.code, 0, r.stderr);
    }
    const out = join(dir, 'profile');
    const r = pss([
      'profile',
      '--data',
      DATA,
      '--limit',
      '600',
      '--items',
      '300:600',
      '--stats',
      ref,
      '--out-dir',
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /300 images, \d+ correct, \d+ incorrect; views raw, z, pot/);
    const p = JSON.parse(readFileSync(join(out, 'profile.json'), 'utf8'));
    assert.deepEqual(p.views, ['raw', 'z', 'pot']);
    const g = p.groups;
    assert.equal(g.all.images, 300);
    assert.equal(g.correct.images + g['incorrect (true label)'].images, 300);
    assert.equal(g['incorrect (predicted label)'].images, g['incorrect (true label)'].images);
    assert.ok(g['incorrect (true label)'].images > 0);

    const [stRef, stSame] = [await readStats(ref), await readStats(same)];
    assert.ok(maxRelDiff(g.all.filters.raw, stSame.acc.mean) <= 1e-12, 'raw average = pss stats mean');
    const std = stRef.acc.std();
    const zOfMean = Array.from(
      stSame.acc.mean,
      (m, i) => (m - stRef.acc.mean[i]) / (std[i] <= 1e-14 ? 1 : std[i]),
    );
    const zDiff = Math.max(...zOfMean.map((z, i) => Math.abs(z - g.all.filters.z[i])));
    assert.ok(zDiff <= 1e-9, `z average = standardised raw average (${zDiff})`);
    for (const layer of p.layers) {
      const slice = g.correct.filters.pot.slice(layer.offset, layer.offset + layer.filters);
      const mean = slice.reduce((a: number, b: number) => a + b, 0) / layer.filters;
      assert.ok(Math.abs(mean - g.correct.layers.pot[p.layers.indexOf(layer)]) <= 1e-12);
    }
    // Misclassified images: larger saliency, by every view, with the true label than with the prediction.
    for (const v of p.views) {
      const avg = (x: number[]) => x.reduce((a, b) => a + b, 0) / x.length;
      assert.ok(
        avg(g['incorrect (true label)'].filters[v]) > avg(g.correct.filters[v]),
        `${v}: incorrect > correct`,
      );
    }
    for (const f of ['average.png', 'correct-incorrect.png'])
      assert.deepEqual([...readFileSync(join(out, f)).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    const bad = pss(['profile', '--data', DATA, '--limit', '600', '--items', '500:700', '--out-dir', out]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^pss: --items must be a:b with 0 <= a < b <= 600/);
  });
});
