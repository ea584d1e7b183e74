/**
 * Merging shard statistics (Chan's formula): exact up to float64 rounding, and never counting
 * an item twice — a shard given twice, overlapping shards, or a run together with one of its
 * own shards is refused, from the items each file records that it covers.
 */
import { createHash } from 'node:crypto';
import { PssError } from '../errors.js';
import { type Coverage, describeRanges, overlap, unionCoverage } from './coverage.js';
import type { Statistics, StatsMeta } from './file.js';
import { mergeTails, withFits } from './tails.js';
import { RunningStats } from './welford.js';

export interface MergePart {
  path: string;
  stats: Statistics;
}

export interface MergeOptions {
  /** Told what could not be checked (files without a record of their items). */
  onNote?: (note: string) => void;
  /** Progress of refitting POT on the merged tails (units fitted at quantile q). */
  onFit?: (q: number, done: number, total: number) => void;
}

/**
 * What every part of a merge must share: the one list both merges (of files, of a shard
 * directory) check, so that a field added to what statistics describe is added here once.
 */
export const MERGE_IDENTITY = [
  'model',
  'weightsHash',
  'aggregation',
  'target',
  'filters',
  'units',
  'preprocessing',
] as const satisfies readonly (keyof StatsMeta)[];

/** Refuses unfinished parts and parts that differ in one of `keys`; `why` ends the message. */
export function checkSameIdentity(
  parts: readonly MergePart[],
  keys: readonly (keyof StatsMeta)[] = MERGE_IDENTITY,
  why = '',
): void {
  const first = parts[0].stats.meta;
  for (const { path, stats } of parts) {
    if (stats.meta.position !== undefined)
      throw new PssError(`${path} is a checkpoint of an unfinished run; finish it with --resume first`);
    for (const k of keys) {
      if (String(stats.meta[k]) !== String(first[k]))
        throw new PssError(
          `${path} differs from ${parts[0].path} in ${k}: ${stats.meta[k]} vs ${first[k]}${why}`,
        );
    }
  }
}

export function mergeStats(parts: readonly MergePart[], o: MergeOptions = {}): Statistics {
  if (parts.length === 0) throw new PssError('nothing to merge');
  const first = parts[0].stats.meta;
  checkSameIdentity(parts);
  checkDisjoint(parts, o);
  const acc = new RunningStats(first.filters);
  for (const { stats } of parts) acc.merge(stats.acc);
  const coverages = parts.map((p) => p.stats.meta.coverage);
  const known = coverages.every((c) => c !== undefined);
  const tails = parts.map((p) => p.stats.tails);
  const untailed = parts.filter((p) => !p.stats.tails).map((p) => p.path);
  if (untailed.length && untailed.length < parts.length)
    o.onNote?.(`${untailed.join(', ')} keep no tails, so the merge keeps none (POT needs them)`);
  return {
    acc,
    ...(!untailed.length && { tails: withFits(mergeTails(tails.map((t) => t!)), o.onFit) }),
    meta: {
      ...first,
      dataset: [...new Set(parts.map((p) => p.stats.meta.dataset))].join(' + '),
      skipped: parts.reduce((s, p) => s + p.stats.meta.skipped, 0),
      shard: `merged from ${parts.map((p) => p.stats.meta.shard ?? p.path).join(', ')}`,
      // One file of unknown items makes the union unknown too: no false claim of what is covered.
      coverage: known ? unionCoverage(coverages as Coverage[][]) : undefined,
      position: undefined,
      batch: undefined,
    },
  };
}

const SHARD = /^\d+\/\d+$/;

/** Refuses any two parts that share an item (or, where the items are unknown, may). */
function checkDisjoint(parts: readonly MergePart[], o: MergeOptions): void {
  const unknown = parts.filter((p) => !p.stats.meta.coverage);
  const fingerprints = new Map<string, string>();
  for (const [i, a] of parts.entries()) {
    // Without a record of the items, identical numbers are the one sure sign of a repeat.
    if (unknown.length) {
      const f = fingerprint(a.stats);
      const twin = fingerprints.get(f);
      if (twin !== undefined)
        throw new PssError(
          `${a.path} holds exactly the statistics of ${twin}: the same shard given twice; give each shard once`,
        );
      fingerprints.set(f, a.path);
    }
    for (const b of parts.slice(0, i)) refuseOverlap(b, a);
  }
  if (unknown.length)
    o.onNote?.(
      `${unknown.map((p) => p.path).join(', ')} ${unknown.length === 1 ? 'records' : 'record'} no dataset items (written by an earlier pss): only repeated shards and files could be checked, not overlapping ones`,
    );
}

function refuseOverlap(a: MergePart, b: MergePart): void {
  const [ma, mb] = [a.stats.meta, b.stats.meta];
  if (ma.coverage && mb.coverage) {
    const shared = overlap(ma.coverage, mb.coverage);
    if (!shared) return;
    const of = (c: readonly Coverage[]) =>
      describeRanges(c.find((d) => d.dataset === shared.dataset)!.ranges);
    const [ia, ib] = [of(ma.coverage), of(mb.coverage)];
    const why =
      ia === ib
        ? 'the same shard given twice'
        : shared.items === ia || shared.items === ib
          ? 'a run and one of its own shards'
          : 'overlapping shards';
    throw new PssError(
      `${b.path} (${ib}) and ${a.path} (${ia}) share ${shared.items} of ${shared.dataset}: ${why}; each item may be counted once`,
    );
  }
  // Files of earlier versions: the same shard i/n of the same data, or a whole run and a part of it.
  if (ma.dataset !== mb.dataset) return;
  if (ma.shard !== undefined && ma.shard === mb.shard && SHARD.test(ma.shard))
    throw new PssError(
      `${b.path} and ${a.path} are both shard ${ma.shard} of ${ma.dataset}: the same shard given twice`,
    );
  const whole = [a, b].find((p) => p.stats.meta.shard === undefined); // neither a shard nor a merge
  if (whole)
    throw new PssError(
      `${whole.path} covers all of ${ma.dataset}, and ${(whole === a ? b : a).path} is part of the same data: a run and one of its own shards; each item may be counted once`,
    );
}

/** The numbers of a statistics file (count, means, M2s), hashed. */
function fingerprint({ acc }: Statistics): string {
  const h = createHash('sha256');
  h.update(`${acc.count};`);
  h.update(new Uint8Array(acc.mean.buffer, acc.mean.byteOffset, acc.mean.byteLength));
  h.update(new Uint8Array(acc.m2.buffer, acc.m2.byteOffset, acc.m2.byteLength));
  return h.digest('hex');
}
