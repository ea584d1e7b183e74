/**
 * prune.csv: one row per (image, strategy, k), appended as images finish; on --resume, the
 * images whose rows are all there are kept and the rest redone.
 */
import { existsSync } from 'node:fs';
import { PssError } from '../errors.js';
import { readTextChecked } from '../io/files.js';
import { csvLine, parseCsv } from './csv.js';
import { STRATEGIES, type Strategy } from './prune-orders.js';

export interface PruneRow {
  /** Dataset index. */
  image: number;
  id: string;
  label: number;
  /** The prediction with every filter on. */
  predicted: number;
  strategy: Strategy;
  /** Filters turned off. */
  k: number;
  /** The filter turned off at this step, "layer:index", and its z. */
  filter: string;
  z: number;
  newPredicted: number;
  corrected: boolean;
  /** Probability of the true class and of the original prediction after the change... */
  pTrue: number;
  pPredicted: number;
  /** ...and their change from the unpruned model. */
  dTrue: number;
  dPredicted: number;
}

const COLUMNS = [
  'image',
  'id',
  'label',
  'predicted',
  'strategy',
  'k',
  'filter',
  'z',
  'new_predicted',
  'corrected',
  'p_true',
  'p_predicted',
  'd_p_true',
  'd_p_predicted',
] as const;

export const PRUNE_CSV_HEADER = COLUMNS.join(',');

export const pruneRowLine = (r: PruneRow) =>
  csvLine([
    r.image,
    r.id,
    r.label,
    r.predicted,
    r.strategy,
    r.k,
    r.filter,
    r.z,
    r.newPredicted,
    r.corrected,
    r.pTrue,
    r.pPredicted,
    r.dTrue,
    r.dPredicted,
  ]);

/** Rows of a prune CSV; incomplete or malformed lines are dropped. */
export function parsePruneCsv(text: string): PruneRow[] {
  const { rows, complete } = parseCsv(text);
  if (!rows.length || rows[0].join(',') !== PRUNE_CSV_HEADER) return [];
  const out: PruneRow[] = [];
  for (let i = 1; i < rows.length; i++) {
    const f = rows[i];
    if (!complete[i] || f.length !== COLUMNS.length) continue;
    const n = (j: number) => Number(f[j]);
    const strategy = f[4] as Strategy;
    if (
      !STRATEGIES.includes(strategy) ||
      [0, 2, 3, 5, 7, 8, 10, 11, 12, 13].some((j) => !Number.isFinite(n(j)))
    )
      continue;
    out.push({
      image: n(0),
      id: f[1],
      label: n(2),
      predicted: n(3),
      strategy,
      k: n(5),
      filter: f[6],
      z: n(7),
      newPredicted: n(8),
      corrected: f[9] === '1',
      pTrue: n(10),
      pPredicted: n(11),
      dTrue: n(12),
      dPredicted: n(13),
    });
  }
  return out;
}

const ORDER = new Map(STRATEGIES.map((s, i) => [s, i]));

/** Rows in file order: by image, strategy, k. */
export const sortPruneRows = (rows: PruneRow[]) =>
  rows.sort((a, b) => a.image - b.image || ORDER.get(a.strategy)! - ORDER.get(b.strategy)! || a.k - b.k);

/**
 * The rows of an earlier run worth keeping: those of the images in `wanted` whose
 * `perImage` rows are all in `csv`. The earlier run must have the same identity (run.json).
 */
export async function resumableRows(
  metaPath: string,
  csv: string,
  identity: Record<string, unknown>,
  wanted: ReadonlySet<number>,
  perImage: number,
): Promise<PruneRow[]> {
  if (!existsSync(metaPath) || !existsSync(csv)) return [];
  const old = await readTextChecked(metaPath, 'prune run file');
  if (old !== JSON.stringify(identity, null, 1)) {
    let was: Record<string, unknown>;
    try {
      was = JSON.parse(old) as Record<string, unknown>;
    } catch {
      throw new PssError(`${metaPath} is damaged (not JSON); drop --resume or use another --out`);
    }
    const diff = Object.keys({ ...was, ...identity }).find(
      (key) => JSON.stringify(was[key]) !== JSON.stringify(identity[key]),
    );
    throw new PssError(
      `${metaPath} is from a run with ${diff} = ${JSON.stringify(was[diff!])}, not ${JSON.stringify(identity[diff!])}; drop --resume or use another --out`,
    );
  }
  const byImage = new Map<number, PruneRow[]>();
  for (const r of parsePruneCsv(await readTextChecked(csv, 'prune results file'))) {
    if (!wanted.has(r.image)) continue;
    const list = byImage.get(r.image) ?? [];
    list.push(r);
    byImage.set(r.image, list);
  }
  const kept: PruneRow[] = [];
  for (const list of byImage.values()) {
    const seen = new Set(list.map((r) => `${r.strategy}:${r.k}`));
    if (seen.size === perImage && list.length === perImage) kept.push(...list);
  }
  return sortPruneRows(kept);
}
