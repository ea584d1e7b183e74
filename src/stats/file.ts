/**
 * The statistics file: per-filter (or per-parameter) mean, std and M2 (for exact merges) as
 * float64 safetensors, with the identity of what they describe — model, weights hash,
 * aggregation, the saliency target, preprocessing, dataset and the items covered — so they are
 * never applied to something else, nor merged with themselves; and, for POT, each unit's upper
 * tail (tensor "tails", float32 [units, width], stats/tails.ts). Whatever wrote a file, it is
 * checked in full on reading: a bad value is one line naming the file, the tensor or field,
 * and the index.
 */
import { PssError } from '../errors.js';
import { readFileChecked, writeFileAtomic } from '../io/files.js';
import {
  parseSafeTensors,
  type StTensor,
  serializeSafeTensors,
  type TensorToWrite,
  toFloat32,
  toFloat64,
} from '../io/safetensors.js';
import { isUnitSet, UNIT_SETS, type UnitSet } from '../models/units.js';
import { AGGREGATIONS, type Aggregation, isAggregation } from '../saliency/aggregation.js';
import { type Coverage, coveredItems, formatCoverage, parseCoverage } from './coverage.js';
import { checkTailRows, fitsTensor, readFits, type Tails } from './tails.js';
import { RunningStats } from './welford.js';

export const STATS_FORMAT = 'pss-stats/1';

export interface StatsMeta {
  model: string;
  /** Model.weightsHash(), or "unknown" for statistics from elsewhere. */
  weightsHash: string;
  aggregation: Aggregation;
  /**
   * Whose loss the saliency differentiates (saliency/target.ts: "true", "predicted", "class:c");
   * files written before it was recorded used the true label.
   */
  target?: string;
  /** Values per vector: units, or parameter elements for the `parameter` aggregation. */
  filters: number;
  /** The units the vector covers (DESIGN §1.3); files written before it was recorded: filters. */
  units?: UnitSet;
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
  /** Each unit's upper tail, for POT; absent when not kept (--no-tails, older files). */
  tails?: Tails;
}

/** Metadata fields of the quantile the tails were sized for and of their capacity. */
const TAIL_QUANTILE = 'tailQuantile';
const TAIL_CAPACITY = 'tailCapacity';
/** Metadata field of the quantiles of the tensor "pot_fits" (JSON list). */
const POT_QUANTILES = 'potQuantiles';

