/**
 * mergeStats counts every dataset item once: repeated, overlapping and whole-plus-part merges
 * are refused from the items each file records; files without that record (earlier pss
 * versions) are checked as far as they can be, and the merge says so.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PssError } from '../../src/errors.js';
import type { Coverage } from '../../src/stats/coverage.js';
import type { Statistics } from '../../src/stats/file.js';
import { type MergePart, mergeStats } from '../../src/stats/merge.js';
import { RunningStats } from '../../src/stats/welford.js';

const D = 'idx:/data/x (60 images)';

/** Statistics of the items [begin, end) of dataset D: item i has saliency [i, i²]. */
function part(
  path: string,
  begin: number,
  end: number,
  o: { shard?: string; coverage?: Coverage[] | null; dataset?: string } = {},
): MergePart {
  const acc = new RunningStats(2);
  for (let i = begin; i < end; i++) acc.push([i, i * i]);
  const dataset = o.dataset ?? D;
  const stats: Statistics = {
    acc,
    meta: {
      model: 'tinycnn',
      weightsHash: 'a'.repeat(64),
      aggregation: 'filter',
      filters: 2,
      preprocessing: '{}',
      dataset,
      skipped: 0,
      shard: o.shard,
      coverage: o.coverage === null ? undefined : (o.coverage ?? [{ dataset, ranges: [[begin, end]] }]),
    },
  };
  return { path, stats };
}

function refused(parts: MergePart[], pattern: RegExp) {
  assert.throws(
    () => mergeStats(parts),
    (e: Error) => {
      assert.ok(e instanceof PssError, `a PssError, got ${e.stack}`);
      assert.ok(!e.message.includes('\n'));
      assert.match(e.message, pattern);
      return true;
    },
  );
}

describe('mergeStats', () => {
  it('merges disjoint shards exactly and records the union of their items', () => {
    const merged = mergeStats([
      part('p0', 0, 20, { shard: '0/3' }),
      part('p2', 40, 60, { shard: '2/3' }),
      part('p1', 20, 40, { shard: '1/3' }),
    ]);
    const whole = part('w', 0, 60).stats.acc;
    assert.equal(merged.acc.count, 60);
    assert.ok(Math.abs(merged.acc.mean[1] - whole.mean[1]) <= 1e-12 * whole.mean[1]);
    assert.deepEqual(merged.meta.coverage, [{ dataset: D, ranges: [[0, 60]] }]);
    assert.equal(merged.meta.shard, 'merged from 0/3, 2/3, 1/3');
  });

  it('refuses a shard given twice, overlapping shards, and a run with one of its own shards', () => {
    refused(
      [part('a', 0, 20), part('b', 0, 20)],
      /^b \(items 0-19\) and a \(items 0-19\) share items 0-19 of idx:\/data\/x \(60 images\): the same shard given twice; each item may be counted once$/,
    );
    refused(
      [part('a', 0, 30), part('b', 20, 60)],
      /^b \(items 20-59\) and a \(items 0-29\) share items 20-29 of .*: overlapping shards;/,
    );
    refused(
      [part('p1', 20, 40), part('all', 0, 60)],
      /^all \(items 0-59\) and p1 \(items 20-39\) share items 20-39 of .*: a run and one of its own shards;/,
    );
    // a merged file and one of the files it was merged from
    const m = mergeStats([part('p0', 0, 20), part('p1', 20, 40)]);
    refused(
      [{ path: 'm', stats: m }, part('p1', 20, 40)],
      /^p1 \(items 20-39\) and m \(items 0-39\) share items 20-39 .*: a run and one of its own shards/,
    );
  });

  it('merges statistics of different datasets, each item once', () => {
    const merged = mergeStats([
      part('a', 0, 10),
      part('b', 0, 10, { dataset: 'list:/other.csv (10 images)' }),
    ]);
    assert.equal(merged.acc.count, 20);
    assert.equal(merged.meta.coverage?.length, 2);
    assert.equal(merged.meta.dataset, `${D} + list:/other.csv (10 images)`);
  });

  it('refuses a checkpoint, and parts of other models', () => {
    const ck = part('ck', 0, 10);
    ck.stats.meta.position = 10;
    refused(
      [part('a', 10, 20), ck],
      /^ck is a checkpoint of an unfinished run; finish it with --resume first$/,
    );
    const other = part('o', 20, 30);
    other.stats.meta.weightsHash = 'b'.repeat(64);
    refused([part('a', 0, 10), other], /^o differs from a in weightsHash/);
    const wider = part('w', 20, 30);
    wider.stats.meta.units = 'filters+neurons';
    const a = part('a', 0, 10);
    a.stats.meta.units = 'filters';
    refused([a, wider], /^w differs from a in units: filters\+neurons vs filters/);
  });

  describe('files of earlier versions (no record of their items)', () => {
    const old = (path: string, b: number, e: number, shard?: string) =>
      part(path, b, e, { shard, coverage: null });

    it('refuses identical statistics and the same shard i/n of the same data', () => {
      refused(
        [old('a', 0, 20, '0/3'), part('copy', 0, 20, { shard: '0/3', coverage: null })],
        /^copy holds exactly the statistics of a: the same shard given twice; give each shard once$/,
      );
      // the same shard, recomputed (other numbers: say with another batch size)
      const again = old('b', 0, 20, '0/3');
      again.stats.acc.mean[0] += 1e-15;
      refused(
        [old('a', 0, 20, '0/3'), again],
        /^b and a are both shard 0\/3 of idx:\/data\/x \(60 images\): the same shard given twice$/,
      );
      // a new file with the same numbers as an old one
      refused(
        [part('new', 0, 20, { shard: '0/3' }), old('a', 0, 20, '0/3')],
        /holds exactly the statistics of new/,
      );
    });

    it('refuses a whole run with a shard of the same data', () => {
      refused(
        [old('all', 0, 60), old('p1', 20, 40, '1/3')],
        /^all covers all of idx:\/data\/x \(60 images\), and p1 is part of the same data: a run and one of its own shards/,
      );
      refused(
        [part('p1', 20, 40, { shard: '1/3' }), old('all', 0, 60)],
        /^all covers all of .*, and p1 is part of the same data/,
      );
    });

    it('merges other shards, says what it could not check, and leaves the items unknown', () => {
      const notes: string[] = [];
      const merged = mergeStats([old('a', 0, 20, '0/3'), part('b', 20, 40, { shard: '1/3' })], {
        onNote: (n) => notes.push(n),
      });
      assert.equal(merged.acc.count, 40);
      assert.equal(merged.meta.coverage, undefined);
      assert.deepEqual(notes, [
        'a records no dataset items (written by an earlier pss): only repeated shards and files could be checked, not overlapping ones',
      ]);
    });
  });
});
