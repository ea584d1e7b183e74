/**
 * pss stats refuses in one line (exit 1, no stack, no output written): merges that would count
 * an item twice, too few readable images, a checkpoint of another run, an output it cannot
 * write (found before anything is loaded), a statistics file with bad values.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { openDataset } from '../../src/data/open.js';
import { toOnnxModel } from '../../src/graph/onnx.js';
import { parseSafeTensors, serializeSafeTensors } from '../../src/io/safetensors.js';
import { Model } from '../../src/models/model.js';
import { tinycnn } from '../../src/models/tinycnn.js';
import { buildForward } from '../../src/saliency/graph.js';
import { preprocessingOf } from '../../src/stats/check.js';
import { readStats, serializeStats, writeStats } from '../../src/stats/file.js';
import { RunningStats } from '../../src/stats/welford.js';
import { pss, tempDir } from '../helpers/cli.js';
import { tinyModel, writeIdx, writeTinyWeights } from '../helpers/tinycnn-data.js';

const dir = tempDir();
const path = (f: string) => join(dir, f);
const base = ['stats', '--model', 'tinycnn', '--weights', writeTinyWeights(dir)];
const idx = writeIdx(dir, 60);

/** A one-line refusal: exit 1, "pss: <message>" alone on stderr (after any "skipped" notes). */
function refused(r: ReturnType<typeof pss>, pattern: RegExp, out?: string) {
  assert.equal(r.code, 1, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.trim().split('\n');
  const last = lines[lines.length - 1];
  assert.ok(
    lines.slice(0, -1).every((l) => /^pss: skipped /.test(l)),
    r.stderr,
  );
  assert.match(last, /^pss: /);
  assert.match(last, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack');
  if (out) assert.equal(existsSync(out), false, `${out} was not written`);
}

const ok = (r: ReturnType<typeof pss>) => assert.equal(r.code, 0, r.stderr);
const merge = (out: string, ...files: string[]) => pss(['stats', 'merge', ...files, '--out', out]);

describe('pss stats merge counts every item once', () => {
  const shard = (s: string, name = `shard${s.replace('/', 'of')}.safetensors`) => {
    ok(pss([...base, '--data', idx, '--out', path(name), '--shard', s]));
    return path(name);
  };
  let p0: string;
  let p1: string;
  let p2: string;
  let whole: string;

  before(() => {
    [p0, p1, p2] = ['0/3', '1/3', '2/3'].map((s) => shard(s));
    whole = path('whole.safetensors');
    ok(pss([...base, '--data', idx, '--out', whole]));
  });

  it('records the items each run covers, and their union after a merge', async () => {
    assert.deepEqual((await readStats(p1)).meta.coverage, [
      { dataset: `idx:${idx} (60 images)`, ranges: [[20, 40]] },
    ]);
    const out = path('all.safetensors');
    const r = merge(out, p0, p2, p1);
    ok(r);
    assert.equal(r.stdout, `merged 3 files: 60 images (0 skipped) -> ${out}\n`);
    const m = await readStats(out);
    assert.deepEqual(m.meta.coverage, [{ dataset: `idx:${idx} (60 images)`, ranges: [[0, 60]] }]);
    // and the merged file with the whole run is a repeat of every item
    refused(merge(path('no.safetensors'), out, whole), /share items 0-59 .*: the same shard given twice/);
  });

  it('refuses a file given twice, the same shard twice, overlapping shards, a run with its shard', () => {
    const out = path('m.safetensors');
    refused(merge(out, p0, p0), new RegExp(`^pss: ${p0} is given twice: give each shard once$`), out);
    refused(merge(out, p0, `${dir}/./shard0of3.safetensors`), /is given twice \(also as /, out);
    const copy = path('copy.safetensors');
    copyFileSync(p0, copy);
    refused(
      merge(out, p0, copy),
      /^pss: \S+copy\.safetensors \(items 0-19\) and \S+shard0of3\.safetensors \(items 0-19\) share items 0-19 of idx:\S+ \(60 images\): the same shard given twice; each item may be counted once$/,
      out,
    );
    refused(
      merge(out, whole, p1),
      /\(items 20-39\) and \S+whole\.safetensors \(items 0-59\) share items 20-39 .*: a run and one of its own shards/,
      out,
    );
    refused(merge(out, shard('0/2'), p1), /share items 20-29 of .*: overlapping shards/, out);
    // --limit keeps the first n items of the same dataset: its items are known too
    const first30 = path('first30.safetensors');
    ok(pss([...base, '--data', idx, '--out', first30, '--limit', '30']));
    refused(merge(out, first30, p1), /share items 20-29 of idx:\S+ \(60 images\): overlapping shards/, out);
    refused(merge(out, p0), /^pss: give at least two statistics files to merge \(got 1\)/, out);
  });

  it('files without a record of their items (earlier pss): repeats refused, the rest merged with a note', async () => {
    const old = async (from: string, name: string) => {
      const s = await readStats(from);
      s.meta.coverage = undefined;
      await writeStats(path(name), s);
      return path(name);
    };
    const [o0, o0b, o1, ow] = [
      await old(p0, 'old0.safetensors'),
      await old(p0, 'old0-copy.safetensors'),
      await old(p1, 'old1.safetensors'),
      await old(whole, 'old-whole.safetensors'),
    ];
    const out = path('old-merged.safetensors');
    refused(
      merge(out, o0, o0b),
      /old0-copy\.safetensors holds exactly the statistics of \S+old0\.safetensors: the same shard given twice/,
      out,
    );
    refused(
      merge(out, ow, o1),
      /old-whole\.safetensors covers all of idx:\S+ \(60 images\), and \S+old1\.safetensors is part of the same data: a run and one of its own shards/,
      out,
    );
    const r = merge(out, o0, o1, p2);
    ok(r);
    assert.match(
      r.stderr,
      /^pss: note: \S+old0\.safetensors, \S+old1\.safetensors record no dataset items \(written by an earlier pss\): only repeated shards and files could be checked, not overlapping ones\n$/,
    );
    const m = await readStats(out);
    assert.equal(m.acc.count, 60);
    assert.equal(m.meta.coverage, undefined);
  });

  it('--help shows the operands and an example', () => {
    const r = pss(['stats', 'merge', '--help']);
    ok(r);
    assert.match(r.stdout, /^Usage: pss stats merge --out <file> <files\.\.\. \| dir>\n/);
    assert.match(
      r.stdout,
      /Examples:\n.*\n {2}pss stats merge part0\.safetensors part1\.safetensors part2\.safetensors --out all\.safetensors/,
    );
  });
});

describe('pss stats refusals', () => {
  it('too few readable images: how many were tried, skipped, and why the first was', () => {
    const data = path('broken');
    for (const c of ['a', 'b']) {
      mkdirSync(join(data, c), { recursive: true });
      writeFileSync(join(data, c, 'x.png'), 'not a png');
    }
    const out = path('none.safetensors');
    refused(
      pss([...base, '--data', data, '--out', out]),
      /^pss: only 0 of the 2 item\(s\) tried could be read \(2 skipped; the first, \S+a\/x\.png: image file \S+ is not a JPEG, PNG, WebP, GIF or TIFF image\); statistics need at least 2 images$/,
      out,
    );
    refused(
      pss([...base, '--data', idx, '--out', out, '--limit', '1']),
      /^pss: idx:\S+ \(60 images\), first 1 has 1 item\(s\); statistics need at least 2 images$/,
      out,
    );
    refused(
      pss([...base, '--data', idx, '--out', out, '--shard', '59/60']),
      /^pss: shard 59\/60 of idx:\S+ \(60 images\) has 1 item\(s\); statistics need at least 2 images$/,
      out,
    );
  });

  it('a checkpoint of another run: which flag differs, and what to do', async () => {
    const out = path('resumed.safetensors');
    const data = await openDataset(idx, tinyModel);
    const acc = new RunningStats(tinyModel.unitCount);
    for (let i = 0; i < 4; i++) acc.push(new Float64Array(tinyModel.unitCount).fill(i));
    const meta = {
      model: 'tinycnn',
      weightsHash: tinyModel.weightsHash(),
      aggregation: 'filter' as const,
      filters: tinyModel.unitCount,
      preprocessing: preprocessingOf(tinyModel),
      dataset: data.description,
      skipped: 0,
      shard: '0/3',
      batch: 4,
      position: 4,
      coverage: [{ dataset: data.description, ranges: [[0, 4]] as [number, number][] }],
    };
    writeFileSync(`${out}.checkpoint`, serializeStats({ meta, acc }));
    refused(
      pss([...base, '--data', idx, '--out', out, '--resume']),
      new RegExp(
        `^pss: checkpoint ${out}\\.checkpoint is of a run with --shard 0/3, and this run has no --shard; resume with the same flags, or drop --resume \\(or delete the checkpoint\\) to start over$`,
      ),
      out,
    );
    refused(
      pss([...base, '--data', idx, '--out', out, '--resume', '--shard', '0/3', '--batch', '2']),
      /is of a run with --batch 4, and this run has --batch 2;/,
      out,
    );
    refused(
      pss([...base, '--data', idx, '--out', out, '--resume', '--shard', '0/3', '--aggregation', 'signed']),
      /is of a run with --aggregation filter, and this run has --aggregation signed;/,
      out,
    );
    // the same flags resume it
    ok(pss([...base, '--data', idx, '--out', out, '--resume', '--shard', '0/3']));
    const s = await readStats(out);
    assert.equal(s.acc.count, 20);
  });

  it('an output that cannot be written is found before the model is loaded', () => {
    const file = path('a-file');
    writeFileSync(file, '');
    const out = join(file, 'x.safetensors');
    refused(
      pss(['stats', '--model', 'no-such-model', '--data', idx, '--out', out]),
      /^pss: cannot write \S+a-file\/x\.safetensors: a part of the path is a file, not a folder$/,
    );
    refused(
      pss(['prune', '--model', 'no-such-model', '--data', idx, '--out', join(file, 'run')]),
      /^pss: cannot write \S+a-file\/run: a part of the path is a file, not a folder$/,
    );
  });

  it('a statistics file with bad values is one line naming the tensor and index', () => {
    const bad = path('nan.safetensors');
    const good = serializeStats({
      acc: RunningStats.from(3, new Float64Array(192).fill(1), new Float64Array(192).fill(2)),
      meta: {
        model: 'tinycnn',
        weightsHash: tinyModel.weightsHash(),
        aggregation: 'filter',
        filters: 192,
        preprocessing: preprocessingOf(tinyModel),
        dataset: 'd',
        skipped: 0,
      },
    });
    writeFileSync(bad, good);
    ok(
      pss([
        'saliency',
        '--model',
        'tinycnn',
        '--weights',
        base[4],
        '--input',
        'examples/tinycnn-input.npy',
        '--label',
        '1',
        '--stats',
        bad,
      ]),
    );
    const mean = new Float64Array(192).fill(1);
    mean[17] = Number.NaN;
    const { metadata } = parseSafeTensors(good);
    writeFileSync(
      bad,
      serializeSafeTensors(
        {
          mean: { dtype: 'F64', shape: [192], data: mean },
          std: { dtype: 'F64', shape: [192], data: new Float64Array(192).fill(1) },
          m2: { dtype: 'F64', shape: [192], data: new Float64Array(192).fill(2) },
        },
        metadata,
      ),
    );
    refused(
      pss([
        'saliency',
        '--model',
        'tinycnn',
        '--weights',
        base[4],
        '--input',
        'examples/tinycnn-input.npy',
        '--label',
        '1',
        '--stats',
        bad,
      ]),
      new RegExp(`^pss: statistics file ${bad}: mean\\[17\\] is NaN; statistics must be finite numbers$`),
    );
  });

  it('an ONNX model keeps its statistics when its file is renamed, and other weights are refused', async () => {
    const { logits } = buildForward(tinyModel, [1, 3, 29, 29]);
    const onnx = path('tiny.onnx');
    writeFileSync(onnx, toOnnxModel([{ name: 'logits', value: logits }]));
    const stats = path('onnx-stats.safetensors');
    ok(pss(['stats', '--model', onnx, '--data', idx, '--limit', '8', '--out', stats]));
    const renamed = path('renamed.onnx');
    copyFileSync(onnx, renamed);
    const run = (m: string) =>
      pss([
        'saliency',
        '--model',
        m,
        '--input',
        'examples/tinycnn-input.npy',
        '--label',
        '1',
        '--stats',
        stats,
        '--json',
        '-',
      ]);
    const r = run(renamed);
    ok(r);
    assert.equal(JSON.parse(r.stdout).standardized, true);
    const scaled = new Model(
      tinycnn,
      10,
      new Map([...tinyModel.weights].map(([k, w]) => [k, w.map((v) => v * 1.5)])),
      'x',
    );
    const other = path('other.onnx');
    writeFileSync(
      other,
      toOnnxModel([{ name: 'logits', value: buildForward(scaled, [1, 3, 29, 29]).logits }]),
    );
    refused(
      run(other),
      /^pss: \S+onnx-stats\.safetensors holds statistics for tiny \(weights hash [0-9a-f]{12}\); this is other \(hash [0-9a-f]{12}\)$/,
    );
  });
});
