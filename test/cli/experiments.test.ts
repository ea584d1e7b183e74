/**
 * pss prune, neighbors and finetune end to end on the bundled Fashion-MNIST model and the
 * Fashion-MNIST test set (Debian's dataset-fashion-mnist): the sign of the pruning effect,
 * resuming, the figures and JSON, and one-line errors.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parsePruneCsv } from '../../src/jobs/prune-csv.js';
import { loadModel } from '../../src/models/load.js';
import { pss, tempDir } from '../helpers/cli.js';

const DATA = '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz';
const dir = tempDir();
const PNG = [0x89, 0x50, 0x4e, 0x47];
const isPng = (path: string) => assert.deepEqual([...readFileSync(path).subarray(0, 4)], PNG, path);
const json = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

describe('pss prune, neighbors, finetune', {
  skip: !existsSync(DATA) && 'dataset-fashion-mnist is not installed',
}, () => {
  it('prune: zeroing the most salient filters corrects more images than random or least-salient ones (first 1,500 test images)', (t) => {
    const out = join(dir, 'prune-1500');
    const t0 = Date.now();
    const r = pss(['prune', '--data', DATA, '--limit', '1500', '--out', out]);
    t.diagnostic(`${(Date.now() - t0) / 1000} s`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /1500 images, 99 misclassified; saliency: z-scores against 10000 images/);
    const s = json(join(out, 'summary.json'));
    assert.equal(s.misclassified, 99);
    assert.equal(s.results.images, 99);
    const get = (name: string) => s.results.strategies.find((x: { strategy: string }) => x.strategy === name);
    const [salient, random, least] = ['salient', 'random', 'least-salient'].map(get);
    t.diagnostic(
      `corrected, k = 1..10: salient ${salient.corrected}; random ${random.corrected}; least ${least.corrected}`,
    );
    for (let k = 0; k < 10; k++) {
      assert.ok(salient.corrected[k] > random.corrected[k], `k = ${k + 1}: salient vs random`);
      assert.ok(salient.corrected[k] > least.corrected[k], `k = ${k + 1}: salient vs least-salient`);
      assert.ok(salient.meanDTrue[k] > random.meanDTrue[k], `k = ${k + 1}: Δp(true)`);
    }
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    assert.ok(sum(salient.corrected) > 1.5 * sum(random.corrected));
    const rows = parsePruneCsv(readFileSync(join(out, 'prune.csv'), 'utf8'));
    assert.equal(rows.length, 99 * 3 * 10);
    assert.ok(rows.every((row) => row.corrected === (row.newPredicted === row.label)));
    isPng(join(out, 'prune.png'));
    assert.match(readFileSync(join(out, 'summary.md'), 'utf8'), /\| 10 \| \d+\.\d% \(\d+\) \|/);
  });

  it('prune --resume: an interrupted run finishes with the rows of an uninterrupted one', () => {
    const whole = join(dir, 'prune-whole');
    const base = ['prune', '--data', DATA, '--limit', '500', '--k', '4', '--batch', '8'];
    assert.equal(pss([...base, '--out', whole]).code, 0);
    const full = readFileSync(join(whole, 'prune.csv'), 'utf8');
    // An interruption: the header, 2.5 images' rows, then half a line.
    const cut = join(dir, 'prune-cut');
    const lines = full.split('\n');
    mkdirSync(cut, { recursive: true });
    writeFileSync(join(cut, 'prune.csv'), `${lines.slice(0, 1 + 30).join('\n')}\n${lines[31].slice(0, 9)}`);
    writeFileSync(join(cut, 'run.json'), readFileSync(join(whole, 'run.json')));
    const r = pss([...base, '--out', cut, '--resume']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\(2 taken over from the earlier run\)/);
    const key = (row: ReturnType<typeof parsePruneCsv>[number]) =>
      `${row.image} ${row.strategy} ${row.k} ${row.filter} ${row.newPredicted} ${row.pTrue.toFixed(5)}`;
    const a = parsePruneCsv(full).map(key).sort();
    const b = parsePruneCsv(readFileSync(join(cut, 'prune.csv'), 'utf8'))
      .map(key)
      .sort();
    assert.ok(a.length > 30);
    assert.deepEqual(b, a);
    const corrected = (path: string) =>
      json(join(path, 'summary.json')).results.strategies.map((x: { corrected: number[] }) => x.corrected);
    assert.deepEqual(corrected(cut), corrected(whole));

    const other = pss([...base.slice(0, -4), '--k', '5', '--batch', '8', '--out', cut, '--resume']);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /^pss: .*run\.json is from a run with k = 4, not 5; drop --resume/);
    assert.equal(other.stderr.trim().split('\n').length, 1);
  });

  it('neighbors: the nearest misclassified images by cosine of z, as a grid and JSON', () => {
    const out = join(dir, 'neighbors');
    const r = pss([
      'neighbors',
      '--data',
      DATA,
      '--limit',
      '2000',
      '--index',
      '817',
      '--n',
      '5',
      '--out-dir',
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const j = json(join(out, 'neighbors.json'));
    assert.equal(j.searched, 'misclassified');
    assert.equal(j.query.index, 817);
    assert.equal(j.neighbors.length, 5);
    const cos = j.neighbors.map((n: { cosine: number }) => n.cosine);
    assert.deepEqual(
      cos,
      [...cos].sort((a, b) => b - a),
    );
    for (const n of j.neighbors) {
      assert.notEqual(n.index, 817);
      assert.notEqual(n.label, n.predicted);
    }
    isPng(join(out, 'neighbors.png'));
    assert.match(r.stdout, / 1 {2}#\d+ +cos 0\.\d{3} {2}shares \d+\/10 top filters/);
  });

  it('finetune: the default example is corrected; only the chosen filters change', async () => {
    const out = join(dir, 'ft.json');
    const weights = join(dir, 'ft.safetensors');
    const r = pss(['finetune', '--data', DATA, '--limit', '2000', '--json', out, '--save', weights]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /now predicted Shirt: CORRECTED/);
    const j = json(out);
    assert.equal(j.corrected, true);
    assert.equal(j.steps, 10);
    assert.equal(j.filters.length, 10);
    assert.equal(j.neighbors.of, 10);
    assert.equal(j.random.of, 10);
    assert.ok(j.neighbors.corrected >= j.random.corrected);
    assert.equal(j.accuracy.images, 2000);
    assert.ok(j.history[0].loss > j.history[10].loss);
    const model = await loadModel({ model: 'fashion-cnn' });
    const saved = (await loadModel({ model: 'fashion-cnn', weights })).weights;
    const chosen = new Set(j.filters.map((f: { index: number }) => f.index));
    for (const p of model.params) {
      const a = model.weights.get(p.name)!;
      const b = saved.get(p.name)!;
      const layer = model.layers.find((l) => l.param === p.name);
      const size = a.length / p.shape[0];
      for (let c = 0; c < p.shape[0]; c++) {
        const same = a.subarray(c * size, (c + 1) * size).every((v, i) => v === b[c * size + i]);
        assert.equal(same, !(layer && chosen.has(layer.offset + c)), `${p.name}[${c}]`);
      }
    }

    const stop = pss(['finetune', '--data', DATA, '--limit', '300', '--until-correct', '--json', '-']);
    assert.equal(stop.code, 0, stop.stderr);
    const s = JSON.parse(stop.stdout);
    assert.equal(s.corrected, true);
    assert.ok(s.steps < 10 && s.history.length === s.steps + 1);
  });

  it('bad input: one line naming the problem, exit 1', () => {
    const cases: [string[], RegExp][] = [
      [['prune', '--data', DATA, '--k', '0', '--out', dir], /--k must be an integer >= 1/],
      [['prune', '--data', DATA, '--k', '500', '--out', dir], /--k must be between 1 and 224/],
      [['prune', '--data', '/nonexistent/images.gz', '--out', dir], /dataset not found/],
      [['prune', '--data', DATA], /Missing required argument: --out/],
      [['finetune', '--data', DATA, '--filters', 'conv9:1'], /"conv9:1" is not layer:index/],
      [['finetune', '--data', DATA, '--filters', 'conv1:16'], /conv1 has filters 0\.\.15, not 16/],
      [['finetune', '--data', DATA, '--index', '3', '--label', '10'], /label 10 is out of range/],
      [['finetune', '--data', DATA, '--lr', '0'], /--lr must be a number > 0/],
      [['neighbors', '--data', DATA, '--index', '10000'], /--index must be an integer in 0\.\.9999/],
      [['neighbors', '--data', DATA, '--image', 'nope.png', '--label', '1'], /nope\.png/],
    ];
    for (const [args, re] of cases) {
      const r = pss(args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });
});
