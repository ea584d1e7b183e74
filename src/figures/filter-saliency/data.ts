/** What the filter-saliency charts draw: the values, the layer table, and the filters to mark. */
import { topK } from '../../saliency/rank.js';
import type { SaliencyReport } from '../../saliency/report.js';
import { type LayerSpan, locate, onlyFilters } from '../../saliency/units.js';

/** A layer of the chart: its name, first position in the saliency vector, and filter count. */
export type SaliencyLayer = LayerSpan;

export interface MarkedFilter {
  /** Position in the saliency vector. */
  index: number;
  layer?: string;
  filter?: number;
}

export interface FilterSaliencyData {
  /** One value per filter, in saliency-vector order: z, or raw saliency when not standardised. */
  values: ArrayLike<number>;
  layers: readonly SaliencyLayer[];
  /** true: values are z-scores; false: raw saliency (no statistics). */
  standardized: boolean;
  /** The aggregation of the raw saliency (filter, filter-abs-mean, signed), for the axis title. */
  aggregation?: string;
  /** The filters to mark; default: the topK largest values (|values| with rankedBy 'abs-z'). */
  top?: readonly MarkedFilter[];
  rankedBy?: 'z' | 'abs-z';
}

/** The chart data of a saliency report: z when standardised, else raw saliency. */
export function filterSaliencyData(report: SaliencyReport): FilterSaliencyData {
  return {
    values: report.z ?? report.saliency,
    layers: report.layers,
    standardized: report.standardized,
    aggregation: report.aggregation,
    top: report.top,
    rankedBy: report.rankedBy,
  };
}

/** Whether the vector holds units other than filters: then the charts name each layer's kind. */
export const hasOtherKinds = (layers: readonly SaliencyLayer[]) => !onlyFilters(layers);

export function checkLayers(values: ArrayLike<number>, layers: readonly SaliencyLayer[]) {
  if (layers.length === 0) throw new RangeError('filter-saliency chart: no conv layers');
  let end = 0;
  for (const l of layers) {
    if (!(Number.isInteger(l.offset) && Number.isInteger(l.filters) && l.filters > 0 && l.offset >= end))
      throw new RangeError(`filter-saliency chart: layer ${l.name} has a bad offset or filter count`);
    end = l.offset + l.filters;
  }
  if (end > values.length)
    throw new RangeError(`filter-saliency chart: the layers need ${end} values, got ${values.length}`);
}

/** Per layer, the filter indices sorted by value, largest first, ranked as everywhere (saliency/rank.ts: NaN last). */
export function sortedLayers(values: ArrayLike<number>, layers: readonly SaliencyLayer[]): Int32Array[] {
  return layers.map((l) => {
    const own = Float64Array.from({ length: l.filters }, (_, k) => values[l.offset + k]);
    return Int32Array.from(topK(own, l.filters), (k) => l.offset + k);
  });
}

/**
 * The filters to mark, with their layer and filter: `data.top`, or the k largest values that
 * can be drawn (finite, inside a layer), ranked as everywhere else (saliency/rank.ts).
 */
export function markedFilters(data: FilterSaliencyData, k: number): Required<MarkedFilter>[] {
  const { values, layers } = data;
  let marks: MarkedFilter[];
  if (data.top) marks = [...data.top];
  else {
    // What cannot be drawn ranks as NaN does: never first.
    const drawable = new Float64Array(values.length).fill(Number.NaN);
    for (const l of layers)
      for (let i = l.offset; i < l.offset + l.filters; i++)
        if (Number.isFinite(values[i])) drawable[i] = values[i];
    marks = topK(drawable, k, data.rankedBy)
      .filter((i) => !Number.isNaN(drawable[i]))
      .map((index) => ({ index }));
  }
  return marks.map((m) =>
    m.layer !== undefined && m.filter !== undefined
      ? { index: m.index, layer: m.layer, filter: m.filter }
      : { index: m.index, ...locateMark(m.index, layers) },
  );
}

function locateMark(index: number, layers: readonly SaliencyLayer[]) {
  const { layer, filter } = locate(index, layers);
  return { layer, filter };
}
