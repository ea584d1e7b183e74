/**
 * Which statistics a run standardises by: the file given (pss's own or the original authors'
 * .pth), checked against the model, the aggregation and the input size; or, without one, the
 * statistics shipped with a bundled model when they describe it.
 */
import { fileURLToPath } from 'node:url';
import { PssError } from '../errors.js';
import type { Model } from '../models/model.js';
import type { Aggregation } from '../saliency/aggregation.js';
import type { Reference } from '../saliency/standardize.js';
import { readAnyStats } from './authors.js';
import { checkStatsFor } from './check.js';
import { readStats, type Statistics } from './file.js';

/**
 * --stats: statistics that must describe this model and aggregation — a pss statistics file,
 * or one of the original authors' .pth files (stats/authors.ts). An authors' file whose name
 * names no architecture is taken to be for --model; its filter count is still checked.
 * Without --stats: the statistics shipped with a bundled model, when they describe it.
 */
export async function resolveStats(
  path: string | undefined,
  model: Model,
  aggregation: Aggregation,
): Promise<ResolvedStats | undefined> {
  if (path === undefined) return bundledStats(model, aggregation);
  const stats = await readAnyStats(path);
  if (stats.meta.model === 'unknown') stats.meta.model = model.name;
  checkStatsFor(stats, model, aggregation, path);
  return resolved(path, stats);
}

/** Statistics ready for use: the file, and the μ and σ that standardisation takes. */
export interface ResolvedStats {
  path: string;
  stats: Statistics;
  reference: Reference;
}

const resolved = (path: string, stats: Statistics): ResolvedStats => ({
  path,
  stats,
  reference: {
    mean: stats.acc.mean,
    std: stats.acc.std(),
    count: stats.acc.count,
    path,
    dataset: stats.meta.dataset,
  },
});

/**
 * Statistics collected at one input size say nothing about saliency at another (every
 * layer's gradient scales with the map sizes): an input of another size than the one the
 * statistics record is refused.
 */
export function checkInputSize(stats: ResolvedStats | undefined, input: readonly number[]): void {
  if (!stats) return;
  let recorded: unknown;
  try {
    recorded = (JSON.parse(stats.stats.meta.preprocessing) as { input?: unknown }).input;
  } catch {
    return; // a description, not pss's JSON (the authors' files): nothing recorded to compare
  }
  if (!Array.isArray(recorded) || recorded.length !== 3) return;
  const [h, w] = input.slice(-2);
  if (recorded[1] !== h || recorded[2] !== w)
    throw new PssError(
      `${stats.path} was computed on ${recorded[1]}x${recorded[2]} inputs; this input is ${h}x${w}, so its z-scores would mean nothing (give an input of that size, or statistics of this size)`,
    );
}

/** The statistics shipped with a bundled model, when they describe it (same weights and aggregation). */
async function bundledStats(model: Model, aggregation: Aggregation) {
  const bundled = model.arch.bundled?.stats;
  if (!bundled) return undefined;
  const path = fileURLToPath(bundled);
  const stats = await readStats(path);
  try {
    checkStatsFor(stats, model, aggregation, path);
  } catch {
    return undefined; // other weights or another aggregation: unstandardised, and the report says so
  }
  return resolved(path, stats);
}
