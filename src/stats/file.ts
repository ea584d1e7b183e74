/**
 * The statistics file: per-filter (or per-parameter) mean, std and M2 (for exact merges) as
 * float64 safetensors, with the identity of what they describe — model, weights hash,
 * aggregation, preprocessing, dataset and the items covered — so they are never applied to
 * something else, nor merged with themselves. Whatever wrote a file, it is checked in full on
 * reading: a bad value is one line naming the file, the tensor or field, and the index.
 */
import { PssError } from '../errors.js';
import { readFileChecked, writeFileAtomic } from '../io/files.js';
import { parseSafeTensors, serializeSafeTensors, type TensorToWrite, toFloat64 } from '../io/safetensors.js';
import { AGGREGATIONS, type Aggregation, isAggregation } from '../saliency/aggregation.js';
import { type Coverage, coveredItems, formatCoverage, parseCoverage } from './coverage.js';
import { RunningStats } from './welford.js';

export const STATS_FORMAT = 'pss-stats/1';

export interface StatsMeta {
  model: string;
  /** Model.weightsHash(), or "unknown" for statistics from elsewhere. */
  weightsHash: string;
  aggregation: Aggregation;
  /** Values per vector: filters, or parameter elements for the `parameter` aggregation. */
  filters: number;
  /** The model's preprocessing as JSON (preprocessingOf), or a description (the authors' files). */
  preprocessing: string;
  dataset: string;
  /** Items that could not be read and were skipped. */
  skipped: number;
  /** "i/n" for one shard, "merged from ..." after a merge. */
  shard?: string;
  /** The dataset items summarised; unknown (undefined) in files written before it was recorded. */
  coverage?: Coverage[];
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
  for (const [k, v] of Object.entries(meta))
    if (v !== undefined) metadata[k] = k === 'coverage' ? formatCoverage(v as Coverage[]) : String(v);
  const vec = (data: Float64Array) => ({ dtype: 'F64' as const, shape: [data.length], data });
  // Per-parameter statistics skip std (it follows from m2 and count): ResNet-50's would add 205 MB.
  const tensors: Record<string, TensorToWrite> = { mean: vec(acc.mean) };
  if (meta.aggregation !== 'parameter') tensors.std = vec(acc.std());
  tensors.m2 = vec(acc.m2);
  return serializeSafeTensors(tensors, metadata);
}

export async function writeStats(path: string, stats: Statistics): Promise<void> {
  await writeFileAtomic(path, serializeStats(stats));
}

/** Relative disagreement allowed between a file's std and sqrt(m2 / (count − 1)). */
const STD_TOLERANCE = 1e-9;

