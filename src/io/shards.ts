/**
 * A shard directory: the outputs of the n shards of one job side by side, each named by its
 * index and the count ("stats-00003-of-00016.safetensors", "prune-00003-of-00016/"), so that
 * a cluster's tasks can write into one shared folder and a merge can tell, from the names
 * alone, whether every shard 0..n−1 is there exactly once.
 */
import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PssError } from '../errors.js';
import { errnoCode, ioError } from './files.js';

/** How a kind of shard output is named: `${prefix}-IIIII-of-NNNNN${suffix}`, a file or a folder. */
export interface ShardLayout {
  prefix: string;
  suffix: string;
  kind: 'file' | 'folder';
}

export const STATS_SHARDS: ShardLayout = { prefix: 'stats', suffix: '.safetensors', kind: 'file' };
export const PRUNE_SHARDS: ShardLayout = { prefix: 'prune', suffix: '', kind: 'folder' };

/** Five digits (up to 99,999 shards sort by name), more only when the count needs them. */
const pad = (k: number, n: number) => String(k).padStart(Math.max(5, String(n).length), '0');

/** The name of shard i of n: "stats-00003-of-00016.safetensors". */
export const shardName = (layout: ShardLayout, [i, n]: readonly [number, number]): string =>
  `${layout.prefix}-${pad(i, n)}-of-${pad(n, n)}${layout.suffix}`;

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export interface ShardEntry {
  index: number;
  count: number;
  path: string;
}

/** "3, 5-9, 12" for a sorted list of indices. */
function describeIndices(indices: readonly number[]): string {
  const runs: string[] = [];
  for (let j = 0; j < indices.length; ) {
    let k = j;
    while (k + 1 < indices.length && indices[k + 1] === indices[k] + 1) k++;
    runs.push(k === j ? `${indices[j]}` : `${indices[j]}-${indices[k]}`);
    j = k + 1;
  }
  return runs.join(', ');
}

/**
 * The shards in `dir`, in index order, after checking that they are one complete set: one
 * count n for all, and every index 0..n−1 exactly once. Anything else in the folder (locks,
 * checkpoints, temporary files, other files) is left alone, but a checkpoint or lock of a
 * missing shard is named in the message, since it says why that shard is missing.
 */
export async function findShards(dir: string, layout: ShardLayout): Promise<ShardEntry[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT') throw new PssError(`shard directory not found: ${dir}`);
    if (code === 'ENOTDIR')
      throw new PssError(`${dir} is not a directory; give the folder the shards were written into`);
    throw ioError(e, 'read shard directory', dir);
  }
  const pattern = new RegExp(
    `^${escapeRegExp(layout.prefix)}-(\\d+)-of-(\\d+)${escapeRegExp(layout.suffix)}$`,
  );
  const example = shardName(layout, [0, 4]);
  const found: (ShardEntry & { name: string })[] = [];
  for (const entry of entries) {
    const m = pattern.exec(entry.name);
    if (!m) continue;
    const path = join(dir, entry.name);
    const isKind = layout.kind === 'file' ? entry.isFile() : entry.isDirectory();
    if (!isKind)
      throw new PssError(
        `${path} is not a ${layout.kind === 'file' ? 'regular file' : 'folder'}; a shard ${layout.kind} was expected`,
      );
    const [index, count] = [Number(m[1]), Number(m[2])];
    if (!Number.isSafeInteger(count) || count < 1 || index >= count)
      throw new PssError(`${path}: shard ${index} of ${count} cannot be (the index must be below the count)`);
    found.push({ index, count, path, name: entry.name });
  }
  if (!found.length)
    throw new PssError(
      `${dir} holds no shard ${layout.kind === 'file' ? 'files' : 'folders'} (named like ${example}); write them with --out-dir ${dir}`,
    );

  const counts = [...new Set(found.map((s) => s.count))].sort((a, b) => a - b);
  if (counts.length > 1) {
    const of = (n: number) => found.find((s) => s.count === n)!.name;
    throw new PssError(
      `${dir} mixes shards of ${counts.length} different splits (${counts.map((n) => `${of(n)}: ${n} shards`).join('; ')}); keep the shards of one run in a directory`,
    );
  }
  const n = counts[0];
  const byIndex = new Map<number, ShardEntry & { name: string }>();
  for (const s of found.sort((a, b) => a.name.localeCompare(b.name))) {
    const twin = byIndex.get(s.index);
    if (twin)
      throw new PssError(`shard ${s.index} of ${n} is in ${dir} twice: ${twin.name} and ${s.name}; keep one`);
    byIndex.set(s.index, s);
  }
  const missing = Array.from({ length: n }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length) {
    const names = new Set(entries.map((e) => e.name));
    const unfinished = missing.filter((i) => {
      const name = shardName(layout, [i, n]);
      return names.has(`${name}.checkpoint`) || names.has(`${name}.lock`);
    });
    const why = unfinished.length
      ? `; ${unfinished.length === 1 ? `shard ${unfinished[0]} has` : `shards ${describeIndices(unfinished)} have`} a checkpoint or lock there: still running, or stopped (rerun with the same command and --resume)`
      : '';
    const first = shardName(layout, [missing[0], n]);
    throw new PssError(
      missing.length === 1
        ? `${dir} is missing shard ${missing[0]} of ${n} (${first})${why}`
        : `${dir} is missing ${missing.length} of ${n} shards: ${describeIndices(missing)} (the first: ${first})${why}`,
    );
  }
  return [...byIndex.values()]
    .sort((a, b) => a.index - b.index)
    .map(({ index, count, path }) => ({ index, count, path }));
}
