/**
 * The statistics file: per-filter mean, std and M2 (for exact merges) as float64
 * safetensors, with the identity of what they describe — model, weights hash, aggregation,
 * preprocessing, dataset — so they are never applied to something else.
 */
import { PssError } from '../errors.js';
import { readFileChecked, writeFileAtomic } from '../io/files.js';
import type { Model } from '../models/model.js';
import { parseSafeTensors, serializeSafeTensors, toFloat64 } from '../models/safetensors.js';
import type { Aggregation } from '../saliency/aggregation.js';
import { RunningStats } from './welford.js';

export const STATS_FORMAT = 'pss-stats/1';

export interface StatsMeta {
  model: string;
  /** Model.weightsHash(), or "unknown" for statistics from elsewhere. */
  weightsHash: string;
  aggregation: Aggregation;
  filters: number;
  preprocessing: string;
  dataset: string;
  /** Items that could not be read and were skipped. */
  skipped: number;
  /** "i/n" for one shard, "merged from ..." after a merge. */
  shard?: string;
  /** For checkpoints: dataset items consumed so far (read or skipped), and the batch size. */
  position?: number;
  batch?: number;
}

export interface Statistics {
  meta: StatsMeta;
  acc: RunningStats;
}

export function serializeStats({ meta, acc }: Statistics): Uint8Array {
  const metadata: Record<string, string> = { format: STATS_FORMAT, count: String(acc.count) };
  for (const [k, v] of Object.entries(meta)) if (v !== undefined) metadata[k] = String(v);
  const vec = (data: Float64Array) => ({ dtype: 'F64' as const, shape: [data.length], data });
  return serializeSafeTensors({ mean: vec(acc.mean), std: vec(acc.std()), m2: vec(acc.m2) }, metadata);
}

export async function writeStats(path: string, stats: Statistics): Promise<void> {
  await writeFileAtomic(path, serializeStats(stats));
}

export function parseStats(bytes: Uint8Array, path: string): Statistics {
  const st = parseSafeTensors(bytes, `statistics file ${path}`);
  const m = st.metadata;
  if (m.format !== STATS_FORMAT)
    throw new PssError(`${path} is not a pss statistics file (format "${m.format ?? 'missing'}")`);
  const get = (k: string) => {
    const t = st.tensors.get(k);
    if (!t) throw new PssError(`statistics file ${path} has no "${k}" tensor`);
    return toFloat64(t);
  };
  const mean = get('mean');
  const m2 = get('m2');
  const num = (k: string) => (m[k] === undefined ? undefined : Number(m[k]));
  const acc = RunningStats.from(num('count') ?? 0, mean, m2);
  return {
    acc,
    meta: {
      model: m.model,
      weightsHash: m.weightsHash,
      aggregation: m.aggregation as Aggregation,
      filters: num('filters') ?? mean.length,
      preprocessing: m.preprocessing,
      dataset: m.dataset,
      skipped: num('skipped') ?? 0,
      shard: m.shard,
      position: num('position'),
      batch: num('batch'),
    },
  };
}

export async function readStats(path: string): Promise<Statistics> {
  return parseStats(await readFileChecked(path, 'statistics file'), path);
}

/** Throws a PssError naming the difference when the statistics do not describe this model and aggregation. */
export function checkStatsFor(stats: Statistics, model: Model, aggregation: Aggregation, path: string): void {
  const { meta } = stats;
  if (meta.filters !== model.filterCount)
    throw new PssError(
      `${path} has statistics for ${meta.filters} filters; ${model.name} has ${model.filterCount}`,
    );
  if (meta.model !== model.name)
    throw new PssError(`${path} holds statistics for ${meta.model}; this is ${model.name}`);
  if (meta.weightsHash !== 'unknown' && meta.weightsHash !== model.weightsHash())
    throw new PssError(
      `${path} was computed for ${meta.model} with other weights (hash ${meta.weightsHash.slice(0, 12)}); this is ${model.name} (hash ${model.weightsHash().slice(0, 12)})`,
    );
  if (meta.aggregation !== aggregation)
    throw new PssError(
      `${path} holds ${meta.aggregation} statistics; this run uses --aggregation ${aggregation}`,
    );
  if (stats.acc.count < 2)
    throw new PssError(`${path} summarises ${stats.acc.count} image(s); at least 2 are needed`);
}
