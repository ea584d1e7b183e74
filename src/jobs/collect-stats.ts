/**
 * Validation statistics over a dataset: per-sample saliency in batches (the next batch
 * decodes while the current one runs), Welford accumulation and each unit's upper tail (for
 * POT, stats/tails.ts), checkpoints at batch boundaries so that a resumed run processes
 * exactly the same batches — and so gives exactly the same statistics — as an uninterrupted one.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { type Dataset, shardRange } from '../data/dataset.js';
import { PssError } from '../errors.js';
import { checkWritable } from '../io/files.js';
import type { Aggregation } from '../saliency/aggregation.js';
import { saliencyLength } from '../saliency/aggregation.js';
import type { SaliencyEngine } from '../saliency/engine.js';
import { DEFAULT_TARGET, type Target, targetText } from '../saliency/target.js';
import { preprocessingOf } from '../stats/check.js';
import { readStats, type Statistics, type StatsMeta, writeStats } from '../stats/file.js';
import { DEFAULT_TAIL_QUANTILE, TailKeeper, type Tails, tailCapacity, withFits } from '../stats/tails.js';
import { RunningStats } from '../stats/welford.js';

export interface CollectOptions {
  aggregation: Aggregation;
  /** Whose loss (default the true label). */
  target?: Target;
  /**
   * Keep each unit's values above this quantile, exactly, for POT (default 0.85); false keeps
   * none. Never with the `parameter` aggregation.
   */
  tailQuantile?: number | false;
  batch: number;
  shard?: readonly [number, number];
  /** Where checkpoints go; none when undefined. */
  checkpoint?: string;
  /** Images between checkpoints (rounded up to whole batches). */
  checkpointEvery?: number;
  /** Continue from the checkpoint if it exists. */
  resume?: boolean;
  /** Stop at the first unreadable image instead of skipping it. */
  strict?: boolean;
  onProgress?: (p: { done: number; total: number; skipped: number }) => void;
  /** Progress of the POT fits done once the images are (units fitted at quantile q). */
  onFit?: (q: number, done: number, total: number) => void;
  /** Called for each skipped item. */
  onSkip?: (id: string, reason: string) => void;
}

export interface CollectResult extends Statistics {
  skippedItems: { id: string; reason: string }[];
  resumedFrom: number;
}

