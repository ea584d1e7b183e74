/**
 * Validation statistics over a dataset: per-sample saliency in batches (the next batch
 * decodes while the current one runs), Welford accumulation, checkpoints at batch
 * boundaries so that a resumed run processes exactly the same batches — and so gives
 * exactly the same statistics — as an uninterrupted one.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { type Dataset, shardRange } from '../data/dataset.js';
import { PssError } from '../errors.js';
import type { Aggregation } from '../saliency/aggregation.js';
import type { SaliencyEngine } from '../saliency/engine.js';
import { readStats, type Statistics, type StatsMeta, writeStats } from './file.js';
import { RunningStats } from './welford.js';

export interface CollectOptions {
  aggregation: Aggregation;
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
  const meta: StatsMeta = {
    model: model.name,
    weightsHash: model.weightsHash(),
    aggregation: o.aggregation,
    filters: model.filterCount,
    preprocessing: JSON.stringify({ ...model.arch.preprocessing, input: model.arch.inputShape }),
    dataset: data.description,
    skipped: 0,
    shard: o.shard ? `${o.shard[0]}/${o.shard[1]}` : undefined,
    batch: o.batch,
  };
  let acc = new RunningStats(model.filterCount);
  let position = 0;
  const skippedItems: { id: string; reason: string }[] = [];
  if (o.resume && o.checkpoint && existsSync(o.checkpoint)) {
    const ck = await readStats(o.checkpoint);
    for (const k of ['model', 'weightsHash', 'aggregation', 'dataset', 'shard', 'batch'] as const) {
      if (String(ck.meta[k]) !== String(meta[k]))
        throw new PssError(
          `checkpoint ${o.checkpoint} is for ${k} ${ck.meta[k]}, not ${meta[k]}; delete it or drop --resume`,
        );
    }
    acc = ck.acc;
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
      for (const r of results) acc.push(r.saliency);
    }
    sinceCheckpoint += batch.count;
    o.onProgress?.({ done: position, total, skipped: meta.skipped });
    if (o.checkpoint && sinceCheckpoint >= every && position < total) {
      await writeStats(o.checkpoint, { meta: { ...meta, position }, acc });
      sinceCheckpoint = 0;
    }
  }
  if (o.checkpoint) await rm(o.checkpoint, { force: true });
  return { meta: { ...meta, batch: undefined }, acc, skippedItems, resumedFrom };
}
