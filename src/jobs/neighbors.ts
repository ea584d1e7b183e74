/**
 * Saliency neighbours (paper §4: images with similar saliency profiles share failure modes):
 * the images of a dataset whose standardised filter-saliency profiles are closest by cosine
 * to a query image's — among the misclassified ones by default.
 */
import type { Dataset } from '../data/dataset.js';
import type { Aggregation } from '../saliency/aggregation.js';
import type { ImageBatch, SaliencyEngine } from '../saliency/engine.js';
import { topK } from '../saliency/rank.js';
import type { Target } from '../saliency/target.js';
import { forwardRunner } from './forward.js';
import {
  loadItems,
  nearestProfiles,
  type Predictions,
  type Profile,
  predictDataset,
  profileItems,
  type Standardizer,
  standardizeTo,
} from './scan.js';

export interface NeighborSearch {
  aggregation: Aggregation;
  stats?: Standardizer;
  /** Whose loss (default the true label). */
  target?: Target;
  batch: number;
  /** Search all images instead of the misclassified ones. */
  all?: boolean;
  onProgress?: (phase: 'forward' | 'saliency', done: number, total: number) => void;
  onSkip?: (id: string, reason: string) => void;
}

export interface Candidates {
  profiles: Profile[];
  /** Absent with `all` (no forward pass needed). */
  predictions?: Predictions;
}

/** The profiles to search: every misclassified image of the dataset (or every image). */
export async function candidateProfiles(
  engine: SaliencyEngine,
  data: Dataset,
  o: NeighborSearch,
): Promise<Candidates> {
  let indices: number[];
  let predictions: Predictions | undefined;
  if (o.all) indices = Array.from({ length: data.length }, (_, i) => i);
  else {
    const plain = forwardRunner(engine, 4 * o.batch);
    predictions = await predictDataset(engine.model, data, (x) => plain.logits(x), {
      batch: 4 * o.batch,
      onProgress: (d, t) => o.onProgress?.('forward', d, t),
      onSkip: o.onSkip,
    });
    const p = predictions;
    indices = p.indices.filter((_, i) => p.predicted[i] !== p.labels[i]);
  }
  const profiles = await profileItems(engine, data, indices, {
    batch: o.batch,
    aggregation: o.aggregation,
    stats: o.stats,
    target: o.target,
    onProgress: (d, t) => o.onProgress?.('saliency', d, t),
    onSkip: o.onSkip,
  });
  return { profiles, predictions };
}

export interface QueryProfile {
  label: number;
  predicted: number;
  logits: Float32Array;
  z: Float32Array;
}

export async function queryProfile(
  engine: SaliencyEngine,
  image: ImageBatch,
  label: number,
  o: { aggregation: Aggregation; stats?: Standardizer; target?: Target },
): Promise<QueryProfile> {
  const [r] = await engine.compute(image, [label], o.aggregation, o.target);
  return { label, predicted: r.predicted, logits: r.logits, z: standardizeTo(r.saliency, o.stats) };
}

export interface Neighbor {
  profile: Profile;
  cosine: number;
  /** The image, CHW. */
  x: Float32Array;
}

/**
 * The n nearest candidates by cosine of z, leaving out the query itself: its dataset index
 * when known, else any candidate with the query's pixels (to within 1e-4 after preprocessing).
 */
export async function nearestNeighbors(
  data: Dataset,
  query: { z: ArrayLike<number>; x: Float32Array; index?: number },
  candidates: readonly Profile[],
  n: number,
): Promise<Neighbor[]> {
  const per = query.x.length;
  const out: Neighbor[] = [];
  const excluded = new Set<number>(query.index === undefined ? [] : [query.index]);
  while (out.length < n) {
    const picked = nearestProfiles(
      query.z,
      candidates,
      n - out.length,
      (p) => excluded.has(p.index) || out.some((o) => o.profile.index === p.index),
    );
    if (!picked.length) break;
    const loaded = await loadItems(
      data,
      picked.map((p) => p.profile.index),
      per,
    );
    for (const p of picked) {
      excluded.add(p.profile.index);
      const j = loaded.items.findIndex((it) => it.index === p.profile.index);
      if (j < 0) continue;
      const x = loaded.x.slice(j * per, (j + 1) * per);
      // The same picture decoded another way (e.g. a PNG of a dataset image) differs by rounding only.
      if (query.index === undefined && x.every((v, i) => Math.abs(v - query.x[i]) <= 1e-4)) continue;
      out.push({ ...p, x });
    }
  }
  return out.sort((a, b) => b.cosine - a.cosine || a.profile.index - b.profile.index);
}

/** The k largest entries of z (indices, ranked as everywhere: saliency/rank.ts), for counting shared salient filters. */
export function topSet(z: ArrayLike<number>, k: number): Set<number> {
  return new Set(topK(z, k));
}
