/**
 * Dataset-level saliency profiles (Wang & Sato 2023, Figure 1 and their visualisation script):
 * the average profile over a dataset, naive (raw saliency) against standardised (z, and
 * −log10 P under POT), and the average profiles of the correctly and the incorrectly
 * classified images — the latter with the true and with the predicted label as the loss's
 * target (for a correct image both are the same). Per filter and per layer.
 */
import type { Dataset } from '../data/dataset.js';
import type { Aggregation } from '../saliency/aggregation.js';
import type { SaliencyEngine } from '../saliency/engine.js';
import { potProfile } from '../saliency/pot.js';
import { type Reference, standardize } from '../saliency/standardize.js';
import { layerSpans } from '../saliency/units.js';
import { loadItems } from './scan.js';

/** The groups averaged: every image, the correct ones, the incorrect ones by either target. */
export const PROFILE_GROUPS = [
  'all',
  'correct',
  'incorrect (true label)',
  'incorrect (predicted label)',
] as const;
export type ProfileGroup = (typeof PROFILE_GROUPS)[number];
/** The views: raw saliency, z, −log10 P. */
export type ProfileView = 'raw' | 'z' | 'pot';

export interface ProfileOptions {
  aggregation: Aggregation;
  batch: number;
  /** Statistics (of the true label's saliency) to standardise by; with `pot` fitted, POT too. */
  reference?: Pick<Reference, 'mean' | 'std' | 'pot'>;
  onProgress?: (phase: string, done: number, total: number) => void;
  onSkip?: (id: string, reason: string) => void;
}

export interface GroupProfile {
  images: number;
  /** Mean over the group's images, per filter, for each view computed. */
  filters: Partial<Record<ProfileView, Float64Array>>;
  /** The same averaged over each layer's filters. */
  layers: Partial<Record<ProfileView, Float64Array>>;
}

export interface DatasetProfile {
  images: number;
  correct: number;
  views: ProfileView[];
  layers: { name: string; offset: number; filters: number }[];
  groups: Record<ProfileGroup, GroupProfile>;
  skipped: { id: string; reason: string }[];
}

/** Items [begin, end) of a dataset as a dataset (so that statistics and profiles can use disjoint parts). */
export function itemRange(data: Dataset, begin: number, end: number): Dataset {
  return {
    description: `${data.description}, items ${begin}..${end - 1}`,
    identity: data.identity,
    length: end - begin,
    item: (i) => data.item(begin + i),
  };
}

class Sums {
  images = 0;
  readonly sums: Partial<Record<ProfileView, Float64Array>> = {};
  constructor(
    readonly views: readonly ProfileView[],
    size: number,
  ) {
    for (const v of views) this.sums[v] = new Float64Array(size);
  }
  add(values: Partial<Record<ProfileView, ArrayLike<number>>>): void {
    this.images += 1;
    for (const v of this.views) {
      const s = this.sums[v]!;
      const x = values[v]!;
      for (let i = 0; i < s.length; i++) s[i] += x[i];
    }
  }
}

export async function datasetProfile(
  engine: SaliencyEngine,
  data: Dataset,
  o: ProfileOptions,
): Promise<DatasetProfile> {
  const model = engine.model;
  const table = model.layers;
  const size = model.unitCount;
  const ref = o.reference;
  const views: ProfileView[] = [
    'raw',
    ...(ref ? (['z'] as const) : []),
    ...(ref?.pot ? (['pot'] as const) : []),
  ];
  const sums = Object.fromEntries(PROFILE_GROUPS.map((g) => [g, new Sums(views, size)])) as Record<
    ProfileGroup,
    Sums
  >;
  const viewsOf = (s: Float32Array) => ({
    raw: s,
    ...(ref && { z: standardize(s, ref) }),
    ...(ref?.pot && { pot: potProfile(s, ref.pot) }),
  });
  const [c, h, w] = model.arch.inputShape;
  const per = c * h * w;
  const skipped: { id: string; reason: string }[] = [];
  const n = data.length;
  for (let from = 0; from < n; from += o.batch) {
    const indices = Array.from({ length: Math.min(o.batch, n - from) }, (_, i) => from + i);
    const batch = await loadItems(data, indices, per);
    for (const s of batch.skipped) {
      skipped.push({ id: s.id, reason: s.reason });
      o.onSkip?.(s.id, s.reason);
    }
    if (batch.items.length) {
      const shape = [batch.items.length, c, h, w] as const;
      const labels = batch.items.map((it) => it.label);
      const byTrue = await engine.compute({ data: batch.x, shape }, labels, o.aggregation, 'true');
      const wrong: number[] = [];
      byTrue.forEach((r, i) => {
        const v = viewsOf(r.saliency);
        sums.all.add(v);
        if (r.predicted === r.label) sums.correct.add(v);
        else {
          sums['incorrect (true label)'].add(v);
          wrong.push(i);
        }
      });
      if (wrong.length) {
        // The incorrect images again, with the model's own prediction as the target.
        const x = new Float32Array(wrong.length * per);
        wrong.forEach((i, j) => {
          x.set(batch.x.subarray(i * per, (i + 1) * per), j * per);
        });
        const byPred = await engine.compute(
          { data: x, shape: [wrong.length, c, h, w] },
          wrong.map((i) => labels[i]),
          o.aggregation,
          'predicted',
        );
        for (const r of byPred) sums['incorrect (predicted label)'].add(viewsOf(r.saliency));
      }
    }
    o.onProgress?.('saliency', Math.min(from + o.batch, n), n);
  }
  const groups = Object.fromEntries(
    PROFILE_GROUPS.map((g) => {
      const s = sums[g];
      const filters: GroupProfile['filters'] = {};
      const layers: GroupProfile['layers'] = {};
      for (const v of views) {
        const mean = s.sums[v]!.map((x) => (s.images ? x / s.images : Number.NaN));
        filters[v] = mean;
        layers[v] = Float64Array.from(table, (l) => {
          let t = 0;
          for (let i = l.offset; i < l.offset + l.filters; i++) t += mean[i];
          return t / l.filters;
        });
      }
      return [g, { images: s.images, filters, layers }];
    }),
  ) as Record<ProfileGroup, GroupProfile>;
  return {
    images: sums.all.images,
    correct: sums.correct.images,
    views,
    layers: layerSpans(table),
    groups,
    skipped,
  };
}

/** The smallest and largest layer mean of a view, and their layers: how unevenly it weighs depth. */
export function depthSpread(layerMeans: ArrayLike<number>): {
  min: number;
  max: number;
  argmin: number;
  argmax: number;
} {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let argmin = -1;
  let argmax = -1;
  for (let i = 0; i < layerMeans.length; i++) {
    const v = layerMeans[i];
    if (v < min) [min, argmin] = [v, i];
    if (v > max) [max, argmax] = [v, i];
  }
  return { min, max, argmin, argmax };
}
