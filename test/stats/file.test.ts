/**
 * The statistics file is checked in full whatever wrote it: every field and every value, each
 * problem one line naming the file, the field or tensor, and the index.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PssError } from '../../src/errors.js';
import { serializeSafeTensors, type TensorToWrite } from '../../src/io/safetensors.js';
import { parseStats, type Statistics, serializeStats } from '../../src/stats/file.js';
import { RunningStats } from '../../src/stats/welford.js';

const PATH = 's.safetensors';
const PRE = JSON.stringify({ resize: 29, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], input: [3, 29, 29] });

/** Statistics of three samples over four filters, as pss writes them. */
function good(): Statistics {
  const acc = new RunningStats(4);
  for (const x of [
    [1, 2, 3, 4],
    [2, 2, 5, 1],
    [3, 2, 4, 0],
  ])
    acc.push(x);
  return {
    acc,
    meta: {
      model: 'tinycnn',
      weightsHash: 'a'.repeat(64),
      aggregation: 'filter',
      filters: 4,
      preprocessing: PRE,
      dataset: 'idx:/d (3 images)',
      skipped: 1,
      shard: '0/2',
      coverage: [{ dataset: 'idx:/d (8 images)', ranges: [[0, 4]] }],
    },
  };
}

type Vec = { dtype: 'F64' | 'F32'; shape: number[]; data: Float64Array | Float32Array };

/** A file from good() with metadata fields replaced (undefined: removed) and tensors edited. */
function file(
  meta: Record<string, string | undefined> = {},
  edit: (t: Record<string, Vec>) => void = () => {},
  stats: Statistics = good(),
): Uint8Array {
  const { acc } = stats;
  const metadata: Record<string, string> = {
    format: 'pss-stats/1',
    count: String(acc.count),
    model: stats.meta.model,
    weightsHash: stats.meta.weightsHash,
    aggregation: stats.meta.aggregation,
    filters: String(stats.meta.filters),
    preprocessing: stats.meta.preprocessing,
    dataset: stats.meta.dataset,
    skipped: String(stats.meta.skipped),
    shard: stats.meta.shard!,
    coverage: JSON.stringify(stats.meta.coverage),
  };
  for (const [k, v] of Object.entries(meta)) {
    if (v === undefined) delete metadata[k];
    else metadata[k] = v;
  }
  const vec = (data: Float64Array): Vec => ({
    dtype: 'F64',
    shape: [data.length],
    data: Float64Array.from(data),
  });
  const tensors: Record<string, Vec> = { mean: vec(acc.mean), std: vec(acc.std()), m2: vec(acc.m2) };
  edit(tensors);
  return serializeSafeTensors(tensors as Record<string, TensorToWrite>, metadata);
}

