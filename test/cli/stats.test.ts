/**
 * pss stats end to end: agreement with PyTorch float64 (per-sample gradients), exact
 * shard merges, SIGKILL + --resume, unreadable images skipped and counted, identity checks.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { serializeSafeTensors } from '../../src/io/safetensors.js';
import { Model } from '../../src/models/model.js';
import { tinycnn } from '../../src/models/tinycnn.js';
import { readStats } from '../../src/stats/file.js';
import { pss, tempDir } from '../helpers/cli.js';
import { assertParity, loadFixture, maxRelDiff } from '../helpers/fixtures.js';

const dir = tempDir();
const path = (f: string) => join(dir, f);
const model = Model.deterministic(tinycnn);
const weights = path('tinycnn.safetensors');
writeFileSync(
  weights,
  serializeSafeTensors(
    Object.fromEntries(
      model.params.map((p) => [
        p.name,
        { dtype: 'F32' as const, shape: p.shape, data: model.weights.get(p.name)! },
      ]),
    ),
  ),
);
const base = ['stats', '--model', 'tinycnn', '--weights', weights];
const images = 'test/fixtures/stats-images';

/** An IDX images file of n random 29x29 images and its labels file (for runs long enough to interrupt). */
function writeIdx(n: number) {
  const img = Buffer.alloc(16 + n * 29 * 29);
  img.writeUInt32BE(2051, 0);
  img.writeUInt32BE(n, 4);
  img.writeUInt32BE(29, 8);
  img.writeUInt32BE(29, 12);
  for (let i = 16; i < img.length; i++) img[i] = (i * 2654435761) >>> 24;
  const lab = Buffer.alloc(8 + n);
  lab.writeUInt32BE(2049, 0);
  lab.writeUInt32BE(n, 4);
  for (let i = 0; i < n; i++) lab[8 + i] = i % 10;
  writeFileSync(path('x-images-idx3-ubyte'), img);
  writeFileSync(path('x-labels-idx1-ubyte'), lab);
  return path('x-images-idx3-ubyte');
}

