/**
 * The saliency report of one image — what `pss saliency` prints and writes as JSON, and
 * what `pss explain` and the web app build on.
 */
import { classNamesFor } from '../image/labels.js';
import type { Model } from '../models/model.js';
import type { UnitKind, UnitSet } from '../models/units.js';
import type { SaliencyResult } from './engine.js';
import { potRanking, potScore } from './pot.js';
import { type RankBy, type RankedFilter, topFilters } from './rank.js';
import { type Reference, standardize } from './standardize.js';
import { DEFAULT_TARGET, type Target, targetText } from './target.js';
import { type LayerSpan, layerSpans, locate } from './units.js';

export interface SaliencyReport {
  model: string;
  weights: string;
  aggregation: string;
  /** The units the saliency vector covers (DESIGN §1.3). Absent in older reports: filters. */
  units?: UnitSet;
  /** True when z holds standardised saliency; false when rankings use raw saliency. */
  standardized: boolean;
  /** What the ranking standardises by: z-scores, POT tail probabilities, or nothing (raw saliency). */
  standardization?: 'z' | 'pot' | 'none';
  /** With POT: its threshold quantile, and every unit's score −log10 P (0 at or below its threshold). */
  pot?: { quantile: number; score: (number | null)[] } | null;
  statistics: { file: string; count: number; dataset: string } | null;
  batchNormFolded: boolean;
  notes: string[];
  label: number;
  labelName?: string;
  predicted: number;
  predictedName?: string;
  /** Whose loss was differentiated ("true", "predicted", "class:c") and that class for this image. */
  target?: string;
  targetClass?: number;
  loss: number;
  /** The five most probable classes. */
  probabilities: { class: number; name?: string; probability: number }[];
  logits: number[];
  /** The unit table: each layer's name, first position, unit count and unit kind. */
  layers: LayerSpan[];
  saliency: number[];
  z: number[] | null;
  rankedBy: RankBy;
  top: {
    layer: string;
    /** Index within its layer (kept under this name from when every unit was a filter). */
    filter: number;
    /** What the unit is (absent in older reports: a filter). */
    kind?: UnitKind;
    index: number;
    saliency: number;
    z: number | null;
    /** −log10 P with POT (null for P = 0: beyond every validation value). */
    pot?: number | null;
  }[];
}

export interface ReportOptions {
  /** The --target the saliency was computed with (default the true label). */
  target?: Target;
  /** Validation statistics to standardise by; raw saliency without. */
  reference?: Reference;
  rankBy?: RankBy;
  top?: number;
  /** Default: the model's own (ImageNet's for 1000-class models). */
  classNames?: readonly string[];
}

export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const e = Float64Array.from(logits, (v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/** Assembles the report; returns the ranked filters too (for printing). */
export function saliencyReport(
  model: Model,
  r: SaliencyResult,
  o: ReportOptions = {},
): { report: SaliencyReport; ranked: RankedFilter[] } {
  const names = o.classNames ?? classNamesFor(model.numClasses, model.arch.classNames);
  const rankBy = o.rankBy ?? 'z';
  const ref = o.reference;
  const z = ref ? standardize(r.saliency, ref) : undefined;
  const perFilter = r.aggregation !== 'parameter';
  const table = model.layers;
  const pot = ref?.pot && perFilter ? ref.pot : undefined;
  const score = pot && potScore(r.saliency, pot);
  const finite = (v: number) => (Number.isFinite(v) ? v : null);
  // POT ranks by P itself (smallest first), which --rank abs-z cannot change: scores are ≥ 0.
  const ranked = !perFilter
    ? []
    : pot
      ? potRanking(r.saliency, pot, o.top ?? 10).map((index) => ({
          ...locate(index, table),
          value: score![index],
        }))
      : topFilters(z ?? r.saliency, table, o.top ?? 10, rankBy);
  const probs = softmax(r.logits);
  const top5 = Array.from(probs.keys())
    .sort((a, b) => probs[b] - probs[a])
    .slice(0, 5);
  const report: SaliencyReport = {
    model: model.name,
    weights: model.source,
    aggregation: r.aggregation,
    units: model.units,
    standardized: z !== undefined,
    standardization: pot ? 'pot' : z ? 'z' : 'none',
    pot: pot ? { quantile: pot.q, score: Array.from(score!, finite) } : null,
    statistics: ref ? { file: ref.path, count: ref.count, dataset: ref.dataset } : null,
    batchNormFolded: model.info.batchNormFolded ?? false,
    notes: [...(model.info.notes ?? []), ...model.warnings],
    label: r.label,
    ...(names && { labelName: names[r.label] }),
    predicted: r.predicted,
    ...(names && { predictedName: names[r.predicted] }),
    target: targetText(o.target ?? DEFAULT_TARGET),
    targetClass: r.target,
    loss: r.loss,
    probabilities: top5.map((c) => ({ class: c, ...(names && { name: names[c] }), probability: probs[c] })),
    logits: Array.from(r.logits),
    layers: layerSpans(table),
    saliency: Array.from(r.saliency),
    z: z ? Array.from(z) : null,
    rankedBy: pot ? 'z' : rankBy,
    top: ranked.map((f) => ({
      layer: f.layer,
      filter: f.filter,
      kind: f.kind,
      index: f.index,
      saliency: r.saliency[f.index],
      z: z ? z[f.index] : null,
      ...(score && { pot: finite(score[f.index]) }),
    })),
  };
  return { report, ranked };
}
