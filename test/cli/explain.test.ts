import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadInput } from '../../src/image/input.js';
import { parseNpy } from '../../src/io/npy.js';
import { loadModel } from '../../src/models/load.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { explain } from '../../src/saliency/explain.js';
import { readStats } from '../../src/stats/file.js';
import { pss, tempDir } from '../helpers/cli.js';
import { cosine } from '../helpers/fixtures.js';

const dir = tempDir();
const PNG = [0x89, 0x50, 0x4e, 0x47];

describe('pss explain', () => {
  it('with no arguments: the bundled model on its default example, every file written', async () => {
    const out = join(dir, 'default');
    const r = pss(['explain', '--out-dir', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /fashion-cnn: predicted T-shirt\/top \(0\) at [\d.]+%, true Shirt \(6\) — MISCLASSIFIED/,
    );
    assert.match(r.stdout, /z-score against 10000 validation images/);
    for (const f of ['heatmap.png', 'filter_saliency.png', 'gradcam.png', 'layer_summary.png'])
      assert.deepEqual([...readFileSync(join(out, f)).subarray(0, 4)], PNG, f);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    assert.equal(report.standardized, true);
    assert.equal(report.top.length, 10);
    assert.deepEqual(Object.keys(report.top[0]).sort(), [
      'filter',
      'index',
      'kind',
      'layer',
      'saliency',
      'z',
    ]);
    assert.equal(report.explain.boosted.length, 10);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    for (const s of ['T-shirt/top', 'Shirt', 'gradcam.png', 'filter_saliency.png'])
      assert.ok(html.includes(s), s);

    // input_gradient.npy is the library's map for the same image, label and statistics.
    const npy = parseNpy(new Uint8Array(readFileSync(join(out, 'input_gradient.npy'))));
    assert.deepEqual(npy.shape, [1, 28, 28]);
    const model = await loadModel({ model: 'fashion-cnn' });
    const x = await loadInput('examples/fashion/shirt-as-tshirt-5806.png', model);
    const stats = await readStats('models/fashion-cnn.stats.safetensors');
    await using engine = new SaliencyEngine(model);
    const ex = await explain(engine, { data: x.data, shape: [1, 1, 28, 28] }, 6, {
      stats: { mean: stats.acc.mean, std: stats.acc.std() },
    });
    assert.ok(cosine(npy.data, ex.inputGradient) > 0.999999);
  });

  it('takes a shipped example’s label from the manifest, and any image with --label', () => {
    let r = pss([
      'explain',
      '--image',
      'examples/fashion/coat-as-pullover-5381.png',
      '--out-dir',
      join(dir, 'coat'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /true Coat \(4\)/);
    r = pss([
      'explain',
      '--image',
      'test/fixtures/images/rgb_150x100.png',
      '--label',
      'Bag',
      '--out-dir',
      join(dir, 'any'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /true Bag \(8\)/);
  });

  it('hand-picked filters and the random baseline', () => {
    const r = pss(['explain', '--filters', 'conv5:29,conv1:4', '--out-dir', join(dir, 'picked')]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(readFileSync(join(dir, 'picked', 'report.json'), 'utf8'));
    assert.deepEqual(
      report.explain.boosted.map((b: { layer: string; filter: number }) => `${b.layer}:${b.filter}`),
      ['conv5:29', 'conv1:4'],
    );
    assert.equal(pss(['explain', '--random', '--seed', '3', '--out-dir', join(dir, 'random')]).code, 0);
  });

  describe('bad input: one line, exit 1, no output folder', () => {
    const cases: [string, string[], RegExp][] = [
      ['an unknown layer in --filters', ['--filters', 'conv9:1'], /--filters: "conv9:1" is not layer:index/],
      ['a filter out of range', ['--filters', 'conv1:99'], /conv1 has filters 0\.\.15, not 99/],
      ['a missing image', ['--image', 'nope.png', '--label', '1'], /nope\.png/],
      [
        'a label out of range',
        ['--image', 'examples/fashion/bag-1884.png', '--label', '10'],
        /label 10 is out of range/,
      ],
      ['an unknown class name', ['--image', 'examples/fashion/bag-1884.png', '--label', 'Hat'], /Hat/],
      ['the parameter aggregation', ['--aggregation', 'parameter'], /per-unit aggregation/],
      ['k out of range', ['--k', '0'], /--k must be an integer >= 1/],
      ['noise outside [0, 1]', ['--noise-percent', '2'], /--noise-percent must be a number between 0 and 1/],
    ];
    for (const [what, args, pattern] of cases) {
      it(what, () => {
        const out = join(dir, `bad-${what.replaceAll(' ', '-')}`);
        const r = pss(['explain', ...args, '--out-dir', out]);
        assert.equal(r.code, 1, r.stderr);
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
        assert.match(r.stderr, pattern);
        assert.equal(existsSync(out), false);
      });
    }
  });
});
