/**
 * `pss stats --aggregation parameter` end to end on tinycnn: one μ and σ per element of every
 * parameter tensor, checked against a direct computation (each image's own gradient, one run
 * per image, two-pass float64), then used by `pss saliency --aggregation parameter --stats`.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { openDataset } from '../../src/data/open.js';
import { PssError } from '../../src/errors.js';
import { serializeNpy } from '../../src/io/npy.js';
import { parseSafeTensors } from '../../src/io/safetensors.js';
import { saliencyLength } from '../../src/saliency/aggregation.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { SIGMA_FLOOR } from '../../src/saliency/standardize.js';
import { readStats } from '../../src/stats/file.js';
import { pss, tempDir } from '../helpers/cli.js';
import { maxRelDiff } from '../helpers/fixtures.js';
import { tinyModel, writeTinyWeights } from '../helpers/tinycnn-data.js';

const dir = tempDir();
const images = 'test/fixtures/stats-images';
const out = join(dir, 'param.safetensors');
let weights: string;

/** Per-parameter saliency of every readable image, one image per run, and its two-pass float64 mean and std. */
async function direct() {
  const data = await openDataset(images, tinyModel);
  await using engine = new SaliencyEngine(tinyModel);
  const rows: Float32Array[] = [];
  for (let i = 0; i < data.length; i++) {
    const item = data.item(i);
    let x: Float32Array;
    try {
      x = await item.load();
    } catch (e) {
      if (e instanceof PssError) continue; // broken.png, as the CLI skips it
      throw e;
    }
    const [r] = await engine.compute({ data: x, shape: [1, 3, 29, 29] }, [item.label], 'parameter');
    rows.push(r.saliency);
  }
  const size = rows[0].length;
  const mean = new Float64Array(size);
  for (const r of rows) for (let k = 0; k < size; k++) mean[k] += r[k] / rows.length;
  const std = new Float64Array(size);
  for (const r of rows) for (let k = 0; k < size; k++) std[k] += (r[k] - mean[k]) ** 2 / (rows.length - 1);
  return { count: rows.length, mean, std: std.map(Math.sqrt) };
}

describe('pss stats --aggregation parameter', () => {
  before(() => {
    weights = writeTinyWeights(dir);
  });

  it('gives one mean and std per parameter element, as a direct computation does', async (t) => {
    const r = pss([
      'stats',
      '--model',
      'tinycnn',
      '--weights',
      weights,
      '--data',
      images,
      '--out',
      out,
      '--aggregation',
      'parameter',
      '--batch',
      '3',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^tinycnn: parameter statistics over 20 images, 1 skipped -> /);
    const s = await readStats(out);
    const size = saliencyLength(tinyModel, 'parameter');
    const elements = tinyModel.params
      .filter((p) => !p.buffer)
      .reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
    assert.equal(size, elements);
    assert.equal(s.meta.filters, size);
    assert.equal(s.meta.aggregation, 'parameter');
    assert.equal(s.acc.mean.length, size);
    // no std tensor: it follows from m2 (ResNet-50's would be 205 MB)
    const st = parseSafeTensors(new Uint8Array(readFileSync(out)));
    assert.deepEqual([...st.tensors.keys()].sort(), ['m2', 'mean']);

    const ref = await direct();
    assert.equal(s.acc.count, ref.count);
    const mean = maxRelDiff(s.acc.mean, ref.mean);
    const std = maxRelDiff(s.acc.std(), ref.std);
    t.diagnostic(
      `${size} parameters; batch 3 vs one image per run: mean ${mean.toExponential(2)}, std ${std.toExponential(2)} (relative to the largest)`,
    );
    assert.ok(mean <= 1e-7 && std <= 1e-7, `${mean} ${std}`);
    // not trivially zero: the parameters differ in their spread
    assert.ok(Math.max(...ref.std) > 10 * Math.min(...ref.std.filter((v) => v > 0)));
  });

  it('pss saliency --aggregation parameter --stats standardises every element with them', async () => {
    const x = Float32Array.from({ length: 3 * 29 * 29 }, (_, i) => Math.sin(i) * 0.8);
    const npy = join(dir, 'x.npy');
    writeFileSync(npy, serializeNpy(x, [3, 29, 29]));
    const base = [
      'saliency',
      '--model',
      'tinycnn',
      '--weights',
      weights,
      '--input',
      npy,
      '--label',
      '4',
      '--aggregation',
      'parameter',
      '--json',
      '-',
    ];
    const r = pss([...base, '--stats', out]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.standardized, true);
    assert.equal(report.statistics.count, 20);
    const s = await readStats(out);
    const sigma = s.acc.std();
    const z = report.saliency.map(
      (v: number, k: number) => (v - s.acc.mean[k]) / (sigma[k] <= SIGMA_FLOOR ? 1 : sigma[k]),
    );
    assert.equal(report.z.length, s.acc.mean.length);
    assert.ok(maxRelDiff(report.z, z) <= 1e-12);

    // per-filter runs refuse them, in one line
    const f = pss([...base.slice(0, -4), '--stats', out]);
    assert.equal(f.code, 1);
    assert.equal(f.stderr, `pss: ${out} holds parameter statistics; this run uses --aggregation filter\n`);
    const e = pss([
      'explain',
      '--model',
      'tinycnn',
      '--weights',
      weights,
      '--input',
      npy,
      '--label',
      '4',
      '--aggregation',
      'parameter',
      '--stats',
      out,
      '--out-dir',
      join(dir, 'e'),
    ]);
    assert.equal(e.code, 1);
    assert.equal(e.stderr, 'pss: explain needs a per-unit aggregation (not parameter)\n');
  });
});
