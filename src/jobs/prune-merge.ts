/**
 * Merging the shards of a split pruning run (`pss prune --shard ... --out-dir DIR`): every
 * shard 0..n−1 once, each finished (its summary.json there and its prune.csv complete), all
 * of one run (the same run.json but for the shard), together covering the dataset as the n
 * contiguous shards do. The result is what one run over the whole dataset writes: its rows
 * in the same order, its summary computed from them.
 */
import { join } from 'node:path';
import { shardRange } from '../data/dataset.js';
import { PssError } from '../errors.js';
import { readTextChecked } from '../io/files.js';
import { findShards, PRUNE_SHARDS } from '../io/shards.js';
import { PRUNE_CSV_HEADER, type PruneRow, parsePruneCsv, pruneRowLine, sortPruneRows } from './prune-csv.js';
import { STRATEGIES } from './prune-orders.js';
import { PRUNE_FILES, type PruneReport, summarizePrune } from './prune-summary.js';

export interface MergedPrune {
  /** run.json of the whole run. */
  identity: Record<string, unknown>;
  report: PruneReport;
  rows: PruneRow[];
  /** prune.csv. */
  csv: string;
  shards: number;
}

interface Shard {
  path: string;
  index: number;
  count: number;
  identity: Record<string, unknown>;
  report: PruneReport;
  rows: PruneRow[];
}

const FOREIGN = 'a shard of another run; a shard directory holds the shards of one command';

async function readJson(path: string, what: string, rerun: string): Promise<Record<string, unknown>> {
  const text = await readTextChecked(path, what);
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {}
  throw new PssError(`${path} is damaged (not a JSON object); ${rerun}`);
}

async function readShard(path: string, index: number, count: number): Promise<Shard> {
  const rerun = `rerun shard ${index}/${count} with the same command and --resume`;
  const identity = await readJson(join(path, PRUNE_FILES.run), 'prune run file', rerun);
  if (identity.shard !== `${index}/${count}`)
    throw new PssError(
      `${path} is named shard ${index}/${count} but its ${PRUNE_FILES.run} is of ${identity.shard === undefined ? 'a whole run' : `shard ${identity.shard}`}: copied or renamed; keep each shard under the name pss gave it`,
    );
  const summaryPath = join(path, PRUNE_FILES.summary);
  const report = (await readJson(summaryPath, 'prune summary', rerun).catch((e) => {
    if (e instanceof PssError && / not found: /.test(e.message))
      throw new PssError(
        `shard ${index}/${count} (${path}) has not finished: it has no ${PRUNE_FILES.summary}; ${rerun}`,
      );
    throw e;
  })) as unknown as PruneReport;
  const items = report.items;
  const okItems =
    Array.isArray(items) &&
    items.length === 2 &&
    items.every((x) => Number.isSafeInteger(x) && x >= 0) &&
    items[0] <= items[1];
  const okNumbers = [report.images, report.skipped, report.misclassified, report.resumed].every(
    (x) => Number.isSafeInteger(x) && x >= 0,
  );
  if (report.shard !== identity.shard || !okItems || !okNumbers)
    throw new PssError(
      `${summaryPath} is not the summary of shard ${index}/${count} (no shard, items or counts); ${rerun}`,
    );
  const rows = parsePruneCsv(await readTextChecked(join(path, PRUNE_FILES.csv), 'prune results file'));
  const perImage = STRATEGIES.length * Number(identity.k);
  const byImage = new Map<number, number>();
  for (const r of rows) byImage.set(r.image, (byImage.get(r.image) ?? 0) + 1);
  const complete = [...byImage].filter(
    ([image, n]) => n === perImage && image >= items[0] && image < items[1],
  );
  if (complete.length !== report.misclassified || rows.length !== report.misclassified * perImage)
    throw new PssError(
      `${join(path, PRUNE_FILES.csv)} holds ${rows.length} rows (${complete.length} images complete), but its ${PRUNE_FILES.summary} counts ${report.misclassified} misclassified images of ${perImage} rows each: changed after the run; ${rerun}`,
    );
  return { path, index, count, identity, report, rows };
}

/** The first key in which two run.json differ, shard aside. */
function differs(a: Record<string, unknown>, b: Record<string, unknown>): string | undefined {
  return Object.keys({ ...a, ...b }).find(
    (k) => k !== 'shard' && JSON.stringify(a[k]) !== JSON.stringify(b[k]),
  );
}

export async function mergePruneShards(dir: string): Promise<MergedPrune> {
  const shards: Shard[] = [];
  for (const { path, index, count } of await findShards(dir, PRUNE_SHARDS))
    shards.push(await readShard(path, index, count));
  const [first] = shards;
  for (const s of shards) {
    const key = differs(first.identity, s.identity);
    if (key !== undefined)
      throw new PssError(
        `${s.path} is from a run with ${key} = ${JSON.stringify(s.identity[key])}, and ${first.path} with ${JSON.stringify(first.identity[key])}: ${FOREIGN}`,
      );
  }
  const n = shards.length;
  const length = shards[n - 1].report.items![1];
  for (const s of shards) {
    const [begin, end] = shardRange(length, [s.index, n]);
    const [b, e] = s.report.items!;
    if (b !== begin || e !== end)
      throw new PssError(
        `${s.path} covers dataset items [${b}, ${e}), but shard ${s.index}/${n} of ${length} items is [${begin}, ${end}): ${FOREIGN}`,
      );
  }
  const rows = sortPruneRows(shards.flatMap((s) => s.rows));
  const sum = (f: (r: PruneReport) => number) => shards.reduce((a, s) => a + f(s.report), 0);
  const images = sum((r) => r.images);
  const misclassified = sum((r) => r.misclassified);
  const { shard: _shard, items: _items, ...whole } = first.report;
  const report: PruneReport = {
    ...whole,
    images,
    skipped: sum((r) => r.skipped),
    accuracy: images ? (images - misclassified) / images : 0,
    misclassified,
    resumed: sum((r) => r.resumed),
    // Computing time of all shards together.
    seconds: Math.round(sum((r) => r.seconds) * 10) / 10,
    results: summarizePrune(rows, Number(first.identity.k)),
  };
  const { shard: _s, ...identity } = first.identity;
  const csv = [PRUNE_CSV_HEADER, ...rows.map(pruneRowLine)].join('\n') + '\n';
  return { identity, report, rows, csv, shards: n };
}