describe('pss stats', () => {
  it('agrees with PyTorch float64 (mean and unbiased std), and skips an unreadable image', async (t) => {
    const fx = loadFixture('stats');
    for (const [mode, key] of [
      ['filter', 'filter'],
      ['filter-abs-mean', 'filter_abs_mean'],
    ]) {
      const out = path(`stats-${mode}.safetensors`);
      const r = pss([...base, '--data', images, '--out', out, '--aggregation', mode, '--batch', '3']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /skipped .*broken\.png/);
      assert.match(r.stdout, /over 20 images, 1 skipped/);
      const s = await readStats(out);
      assertParity(t, `${mode} mean`, s.acc.mean, fx.reference(`${key}_mean`));
      assertParity(t, `${mode} std`, s.acc.std(), fx.reference(`${key}_std`));
      assert.equal(s.meta.skipped, 1);
    }
  });

  it('--strict stops at the unreadable image', () => {
    const r = pss([...base, '--data', images, '--out', path('strict.safetensors'), '--strict']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /broken\.png/);
    assert.equal(existsSync(path('strict.safetensors')), false);
  });

  it('merging 3 shards equals a single run', async () => {
    const idx = writeIdx(60);
    const whole = path('whole.safetensors');
    assert.equal(pss([...base, '--data', idx, '--out', whole]).code, 0);
    const parts = [0, 1, 2].map((i) => path(`part${i}.safetensors`));
    parts.forEach((p, i) => {
      const r = pss([...base, '--data', idx, '--out', p, '--shard', `${i}/3`]);
      assert.equal(r.code, 0, r.stderr);
    });
    const merged = path('merged.safetensors');
    const r = pss(['stats', 'merge', ...parts, '--out', merged]);
    assert.equal(r.code, 0, r.stderr);
    const [a, b] = [await readStats(whole), await readStats(merged)];
    assert.equal(b.acc.count, 60);
    assert.ok(maxRelDiff(b.acc.mean, a.acc.mean) <= 1e-12);
    assert.ok(maxRelDiff(b.acc.std(), a.acc.std()) <= 1e-12);
  });

  it('a run killed with SIGKILL and resumed gives the same statistics', async () => {
    const idx = writeIdx(3000);
    const args = [...base, '--data', idx, '--batch', '2', '--checkpoint-every', '100'];
    const full = path('full.safetensors');
    assert.equal(pss([...args, '--out', full]).code, 0);

    const out = path('killed.safetensors');
    const child = spawn(process.execPath, ['bin/pss.mjs', ...args, '--out', out], { stdio: 'ignore' });
    const exited = new Promise((res) => child.on('exit', res));
    const deadline = Date.now() + 60_000;
    while (!existsSync(`${out}.checkpoint`) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    await exited;
    assert.ok(existsSync(`${out}.checkpoint`), 'a checkpoint was written before the kill');
    assert.equal(existsSync(out), false, 'no output from the killed run');

    const r = pss([...args, '--out', out, '--resume']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /resumed after \d+/);
    const [a, b] = [await readStats(full), await readStats(out)];
    assert.equal(b.acc.count, a.acc.count);
    assert.deepEqual(Array.from(b.acc.mean), Array.from(a.acc.mean));
    assert.deepEqual(Array.from(b.acc.m2), Array.from(a.acc.m2));
    assert.equal(existsSync(`${out}.checkpoint`), false, 'checkpoint removed when done');
  });

  it('--units filters+neurons: the filter statistics, then the fc neurons; recorded, and checked on use', async () => {
    const idx = writeIdx(6);
    const run = (out: string, ...extra: string[]) =>
      pss([...base, '--data', idx, '--out', path(out), '--batch', '3', '--no-tails', ...extra]);
    const narrow = run('u-filters.safetensors');
    assert.equal(narrow.code, 0, narrow.stderr);
    const wide = run('u-wide.safetensors', '--units', 'filters+neurons');
    assert.equal(wide.code, 0, wide.stderr);
    assert.match(
      wide.stdout,
      /filter statistics of 192 filters, 10 neurons \(--units filters\+neurons\) over 6 images/,
    );
    const [a, b] = [
      await readStats(path('u-filters.safetensors')),
      await readStats(path('u-wide.safetensors')),
    ];
    assert.deepEqual(
      [a.meta.units, a.meta.filters, b.meta.units, b.meta.filters],
      ['filters', 192, 'filters+neurons', 202],
    );
    assert.ok(
      maxRelDiff(b.acc.mean.subarray(0, 192), a.acc.mean) < 1e-6,
      'the filters are the same statistics',
    );
    const neurons = b.acc.mean.subarray(192);
    assert.ok(
      neurons.every((v) => v > 0 && Number.isFinite(v)),
      'every neuron has a positive mean saliency',
    );

    const input = join('examples', 'tinycnn-input.npy');
    const saliency = [
      'saliency',
      '--model',
      'tinycnn',
      '--weights',
      weights,
      '--input',
      input,
      '--label',
      '3',
    ];
    const refused = pss([...saliency, '--stats', path('u-wide.safetensors')]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^pss: \S+u-wide\.safetensors holds statistics over --units filters\+neurons \(202 values\); this run uses --units filters \(192 for tinycnn\)\n$/,
    );
    const r = pss([
      ...saliency,
      '--stats',
      path('u-wide.safetensors'),
      '--units',
      'filters+neurons',
      '--json',
      '-',
      '--top',
      '202',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.units, 'filters+neurons');
    assert.equal(report.saliency.length, 202);
    assert.deepEqual(report.layers.at(-1), { name: 'fc', offset: 192, filters: 10, kind: 'neuron' });
    const kinds = new Set(report.top.map((u: { kind: string }) => u.kind));
    assert.deepEqual([...kinds].sort(), ['filter', 'neuron']);
    for (const u of report.top) assert.equal(u.kind, u.index >= 192 ? 'neuron' : 'filter');
    const text = pss([...saliency, '--units', 'filters+neurons', '--top', '202']);
    assert.match(text.stdout, /Most salient units \(--units filters\+neurons\)/);
    assert.match(text.stdout, / {2}fc +\d +neuron +/);
  });

  it('bad input: a missing dataset, a bad shard, a merge of different models', () => {
    let r = pss([...base, '--data', path('nope'), '--out', path('o.safetensors')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^pss: dataset not found: .*nope\n$/);
    r = pss([...base, '--data', images, '--out', path('o.safetensors'), '--shard', '3/3']);
    assert.match(r.stderr, /^pss: --shard must look like i\/n/);
    r = pss([
      'stats',
      'merge',
      'test/fixtures/tinycnn.safetensors',
      path('whole.safetensors'),
      '--out',
      path('m.safetensors'),
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^pss: .*tinycnn\.safetensors is not a pss statistics file/);
  });
});
