/**
 * Passes over a dataset that the experiments share: the model's predictions on every image,
 * and the standardised saliency profiles of a chosen subset (e.g. the misclassified ones).
 * Unreadable images are skipped and reported, as `pss stats` does.
 */
import type { Dataset } from '../data/dataset.js';
import { PssError } from '../errors.js';
import type { Model } from '../models/model.js';
import type { Aggregation } from '../saliency/aggregation.js';
import type { SaliencyEngine } from '../saliency/engine.js';
import { profileOf, type Reference } from '../saliency/standardize.js';
import type { Target } from '../saliency/target.js';
import { cosine } from '../util/vector.js';
import { argmaxRow } from './forward.js';

/** Per-filter mean and std; absent → raw saliency (μ = 0, σ = 1). */
/** What a scan standardises by: the μ and σ of a Reference. */
export type Standardizer = Pick<Reference, 'mean' | 'std' | 'pot'>;

export interface LoadedItems {
  /** The images that could be read, NCHW. */
  x: Float32Array;
  items: { index: number; id: string; label: number }[];
  skipped: { index: number; id: string; reason: string }[];
}

/** Reads dataset items (by index); a PssError while reading one skips it. */
export async function loadItems(
  data: Dataset,
  indices: readonly number[],
  per: number,
): Promise<LoadedItems> {
  const loaded = await Promise.all(
    indices.map(async (index) => {
      const s = data.item(index);
      try {
        const x = await s.load();
        if (x.length !== per) throw new PssError(`${s.id}: ${x.length} values, the model takes ${per}`);
        return { index, id: s.id, label: s.label, x };
      } catch (e) {
        if (!(e instanceof PssError)) throw e;
        return { index, id: s.id, label: s.label, reason: e.message };
      }
    }),
  );
  const ok = loaded.filter((l) => l.x);
  const x = new Float32Array(ok.length * per);
  ok.forEach((l, i) => {
    x.set(l.x!, i * per);
  });
  return {
    x,
    items: ok.map(({ index, id, label }) => ({ index, id, label })),
    skipped: loaded.filter((l) => !l.x).map(({ index, id, reason }) => ({ index, id, reason: reason! })),
  };
}

export interface Predictions {
  /** Dataset indices of the images read, in order. */
  indices: number[];
  ids: string[];
  labels: number[];
  predicted: number[];
  /** [indices.length, classes] */
  logits: Float32Array;
  skipped: { index: number; id: string; reason: string }[];
}

export interface ScanOptions {
  /** Images per run (and per read). */
  batch: number;
  onProgress?: (done: number, total: number) => void;
  onSkip?: (id: string, reason: string) => void;
}

/** The model's logits on every image of the dataset, through `logits` (a forward runner). */
export async function predictDataset(
  model: Model,
  data: Dataset,
  logits: (x: Float32Array) => Promise<Float32Array>,
  o: ScanOptions,
): Promise<Predictions> {
  const per = model.arch.inputShape.reduce((a, b) => a * b, 1);
  const k = model.numClasses;
  const out: Predictions = {
    indices: [],
    ids: [],
    labels: [],
    predicted: [],
    logits: new Float32Array(0),
    skipped: [],
  };
  const chunks: Float32Array[] = [];
  const read = (from: number) =>
    loadItems(
      data,
      Array.from({ length: Math.min(o.batch, data.length - from) }, (_, i) => from + i),
      per,
    );
  let next = data.length ? read(0) : undefined;
  for (let from = 0; next; from += o.batch) {
    const batch = await next;
    // Decode the next batch while this one runs.
    next = from + o.batch < data.length ? read(from + o.batch) : undefined;
    next?.catch(() => {});
    for (const s of batch.skipped) o.onSkip?.(s.id, s.reason);
    out.skipped.push(...batch.skipped);
    if (batch.items.length) {
      const l = await logits(batch.x);
      chunks.push(l);
      batch.items.forEach((it, i) => {
        if (!Number.isInteger(it.label) || it.label < 0 || it.label >= k)
          throw new PssError(
            `${it.id}: label ${it.label} is out of range: ${model.name} has classes 0..${k - 1}`,
          );
        out.indices.push(it.index);
        out.ids.push(it.id);
        out.labels.push(it.label);
        out.predicted.push(argmaxRow(l, k, i));
      });
    }
    o.onProgress?.(Math.min(from + o.batch, data.length), data.length);
  }
  out.logits = new Float32Array(out.indices.length * k);
  let at = 0;
  for (const c of chunks) {
    out.logits.set(c, at);
    at += c.length;
  }
  return out;
}

/** z = (s − μ) / σ (σ ≤ 1e-14 → 1) in float32, or s itself without statistics. */
/** z of a profile (−log10 P with POT; float32, as profiles are kept), or the raw profile without statistics. */
export function standardizeTo(s: ArrayLike<number>, st: Standardizer | undefined): Float32Array {
  return Float32Array.from(profileOf(s, st));
}

export interface Profile {
  index: number;
  id: string;
  label: number;
  predicted: number;
  /** Standardised saliency (raw without statistics). */
  z: Float32Array;
  /** The image, CHW (with keepImages). */
  x?: Float32Array;
}

/** Saliency profiles (w.r.t. the true labels) of the listed dataset items. */
export async function profileItems(
  engine: SaliencyEngine,
  data: Dataset,
  indices: readonly number[],
  o: ScanOptions & { aggregation: Aggregation; stats?: Standardizer; keepImages?: boolean; target?: Target },
): Promise<Profile[]> {
  const model = engine.model;
  const [c, h, w] = model.arch.inputShape;
  const out: Profile[] = [];
  for (let from = 0; from < indices.length; from += o.batch) {
    const batch = await loadItems(data, indices.slice(from, from + o.batch), c * h * w);
    for (const s of batch.skipped) o.onSkip?.(s.id, s.reason);
    if (batch.items.length) {
      const results = await engine.compute(
        { data: batch.x, shape: [batch.items.length, c, h, w] },
        batch.items.map((it) => it.label),
        o.aggregation,
        o.target,
      );
      results.forEach((r, i) => {
        const it = batch.items[i];
        const x = o.keepImages ? batch.x.slice(i * c * h * w, (i + 1) * c * h * w) : undefined;
        out.push({ ...it, predicted: r.predicted, z: standardizeTo(r.saliency, o.stats), ...(x && { x }) });
      });
    }
    o.onProgress?.(Math.min(from + o.batch, indices.length), indices.length);
  }
  return out;
}

export { cosine };

/** The n profiles most similar to `query` by cosine, most similar first (ties: dataset order). */
export function nearestProfiles(
  query: ArrayLike<number>,
  candidates: readonly Profile[],
  n: number,
  exclude: (p: Profile) => boolean = () => false,
): { profile: Profile; cosine: number }[] {
  return candidates
    .filter((p) => !exclude(p))
    .map((profile) => ({ profile, cosine: cosine(query, profile.z) }))
    .sort((a, b) => b.cosine - a.cosine || a.profile.index - b.profile.index)
    .slice(0, n);
}