export async function collectStats(
  engine: SaliencyEngine,
  data: Dataset,
  o: CollectOptions,
): Promise<CollectResult> {
  const model = engine.model;
  const [begin, end] = shardRange(data.length, o.shard);
  const size = saliencyLength(model, o.aggregation);
  const dataset = data.identity ?? data.description;
  const meta: StatsMeta = {
    model: model.name,
    weightsHash: model.weightsHash(),
    aggregation: o.aggregation,
    target: targetText(o.target ?? DEFAULT_TARGET),
    filters: size,
    units: model.units,
    preprocessing: preprocessingOf(model),
    dataset: data.description,
    skipped: 0,
    shard: o.shard ? `${o.shard[0]}/${o.shard[1]}` : undefined,
    batch: o.batch,
  };
  /** The items [begin, begin + n) as the file records them. */
  const covering = (n: number) => [
    { dataset, ranges: n > 0 ? [[begin, begin + n] as [number, number]] : [] },
  ];
  if (o.checkpoint) await checkWritable(o.checkpoint);
  let acc = new RunningStats(size);
  const q = o.aggregation === 'parameter' ? false : (o.tailQuantile ?? DEFAULT_TAIL_QUANTILE);
  // Sized for the whole dataset, so that every shard keeps what a merge needs (stats/tails.ts).
  let tails = q === false ? undefined : new TailKeeper(size, tailCapacity(data.length, q), q);
  let position = 0;
  const skippedItems: { id: string; reason: string }[] = [];
  if (o.resume && o.checkpoint && existsSync(o.checkpoint)) {
    const ck = await readStats(o.checkpoint);
    checkCheckpoint(o.checkpoint, ck.meta, meta);
    // A checkpoint without tails (--no-tails, or a pss before them) goes on without.
    if (ck.tails) checkCheckpointTails(o.checkpoint, ck.tails, tails);
    acc = ck.acc;
    tails = ck.tails && TailKeeper.resume(ck.tails);
    position = ck.meta.position ?? 0;
    meta.skipped = ck.meta.skipped;
  }
  const resumedFrom = position;
  const total = end - begin;
  const [c, h, w] = model.arch.inputShape;
  const per = c * h * w;
  const every = Math.max(o.batch, o.checkpointEvery ?? 1000);
  let sinceCheckpoint = 0;

  const load = async (from: number) => {
    const items = [];
    for (let i = from; i < Math.min(from + o.batch, total); i++) items.push(data.item(begin + i));
    const loaded = await Promise.all(
      items.map(async (s) => {
        try {
          return { s, x: await s.load() };
        } catch (e) {
          if (o.strict || !(e instanceof PssError)) throw e;
          return { s, error: e.message };
        }
      }),
    );
    return { from, count: items.length, loaded };
  };

  // Decode ahead while a batch runs; a failure surfaces when that batch is awaited.
  const prefetch = (from: number) => {
    if (from >= total) return undefined;
    const p = load(from);
    p.catch(() => {});
    return p;
  };
  let next = prefetch(position);
  while (next) {
    const batch = await next;
    position = batch.from + batch.count;
    next = prefetch(position);
    const ok = batch.loaded.filter((l) => l.x);
    for (const l of batch.loaded) {
      if (l.error) {
        skippedItems.push({ id: l.s.id, reason: l.error });
        meta.skipped += 1;
        o.onSkip?.(l.s.id, l.error);
      }
    }
    if (ok.length) {
      const x = new Float32Array(ok.length * per);
      ok.forEach((l, i) => {
        x.set(l.x!, i * per);
      });
      const results = await engine.compute(
        { data: x, shape: [ok.length, c, h, w] },
        ok.map((l) => l.s.label),
        o.aggregation,
      );
      for (const r of results) {
        acc.push(r.saliency);
        tails?.push(r.saliency);
      }
    }
    sinceCheckpoint += batch.count;
    o.onProgress?.({ done: position, total, skipped: meta.skipped });
    if (o.checkpoint && sinceCheckpoint >= every && position < total) {
      await writeStats(o.checkpoint, {
        meta: { ...meta, coverage: covering(position), position },
        acc,
        tails: tails?.tails(),
      });
      sinceCheckpoint = 0;
    }
  }
  if (o.checkpoint) await rm(o.checkpoint, { force: true });
  return {
    meta: { ...meta, coverage: covering(total), batch: undefined },
    acc,
    // The fits POT needs, once: fitting is its slow part (stats/tails.ts). A shard's would be
    // thrown away by the merge, which fits the merged tails.
    tails: tails && (o.shard ? tails.tails() : withFits(tails.tails(), o.onFit)),
    skippedItems,
    resumedFrom,
  };
}

/** What a checkpoint must share with the run that resumes it, in the words of the flags. */
const RESUME_KEYS: [keyof StatsMeta, (v: unknown) => string][] = [
  ['model', (v) => `model ${v}`],
  ['weightsHash', (v) => `weights with hash ${String(v).slice(0, 12)}`],
  ['aggregation', (v) => `--aggregation ${v}`],
  ['target', (v) => `--target ${v ?? 'true'}`],
  ['units', (v) => `--units ${v ?? 'filters'}`],
  ['filters', (v) => `${v} values per image`],
  ['preprocessing', (v) => `preprocessing ${v}`],
  ['dataset', (v) => `data ${v}`],
  ['shard', (v) => (v === undefined ? 'no --shard' : `--shard ${v}`)],
  ['batch', (v) => (v === undefined ? 'no batch size recorded' : `--batch ${v}`)],
];

function checkCheckpoint(path: string, was: StatsMeta, now: StatsMeta): void {
  for (const [k, say] of RESUME_KEYS) {
    if (String(was[k]) === String(now[k])) continue;
    throw new PssError(
      `checkpoint ${path} is of a run with ${say(was[k])}, and this run has ${say(now[k])}; resume with the same flags, or drop --resume (or delete the checkpoint) to start over`,
    );
  }
  if (was.position === undefined)
    throw new PssError(`${path} is finished statistics, not a checkpoint; delete it or drop --resume`);
}

function checkCheckpointTails(path: string, was: Tails, now: TailKeeper | undefined): void {
  const say = (t: { quantile: number; capacity: number } | undefined) =>
    t ? `tails above q = ${t.quantile} (${t.capacity} values per unit)` : 'no tails (--no-tails)';
  if (was.quantile === now?.quantile && was.capacity === now?.capacity) return;
  throw new PssError(
    `checkpoint ${path} is of a run with ${say(was)}, and this run keeps ${say(now)}; resume with the same flags, or drop --resume (or delete the checkpoint) to start over`,
  );
}
