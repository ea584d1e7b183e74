/**
 * --standardize z|pot end to end on the bundled Fashion-MNIST model (Debian's
 * dataset-fashion-mnist): statistics with tails over 1,000 test images, then saliency,
 * explain, neighbors, prune and finetune ranking by POT — each output saying so, the
 * rankings those of the library's POT on the file's tails — and the refusals.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { fitPot, potRanking } from '../../src/saliency/pot.js';
import { readStats } from '../../src/stats/file.js';
import { pss, tempDir } from '../helpers/cli.js';

const DATA = '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz';
const IMAGE = 'examples/fashion/coat-as-pullover-5381.png';
const dir = tempDir();
const stats = join(dir, 'fm-1000.safetensors');
const json = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

function ok(r: ReturnType<typeof pss>) {
  assert.equal(r.code, 0, r.stderr);
  return r;
}

describe('--standardize pot', { skip: !existsSync(DATA) && 'dataset-fashion-mnist is not installed' }, () => {
  before(() => {
    ok(pss(['stats', '--data', DATA, '--limit', '1000', '--out', stats]));
  });

  it('saliency ranks by P and says so; z stays beside it', async () => {
    const r = ok(
      pss([
        'saliency',
        '--image',
        IMAGE,
        '--label',
        'coat',
        '--stats',
        stats,
        '--standardize',
        'pot',
        '--json',
        '-',
      ]),
    );
    const out = JSON.parse(r.stdout);
    assert.equal(out.standardization, 'pot');
    assert.equal(out.pot.quantile, 0.85);
    assert.equal(out.z.length, out.saliency.length);
    const st = await readStats(stats);
    const want = potRanking(Float32Array.from(out.saliency), fitPot(st.tails!, 0.85), 10);
    assert.deepEqual(
      out.top.map((t: { index: number }) => t.index),
      want,
    );
    for (const t of out.top) assert.equal(t.pot, out.pot.score[t.index]);
    const q95 = JSON.parse(
      ok(
        pss([
          'saliency',
          '--image',
          IMAGE,
          '--label',
          'coat',
          '--stats',
          stats,
          '--standardize',
          'pot',
          '--pot-quantile',
          '0.95',
          '--json',
          '-',
        ]),
      ).stdout,
    );
    assert.equal(q95.pot.quantile, 0.95);
    assert.deepEqual(
      q95.top.map((t: { index: number }) => t.index),
      potRanking(Float32Array.from(out.saliency), fitPot(st.tails!, 0.95), 10),
    );
    const z = JSON.parse(
      ok(pss(['saliency', '--image', IMAGE, '--label', 'coat', '--stats', stats, '--json', '-'])).stdout,
    );
    assert.equal(z.standardization, 'z');
    assert.equal(z.pot, null);
    const text = ok(
      pss(['saliency', '--image', IMAGE, '--label', 'coat', '--stats', stats, '--standardize', 'pot']),
    );
    assert.match(text.stdout, /by P — POT tail probability P .* at q = 0\.85 against 1000 validation images/);
  });

  it('explain boosts POT’s top k', () => {
    const out = join(dir, 'explain');
    ok(
      pss([
        'explain',
        '--image',
        IMAGE,
        '--stats',
        stats,
        '--standardize',
        'pot',
        '--k',
        '5',
        '--out-dir',
        out,
      ]),
    );
    const report = json(join(out, 'report.json'));
    assert.equal(report.standardization, 'pot');
    assert.equal(report.explain.chosenBy, 'pot');
    assert.deepEqual(
      report.explain.boosted.map((b: { index: number }) => b.index),
      report.top.slice(0, 5).map((t: { index: number }) => t.index),
    );
  });

  it('neighbors, prune and finetune record POT', () => {
    const n = join(dir, 'neighbors');
    ok(
      pss([
        'neighbors',
        '--data',
        DATA,
        '--limit',
        '300',
        '--stats',
        stats,
        '--standardize',
        'pot',
        '--out-dir',
        n,
      ]),
    );
    const nb = json(join(n, 'neighbors.json'));
    assert.equal(nb.standardization, 'pot');
    assert.ok(nb.neighbors.every((x: { cosine: number }) => Number.isFinite(x.cosine)));

    const p = join(dir, 'prune');
    const pr = ok(
      pss([
        'prune',
        '--data',
        DATA,
        '--limit',
        '300',
        '--k',
        '3',
        '--stats',
        stats,
        '--standardize',
        'pot',
        '--out',
        p,
      ]),
    );
    assert.match(pr.stdout, /POT tail probabilities \(q = 0\.85\)/);
    assert.equal(json(join(p, 'summary.json')).standardization, 'pot');

    const f = ok(
      pss([
        'finetune',
        '--data',
        DATA,
        '--limit',
        '300',
        '--stats',
        stats,
        '--standardize',
        'pot',
        '--json',
        '-',
      ]),
    );
    const ft = JSON.parse(f.stdout);
    assert.equal(ft.standardization, 'pot');
  });

  it('--target predicted: given statistics of the true label are refused, the bundled ones left out', () => {
    const p = join(dir, 'prune-predicted');
    ok(pss(['prune', '--data', DATA, '--limit', '300', '--k', '2', '--target', 'predicted', '--out', p]));
    const summary = json(join(p, 'summary.json'));
    assert.equal(summary.target, 'predicted');
    assert.equal(summary.standardization, 'none');
    const refused = pss([
      'prune',
      '--data',
      DATA,
      '--limit',
      '300',
      '--k',
      '2',
      '--target',
      'predicted',
      '--stats',
      stats,
      '--out',
      join(dir, 'prune-refused'),
    ]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /holds statistics of saliency with --target true; this run uses --target predicted/,
    );
    const s = JSON.parse(
      ok(pss(['saliency', '--image', IMAGE, '--label', 'coat', '--target', 'predicted', '--json', '-']))
        .stdout,
    );
    assert.equal(s.standardization, 'none');
    assert.equal(s.targetClass, s.predicted);
    // With the true label (the default) the bundled statistics apply.
    assert.equal(
      JSON.parse(ok(pss(['saliency', '--image', IMAGE, '--label', 'coat', '--json', '-'])).stdout)
        .standardization,
      'z',
    );
  });

  it('the bundled statistics keep tails: POT on the default model with no --stats, from their stored fits', async () => {
    const out = JSON.parse(
      ok(pss(['saliency', '--image', IMAGE, '--label', 'coat', '--standardize', 'pot', '--json', '-']))
        .stdout,
    );
    assert.equal(out.standardization, 'pot');
    assert.equal(out.statistics.count, 10_000);
    const bundled = await readStats('models/fashion-cnn.stats.safetensors');
    for (const q of [0.85, 0.95]) {
      const stored = bundled.tails!.fits!.find((f) => f.q === q)!;
      // the stored fit is the fit of the stored tails
      assert.deepEqual(stored, fitPot(bundled.tails!, q));
    }
    assert.deepEqual(
      out.top.map((t: { index: number }) => t.index),
      potRanking(Float32Array.from(out.saliency), fitPot(bundled.tails!, 0.85), 10),
    );
  });

  it('refusals: no statistics, statistics without tails, a q the tails do not reach', () => {
    const untailed = join(dir, 'no-tails.safetensors');
    ok(pss(['stats', '--data', DATA, '--limit', '50', '--out', untailed, '--no-tails']));
    const run = ['saliency', '--image', IMAGE, '--label', 'coat', '--standardize', 'pot'];
    for (const [extra, pattern] of [
      [['--stats', untailed], /keeps no tails .* recompute the statistics with pss stats/],
      // The embedded model's first statistics kept none.
      [['--stats', 'test/fixtures/fashion-cnn-stats-before-tails.safetensors'], /keeps no tails/],
      // The bundled ones keep the top 1,503 of 10,000: enough for q >= 0.85 only.
      [['--pot-quantile', '0.5'], /POT at q = 0\.5 needs the top 5000/],
      [
        ['--stats', stats, '--pot-quantile', '0.5'],
        /POT at q = 0\.5 needs the top 500: recompute them with pss stats --tail-quantile 0\.5/,
      ],
      [['--stats', stats, '--pot-quantile', '1'], /--pot-quantile must be a number in \(0, 1\)/],
    ] as const) {
      const r = pss([...run, ...extra]);
      assert.equal(r.code, 1, r.stdout);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, pattern);
    }
  });
});
