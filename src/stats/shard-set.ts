/**
 * The statistics of a shard directory (`pss stats --shard ... --out-dir DIR`), checked to be
 * one run split in n: every shard 0..n−1 once (by name), each file holding the shard its
 * name says, all of the same model, weights, saliency, preprocessing and data, and together
 * covering the dataset's items exactly as the n contiguous shards do.
 */
import { shardRange } from '../data/dataset.js';
import { PssError } from '../errors.js';
import { findShards, STATS_SHARDS } from '../io/shards.js';
import { describeRanges } from './coverage.js';
import { readStats } from './file.js';
import { checkSameIdentity, MERGE_IDENTITY, type MergePart } from './merge.js';

const FOREIGN = ': a shard of another run; a shard directory holds the shards of one command';

export async function readStatsShards(dir: string): Promise<MergePart[]> {
  const entries = await findShards(dir, STATS_SHARDS);
  const parts: MergePart[] = [];
  for (const { index, count, path } of entries) {
    const stats = await readStats(path);
    const holds = stats.meta.shard;
    if (holds !== `${index}/${count}`)
      throw new PssError(
        `${path} is named shard ${index}/${count} but holds ${holds === undefined ? 'a whole run' : /^merged/.test(holds) ? 'a merge' : `shard ${holds}`}: copied or renamed into ${dir}; keep each shard under the name pss gave it`,
      );
    parts.push({ path, stats });
  }
  checkSameIdentity(parts, [...MERGE_IDENTITY, 'dataset'], FOREIGN);
  checkTiling(parts, entries.length);
  return parts;
}

/** Each shard covers exactly the items shardRange gives it, for the length all of them add up to. */
function checkTiling(parts: readonly MergePart[], n: number): void {
  const covered = parts.map((p) => p.stats.meta.coverage);
  if (covered.some((c) => c === undefined)) return; // files of earlier versions: the merge notes it
  const ranges = covered.map((c) => c!.flatMap((d) => d.ranges));
  const datasets = new Set(covered.flatMap((c) => c!.map((d) => d.dataset)));
  if (datasets.size > 1)
    throw new PssError(`the shards in this directory cover ${datasets.size} different datasets${FOREIGN}`);
  const length = Math.max(...ranges.map((r) => (r.length ? r[r.length - 1][1] : 0)));
  parts.forEach((p, i) => {
    const [begin, end] = shardRange(length, [i, n]);
    const want = describeRanges(end > begin ? [[begin, end]] : []);
    const has = describeRanges(ranges[i]);
    if (has !== want)
      throw new PssError(
        `${p.path} covers ${has}, but shard ${i}/${n} of ${length} items is ${want}: shards of a different split or --limit${FOREIGN}`,
      );
  });
}
