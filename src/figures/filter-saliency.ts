/**
 * The filter-saliency figure (DESIGN §1 step 8) and a per-layer summary, as vega-lite charts
 * rendered to SVG and PNG. The parts, in filter-saliency/: the chart data (data.ts), layer
 * names on the axes (layer-names.ts), label placement (label-layout.ts), what both charts share
 * (frame.ts), the profile (profile-chart.ts, profile-spec.ts) and the summary (layer-summary.ts).
 */

import type { FilterSaliencyData } from './filter-saliency/data.js';
import type { ChartOptions } from './filter-saliency/frame.js';
import { layerSummaryChart } from './filter-saliency/layer-summary.js';
import { filterSaliencyChart } from './filter-saliency/profile-chart.js';
import { svgToPng, vegaLiteToSvg } from './render.js';

export {
  type FilterSaliencyData,
  filterSaliencyData,
  type MarkedFilter,
  type SaliencyLayer,
} from './filter-saliency/data.js';
export type { ChartOptions, FilterChart } from './filter-saliency/frame.js';
export type { Box } from './filter-saliency/label-layout.js';
export { compactLayerName, layerHierarchy, shortLayerName } from './filter-saliency/layer-names.js';
export { layerSummaryChart } from './filter-saliency/layer-summary.js';
export { filterSaliencyChart } from './filter-saliency/profile-chart.js';

/** The filter-saliency figure as SVG (text as text). */
export async function filterSaliencySvg(
  data: FilterSaliencyData,
  options: ChartOptions = {},
): Promise<string> {
  return vegaLiteToSvg(filterSaliencyChart(data, options).spec);
}

/** The filter-saliency figure as PNG (1500 × 400 px by default). */
export async function filterSaliencyPng(
  data: FilterSaliencyData,
  options: ChartOptions = {},
): Promise<Uint8Array> {
  return svgToPng(await filterSaliencySvg(data, options), options.scale);
}

/** The per-layer summary as SVG. */
export async function layerSummarySvg(data: FilterSaliencyData, options: ChartOptions = {}): Promise<string> {
  return vegaLiteToSvg(layerSummaryChart(data, options).spec);
}

/** The per-layer summary as PNG (1500 × 400 px by default). */
export async function layerSummaryPng(
  data: FilterSaliencyData,
  options: ChartOptions = {},
): Promise<Uint8Array> {
  return svgToPng(await layerSummarySvg(data, options), options.scale);
}