export function parseStats(bytes: Uint8Array, path: string): Statistics {
  const where = `statistics file ${path}`;
  const fail = (why: string): never => {
    throw new PssError(`${where}: ${why}`);
  };
  const st = parseSafeTensors(bytes, where);
  const m = st.metadata;
  if (m.format !== STATS_FORMAT)
    throw new PssError(`${path} is not a pss statistics file (format "${m.format ?? 'missing'}")`);

  const field = (k: string, required = true): string | undefined => {
    const v = m[k];
    if (v === undefined && required) fail(`metadata field "${k}" is missing`);
    if (v !== undefined && typeof v !== 'string') fail(`metadata field "${k}" is not a string`);
    return v;
  };
  const text = (k: string) => {
    const v = field(k)!;
    return v.trim() ? v : fail(`metadata field "${k}" is empty`);
  };
  const int = (k: string, min: number, required = true): number | undefined => {
    const v = field(k, required);
    if (v === undefined) return undefined;
    const n = Number(v);
    return /^\d+$/.test(v) && Number.isSafeInteger(n) && n >= min
      ? n
      : fail(`metadata field "${k}" is "${v}", not an integer >= ${min}`);
  };

  const count = int('count', 0)!;
  const model = text('model');
  const weightsHash = text('weightsHash');
  if (weightsHash !== 'unknown' && !/^[0-9a-f]{64}$/.test(weightsHash))
    fail(`metadata field "weightsHash" is "${weightsHash}", not a SHA-256 (64 hex digits) or "unknown"`);
  const aggregation = text('aggregation');
  if (!isAggregation(aggregation))
    fail(
      `metadata field "aggregation" is "${aggregation}", not one of ${Object.keys(AGGREGATIONS).join(', ')}`,
    );
  const filters = int('filters', 1)!;
  const preprocessing = text('preprocessing');
  checkPreprocessingJson(preprocessing, fail);
  const dataset = text('dataset');
  const skipped = int('skipped', 0, false) ?? 0;
  const shard = field('shard', false);
  if (shard !== undefined && !/^merged from /.test(shard)) {
    const s = /^(\d+)\/(\d+)$/.exec(shard);
    if (!s || Number(s[1]) >= Number(s[2]))
      fail(`metadata field "shard" is "${shard}", not i/n with 0 <= i < n or "merged from ..."`);
  }
  const coverageText = field('coverage', false);
  const coverage = coverageText === undefined ? undefined : parseCoverage(coverageText, where);
  const position = int('position', 0, false);
  const batch = int('batch', 1, false);
  if (coverage) {
    const covered = coveredItems(coverage);
    if (covered !== count + skipped || (position !== undefined && position !== covered))
      fail(
        `it covers ${covered} dataset items (metadata field "coverage") but counts ${count} images and ${skipped} skipped${position === undefined ? '' : `, position ${position}`}`,
      );
  }

  const vector = (name: string, required: boolean): Float64Array | undefined => {
    const t = st.tensors.get(name);
    if (!t) return required ? fail(`no "${name}" tensor`) : undefined;
    if (t.dtype !== 'F64') fail(`tensor "${name}" is ${t.dtype}; pss statistics are F64`);
    if (t.shape.length !== 1 || t.shape[0] !== filters)
      fail(`tensor "${name}" has shape [${t.shape.join(', ')}]; metadata field "filters" says ${filters}`);
    const v = toFloat64(t);
    for (let i = 0; i < v.length; i++) {
      if (!Number.isFinite(v[i])) fail(`${name}[${i}] is ${v[i]}; statistics must be finite numbers`);
      if (name !== 'mean' && v[i] < 0)
        fail(
          `${name}[${i}] is ${v[i]}; ${name === 'm2' ? 'a sum of squares' : 'a standard deviation'} cannot be negative`,
        );
    }
    return v;
  };
  const mean = vector('mean', true)!;
  const m2 = vector('m2', true)!;
  // Written for other tools; pss itself uses sqrt(m2 / (count − 1)), so the two must agree.
  const std = vector('std', aggregation !== 'parameter');
  for (let i = 0; i < m2.length; i++) {
    if (count < 2 && m2[i] !== 0) fail(`m2[${i}] is ${m2[i]}, but ${count} image(s) have no spread`);
    if (!std) continue;
    const want = count < 2 ? 0 : Math.sqrt(m2[i] / (count - 1));
    if (Math.abs(std[i] - want) > STD_TOLERANCE * want)
      fail(`std[${i}] is ${std[i]}, but m2 and count give ${want}`);
  }
  return {
    acc: RunningStats.adopt(count, mean, m2),
    meta: {
      model,
      weightsHash,
      aggregation: aggregation as Aggregation,
      filters,
      preprocessing,
      dataset,
      skipped,
      shard,
      coverage,
      position,
      batch,
    },
  };
}

/** pss writes its preprocessing as JSON: {resize, mean, std, input}; each checked. */
function checkPreprocessingJson(text: string, fail: (why: string) => never): void {
  let p: Record<string, unknown>;
  try {
    p = JSON.parse(text);
  } catch {
    fail(`metadata field "preprocessing" is not JSON: ${text.slice(0, 60)}`);
    return;
  }
  const bad = (why: string) => fail(`metadata field "preprocessing" ${why}`);
  if (typeof p !== 'object' || p === null || Array.isArray(p)) bad('is not a JSON object');
  /** `length`: a list of that many (any when 0); undefined: one number. */
  const numbers = (k: string, ok: (x: number) => boolean, length?: number) => {
    const v = p[k];
    const list = length === undefined ? [v] : Array.isArray(v) ? v : [];
    const okLength = length === undefined || (list.length > 0 && (length === 0 || list.length === length));
    if (!okLength || !list.every((x) => typeof x === 'number' && ok(x))) bad(`has ${k} ${JSON.stringify(v)}`);
  };
  numbers('resize', (x) => Number.isInteger(x) && x > 0);
  numbers('input', (x) => Number.isInteger(x) && x > 0, 3);
  numbers('mean', Number.isFinite, 0);
  numbers('std', (x) => Number.isFinite(x) && x > 0, 0);
}

export async function readStats(path: string): Promise<Statistics> {
  return parseStats(await readFileChecked(path, 'statistics file'), path);
}
