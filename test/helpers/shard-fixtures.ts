/**
 * Shard directories as `pss stats --out-dir` and `pss prune --out-dir` leave them, written
 * directly (no model run), with the faults a merge must refuse: a shard missing, one there
 * twice, one renamed, one of another run, one unfinished, shards of two splits.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PRUNE_CSV_HEADER } from '../../src/jobs/prune-csv.js';
import { serializeStats } from '../../src/stats/file.js';
import { RunningStats } from '../../src/stats/welford.js';

const PER_SHARD = 10;
const PREPROCESSING = JSON.stringify({ resize: 28, mean: [0.5], std: [0.5], input: [1, 28, 28] });

/** Shard i of n of a 10n-item dataset: statistics of 3 values over its 10 items. */
function statsShard(dir: string, name: string, i: number, n: number, edit: { dataset?: string } = {}) {
  const acc = new RunningStats(3);
  for (let k = 0; k < PER_SHARD; k++) acc.push([i + k, 2 * k, (k * k) % 7]);
  const dataset = edit.dataset ?? 'idx:test (30 images)';
  const bytes = serializeStats({
    acc,
    meta: {
      model: 'tinycnn',
      weightsHash: 'unknown',
      aggregation: 'filter',
      filters: 3,
      preprocessing: PREPROCESSING,
      dataset,
      skipped: 0,
      shard: `${i}/${n}`,
      coverage: [{ dataset, ranges: [[PER_SHARD * i, PER_SHARD * (i + 1)]] }],
    },
  });
  writeFileSync(join(dir, name), bytes);
}

const statsName = (i: number, n: number) =>
  `stats-${String(i).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;

/** A finished prune shard folder with no misclassified image (so an empty prune.csv is complete). */
function pruneShard(dir: string, i: number, n: number, edit: { seed?: number; unfinished?: boolean } = {}) {
  const folder = join(dir, `prune-${String(i).padStart(5, '0')}-of-${String(n).padStart(5, '0')}`);
  mkdirSync(folder, { recursive: true });
  const seed = edit.seed ?? 0;
  const shard = `${i}/${n}`;
  const identity = {
    model: 'fashion-cnn',
    weightsHash: 'unknown',
    dataset: 'test',
    aggregation: 'filter',
    statistics: null,
    rank: 'z',
    k: 1,
    seed,
    shard,
  };
  writeFileSync(join(folder, 'run.json'), JSON.stringify(identity, null, 1));
  writeFileSync(join(folder, 'prune.csv'), `${PRUNE_CSV_HEADER}\n`);
  if (edit.unfinished) return;
  const summary = {
    model: 'fashion-cnn',
    weights: 'embedded',
    dataset: 'test',
    images: PER_SHARD,
    skipped: 0,
    accuracy: 1,
    misclassified: 0,
    aggregation: 'filter',
    standardized: false,
    statistics: null,
    rankBy: 'z',
    seed,
    resumed: 0,
    seconds: 0.1,
    shard,
    items: [PER_SHARD * i, PER_SHARD * (i + 1)],
    results: { images: 0, k: 1, strategies: [] },
  };
  writeFileSync(join(folder, 'summary.json'), JSON.stringify(summary, null, 1));
}

/** Writes the faulty shard directories under `root`; returns their paths by fault. */
export function writeShardFaults(root: string) {
  const dirs = {
    statsMissing: join(root, 'stats-missing'),
    statsTwice: join(root, 'stats-twice'),
    statsRenamed: join(root, 'stats-renamed'),
    statsForeign: join(root, 'stats-foreign'),
    statsSplits: join(root, 'stats-splits'),
    statsEmpty: join(root, 'stats-empty'),
    pruneMissing: join(root, 'prune-missing'),
    pruneForeign: join(root, 'prune-foreign'),
    pruneUnfinished: join(root, 'prune-unfinished'),
  };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  for (const i of [0, 2]) statsShard(dirs.statsMissing, statsName(i, 3), i, 3);
  writeFileSync(join(dirs.statsMissing, `${statsName(1, 3)}.checkpoint`), 'a checkpoint');
  for (const i of [0, 1, 2]) statsShard(dirs.statsTwice, statsName(i, 3), i, 3);
  statsShard(dirs.statsTwice, 'stats-1-of-3.safetensors', 1, 3);
  for (const i of [0, 1]) statsShard(dirs.statsRenamed, statsName(i, 3), i, 3);
  statsShard(dirs.statsRenamed, statsName(2, 3), 1, 3);
  for (const i of [0, 1, 2])
    statsShard(dirs.statsForeign, statsName(i, 3), i, 3, i === 2 ? { dataset: 'idx:other (30 images)' } : {});
  for (const i of [0, 1, 2]) statsShard(dirs.statsSplits, statsName(i, 3), i, 3);
  statsShard(dirs.statsSplits, statsName(3, 4), 3, 4);
  writeFileSync(join(dirs.statsEmpty, 'notes.txt'), 'not a shard');
  for (const i of [0, 1]) pruneShard(dirs.pruneMissing, i, 3);
  for (const i of [0, 1, 2]) pruneShard(dirs.pruneForeign, i, 3, i === 1 ? { seed: 7 } : {});
  for (const i of [0, 1, 2]) pruneShard(dirs.pruneUnfinished, i, 3, i === 2 ? { unfinished: true } : {});
  return dirs;
}