function refused(bytes: Uint8Array, pattern: RegExp) {
  assert.throws(
    () => parseStats(bytes, PATH),
    (e: Error) => {
      assert.ok(e instanceof PssError, `a PssError, got ${e.stack}`);
      assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

const at = (field: string) => new RegExp(`^statistics file s\\.safetensors: .*${field}`);

describe('parseStats', () => {
  it('reads back what serializeStats writes, coverage included', () => {
    const s = good();
    const back = parseStats(serializeStats(s), PATH);
    // A file that records no target was computed with the true label; no unit set: filters.
    assert.deepEqual(back.meta, {
      ...s.meta,
      target: 'true',
      units: 'filters',
      position: undefined,
      batch: undefined,
    });
    const wide = { ...s, meta: { ...s.meta, units: 'filters+neurons' as const } };
    assert.equal(parseStats(serializeStats(wide), PATH).meta.units, 'filters+neurons');
    assert.deepEqual(back.acc.mean, s.acc.mean);
    assert.deepEqual(back.acc.m2, s.acc.m2);
    assert.equal(back.acc.count, 3);
    // the hand-built file of these tests is the same file
    assert.deepEqual(parseStats(file(), PATH).meta, back.meta);
  });

  it("reads a file written before coverage and tails were recorded (the embedded model's first statistics)", async () => {
    const { readStats } = await import('../../src/stats/file.js');
    const s = await readStats('test/fixtures/fashion-cnn-stats-before-tails.safetensors');
    assert.equal(s.meta.coverage, undefined);
    assert.equal(s.tails, undefined);
    assert.equal(s.acc.count, 10_000);
  });

  it('reads the statistics shipped with the embedded model: every test image covered, tails and POT fits kept', async () => {
    const { readStats } = await import('../../src/stats/file.js');
    const s = await readStats('models/fashion-cnn.stats.safetensors');
    assert.equal(s.acc.count, 10_000);
    assert.deepEqual(
      s.meta.coverage?.map((c) => c.ranges),
      [[[0, 10_000]]],
    );
    assert.equal(s.tails?.units, 224);
    assert.equal(s.tails?.quantile, 0.85);
    assert.equal(s.tails?.width, 1503); // ceil(0.15 * 10,000) + 2
    assert.deepEqual(
      s.tails?.fits?.map((f) => f.q),
      [0.85, 0.95],
    );
  });

  it('refuses a file of another format', () => {
    refused(
      file({ format: undefined }),
      /^s\.safetensors is not a pss statistics file \(format "missing"\)$/,
    );
    refused(file({ format: 'pss-stats/2' }), /format "pss-stats\/2"/);
  });

  it('refuses a missing or empty metadata field, by name', () => {
    for (const k of ['count', 'model', 'weightsHash', 'aggregation', 'filters', 'preprocessing', 'dataset'])
      refused(
        file({ [k]: undefined }),
        new RegExp(`^statistics file s\\.safetensors: metadata field "${k}" is missing$`),
      );
    refused(file({ model: ' ' }), /metadata field "model" is empty$/);
  });

  it('refuses counts and sizes that are not integers of the right range', () => {
    for (const v of ['-1', '2.5', 'three', '', '1e3', '99999999999999999999'])
      refused(
        file({ count: v }),
        at(`metadata field "count" is "${v.replace('.', '\\.')}", not an integer >= 0`),
      );
    refused(file({ filters: '0' }), at('metadata field "filters" is "0", not an integer >= 1'));
    refused(file({ skipped: '-3' }), at('metadata field "skipped" is "-3", not an integer >= 0'));
    refused(file({ position: 'x' }), at('metadata field "position" is "x", not an integer >= 0'));
    refused(file({ batch: '0' }), at('metadata field "batch" is "0", not an integer >= 1'));
  });

  it('refuses an unknown aggregation or unit set, a bad hash, a bad shard', () => {
    refused(
      file({ aggregation: 'median' }),
      at('metadata field "aggregation" is "median", not one of filter, filter-abs-mean, signed, parameter$'),
    );
    refused(file({ weightsHash: 'abc' }), at('"weightsHash" is "abc", not a SHA-256'));
    refused(
      file({ units: 'heads' }),
      at('metadata field "units" is "heads", not one of filters, filters\\+neurons, all$'),
    );
    refused(file({ shard: '3/3' }), at('metadata field "shard" is "3/3", not i/n'));
    refused(file({ shard: 'half' }), at('metadata field "shard" is "half"'));
  });

  it('refuses preprocessing that is not the JSON pss writes', () => {
    refused(file({ preprocessing: 'bilinear 256' }), at('metadata field "preprocessing" is not JSON'));
    refused(file({ preprocessing: '[1]' }), at('"preprocessing" is not a JSON object'));
    const p = JSON.parse(PRE);
    refused(
      file({ preprocessing: JSON.stringify({ ...p, resize: -1 }) }),
      at('"preprocessing" has resize -1'),
    );
    refused(file({ preprocessing: JSON.stringify({ ...p, input: [3, 29] }) }), at('has input \\[3,29\\]'));
    refused(file({ preprocessing: JSON.stringify({ ...p, std: [0.5, 0] }) }), at('has std \\[0.5,0\\]'));
    refused(file({ preprocessing: JSON.stringify({ ...p, mean: undefined }) }), at('has mean undefined'));
  });

  it('refuses coverage that is malformed or disagrees with the counts', () => {
    refused(file({ coverage: '{' }), at('metadata field "coverage" is not JSON'));
    refused(file({ coverage: '[{"ranges":[[0,4]]}]' }), at('"coverage" entry 0 names no dataset'));
    refused(
      file({ coverage: '[{"dataset":"d","ranges":[[0,2],[1,4]]}]' }),
      at('"coverage" entry 0, range 1 is not \\[begin, end\\) after the previous one'),
    );
    refused(
      file({ coverage: '[{"dataset":"d","ranges":[[0,9]]}]' }),
      at('it covers 9 dataset items \\(metadata field "coverage"\\) but counts 3 images and 1 skipped$'),
    );
  });

  it('refuses a missing tensor, another dtype, another length', () => {
    for (const name of ['mean', 'm2', 'std'])
      refused(
        file({}, (t) => {
          delete t[name];
        }),
        new RegExp(`^statistics file s\\.safetensors: no "${name}" tensor$`),
      );
    refused(
      file({}, (t) => {
        t.mean = { dtype: 'F32', shape: [4], data: Float32Array.from(t.mean.data) };
      }),
      at('tensor "mean" is F32; pss statistics are F64$'),
    );
    // a short mean used to crash later with a stack
    refused(
      file({}, (t) => {
        t.mean = { ...t.mean, shape: [3], data: t.mean.data.subarray(0, 3) };
      }),
      at('tensor "mean" has shape \\[3\\]; metadata field "filters" says 4$'),
    );
    refused(
      file({}, (t) => {
        t.m2 = { ...t.m2, shape: [2, 2] };
      }),
      at('tensor "m2" has shape \\[2, 2\\]'),
    );
  });

  it('refuses NaN and infinities by tensor and index', () => {
    refused(
      file({}, (t) => {
        t.mean.data[2] = Number.NaN;
      }),
      at('mean\\[2\\] is NaN; statistics must be finite numbers$'),
    );
    refused(
      file({}, (t) => {
        t.m2.data[1] = Number.POSITIVE_INFINITY;
      }),
      at('m2\\[1\\] is Infinity'),
    );
    refused(
      file({}, (t) => {
        t.std.data[3] = Number.NEGATIVE_INFINITY;
      }),
      at('std\\[3\\] is -Infinity'),
    );
  });

  it('refuses a negative m2 or std, and a std that m2 and count do not give', () => {
    refused(
      file({}, (t) => {
        t.m2.data[0] = -1e-3;
      }),
      at('m2\\[0\\] is -0\\.001; a sum of squares cannot be negative$'),
    );
    refused(
      file({}, (t) => {
        t.std.data[2] = -t.std.data[2];
      }),
      at('std\\[2\\] is -[\\d.]+; a standard deviation cannot be negative$'),
    );
    refused(
      file({}, (t) => {
        t.std.data[1] = 0.5;
      }),
      at('std\\[1\\] is 0\\.5, but m2 and count give 0$'),
    );
    refused(
      file({ count: '1', coverage: '[{"dataset":"d","ranges":[[0,2]]}]' }),
      at('m2\\[0\\] is 2, but 1 image\\(s\\) have no spread'),
    );
  });

  it('per-parameter statistics need no std (it follows from m2)', () => {
    const s = good();
    s.meta.aggregation = 'parameter';
    const bytes = serializeStats(s);
    const back = parseStats(bytes, PATH);
    assert.deepEqual(back.acc.std(), s.acc.std());
    assert.equal(back.meta.aggregation, 'parameter');
    // a filter-mode file must have it
    refused(
      file({}, (t) => {
        delete t.std;
      }),
      at('no "std" tensor'),
    );
  });
});
