/** Merging shard statistics (Chan's formula): exact up to float64 rounding. */
import { PssError } from '../errors.js';
import type { Statistics } from './file.js';
import { RunningStats } from './welford.js';

export function mergeStats(parts: readonly { path: string; stats: Statistics }[]): Statistics {
  if (parts.length === 0) throw new PssError('nothing to merge');
  const first = parts[0].stats.meta;
  const acc = new RunningStats(first.filters);
  for (const { path, stats } of parts) {
    for (const k of ['model', 'weightsHash', 'aggregation', 'filters', 'preprocessing'] as const) {
      if (String(stats.meta[k]) !== String(first[k]))
        throw new PssError(`${path} differs from ${parts[0].path} in ${k}: ${stats.meta[k]} vs ${first[k]}`);
    }
    if (stats.meta.position !== undefined)
      throw new PssError(`${path} is a checkpoint of an unfinished run; finish it with --resume first`);
    acc.merge(stats.acc);
  }
  const datasets = [...new Set(parts.map((p) => p.stats.meta.dataset))];
  return {
    acc,
    meta: {
      ...first,
      dataset: datasets.join(' + '),
      skipped: parts.reduce((s, p) => s + p.stats.meta.skipped, 0),
      shard: `merged from ${parts.map((p) => p.stats.meta.shard ?? p.path).join(', ')}`,
      position: undefined,
      batch: undefined,
    },
  };
}