export function serializeStats({ meta, acc, tails }: Statistics): Uint8Array {
  const metadata: Record<string, string> = { format: STATS_FORMAT, count: String(acc.count) };
  for (const [k, v] of Object.entries(meta))
    if (v !== undefined) metadata[k] = k === 'coverage' ? formatCoverage(v as Coverage[]) : String(v);
  const vec = (data: Float64Array) => ({ dtype: 'F64' as const, shape: [data.length], data });
  // Per-parameter statistics skip std (it follows from m2 and count): ResNet-50's would add 205 MB.
  const tensors: Record<string, TensorToWrite> = { mean: vec(acc.mean) };
  if (meta.aggregation !== 'parameter') tensors.std = vec(acc.std());
  tensors.m2 = vec(acc.m2);
  if (tails) {
    if (tails.count !== acc.count || tails.units !== acc.size)
      throw new Error(
        `tails of ${tails.count} x ${tails.units} values beside statistics of ${acc.count} x ${acc.size}`,
      );
    metadata[TAIL_QUANTILE] = String(tails.quantile);
    metadata[TAIL_CAPACITY] = String(tails.capacity);
    tensors.tails = { dtype: 'F32', shape: [tails.units, tails.width], data: tails.values };
    if (tails.fits?.length) {
      metadata[POT_QUANTILES] = JSON.stringify(tails.fits.map((f) => f.q));
      tensors.pot_fits = {
        dtype: 'F64',
        shape: [tails.fits.length, 4, tails.units],
        data: fitsTensor(tails.fits, tails.units),
      };
    }
  }
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
  const units = field('units', false) ?? 'filters';
  if (!isUnitSet(units))
    fail(`metadata field "units" is "${units}", not one of ${Object.keys(UNIT_SETS).join(', ')}`);
  const target = field('target', false);
  if (target !== undefined && !/^(true|predicted|class:\d+)$/.test(target))
    fail(`metadata field "target" is "${target}", not true, predicted or class:<index>`);
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
    tails: withStoredFits(
      readTails(
        st.tensors.get('tails'),
        field(TAIL_QUANTILE, false),
        field(TAIL_CAPACITY, false),
        filters,
        count,
        fail,
      ),
      st.tensors.get('pot_fits'),
      field(POT_QUANTILES, false),
      fail,
    ),
    meta: {
      model,
      weightsHash,
      aggregation: aggregation as Aggregation,
      // Files from before it was recorded used the true label.
      target: target ?? 'true',
      filters,
      units: units as UnitSet,
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

/**
 * Statistics of one target's saliency say nothing about another's: refused by name. Files
 * that record none were computed with the true label.
 */
export function checkStatsTarget(
  stats: { path: string; stats: Statistics } | undefined,
  target: string,
): void {
  if (!stats) return;
  const recorded = stats.stats.meta.target ?? 'true';
  if (recorded !== target)
    throw new PssError(
      `${stats.path} holds statistics of saliency with --target ${recorded}; this run uses --target ${target} (compute statistics with the same --target)`,
    );
}

/**
 * The statistics a run of `target` may standardise by: given ones of another target are
 * refused (checkStatsTarget); found ones (a bundled model's, computed with the true label) are
 * left out, and the run goes unstandardised, saying so as it does without statistics.
 */
export function statsForTarget<T extends { path: string; stats: Statistics }>(
  stats: T | undefined,
  target: string,
  given: boolean,
): T | undefined {
  if (!stats) return undefined;
  if (given) {
    checkStatsTarget(stats, target);
    return stats;
  }
  return (stats.stats.meta.target ?? 'true') === target ? stats : undefined;
}

/**
 * The tails tensor, its quantile and capacity: all or none; [filters, min(count, capacity)],
 * F32, rows ascending.
 */
function readTails(
  t: StTensor | undefined,
  quantileText: string | undefined,
  capacityText: string | undefined,
  filters: number,
  count: number,
  fail: (why: string) => never,
): Tails | undefined {
  if (!t && quantileText === undefined) return undefined;
  if (!t) return fail(`metadata field "${TAIL_QUANTILE}" is there but the "tails" tensor is not`);
  if (quantileText === undefined) return fail(`a "tails" tensor without metadata field "${TAIL_QUANTILE}"`);
  if (capacityText === undefined) return fail(`a "tails" tensor without metadata field "${TAIL_CAPACITY}"`);
  const quantile = Number(quantileText);
  if (!(quantile > 0 && quantile < 1))
    fail(`metadata field "${TAIL_QUANTILE}" is "${quantileText}", not a number in (0, 1)`);
  const capacity = Number(capacityText);
  if (!(Number.isInteger(capacity) && capacity >= 1 && /^\d+$/.test(capacityText)))
    fail(`metadata field "${TAIL_CAPACITY}" is "${capacityText}", not an integer >= 1`);
  if (t.dtype !== 'F32') fail(`tensor "tails" is ${t.dtype}; pss keeps tails as F32`);
  const [units, width] = t.shape;
  const expect = Math.min(count, capacity);
  if (t.shape.length !== 2 || units !== filters || width !== expect)
    fail(
      `tensor "tails" has shape [${t.shape.join(', ')}]; it should be [${filters}, ${expect}] (filters, the smaller of images and ${TAIL_CAPACITY})`,
    );
  const tails: Tails = { values: toFloat32(t), units, width, count, quantile, capacity };
  checkTailRows(tails, fail);
  return tails;
}

/** The tails with the fits the file kept ("pot_fits" and its quantiles: both or neither, and only with tails). */
function withStoredFits(
  tails: Tails | undefined,
  t: StTensor | undefined,
  quantilesText: string | undefined,
  fail: (why: string) => never,
): Tails | undefined {
  if (!t && quantilesText === undefined) return tails;
  if (!t || quantilesText === undefined)
    return fail(
      `the "pot_fits" tensor and metadata field "${POT_QUANTILES}" come together; this file has one of them`,
    );
  if (!tails) return fail('a "pot_fits" tensor without "tails"');
  let qs: unknown;
  try {
    qs = JSON.parse(quantilesText);
  } catch {
    qs = undefined;
  }
  if (!Array.isArray(qs) || !qs.every((q) => typeof q === 'number' && q > 0 && q < 1))
    return fail(
      `metadata field "${POT_QUANTILES}" is "${quantilesText}", not a JSON list of numbers in (0, 1)`,
    );
  if (t.dtype !== 'F64') fail(`tensor "pot_fits" is ${t.dtype}; pss keeps fits as F64`);
  return { ...tails, fits: readFits(toFloat64(t), t.shape, qs as number[], tails, fail) };
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
