/**
 * The filter-saliency figure (DESIGN §1 step 8): for each conv layer in model order, its values
 * (z, or raw saliency without statistics) sorted in descending order; the layers concatenated
 * into one line, so each layer is one "tooth". Layer boundaries are light vertical rules (darker
 * at stage starts); a readable subset of layer names labels the bottom axis (stage starts
 * first, then block starts, at least 19 px apart); the top axis counts filter positions; the
 * top-k filters are marked with points and "layer#filter" labels placed so that they overlap
 * neither each other nor the curve.
 *
 * The line is thinned per layer without changing its picture: within a layer the values are
 * sorted, so the extremes of every run of positions that falls on one pixel column are its
 * first and last points; those (and each layer's ends) are kept — about 4 points per pixel column.
 */
import type { TopLevelSpec } from 'vega-lite';
import { describeUnitCounts } from '../../models/units.js';
import { unitCount, unitLabelIn } from '../../saliency/units.js';
import { textWidth } from '../text.js';
import {
  checkLayers,
  type FilterSaliencyData,
  hasOtherKinds,
  markedFilters,
  type SaliencyLayer,
  sortedLayers,
} from './data.js';
import { type ChartOptions, chartFrame, type FilterChart, tickLabelWidth } from './frame.js';
import { type PlacedLabel, placeLabels } from './label-layout.js';
import { pickLayerLabels } from './layer-names.js';
import { type MarkedPoint, type ProfileLayout, profileLayers } from './profile-spec.js';

/** y range: the finite values and 0, with room above the peaks for labels. */
function yRange(values: ArrayLike<number>, layers: readonly SaliencyLayer[]): [number, number] {
  let lo = 0;
  let hi = 0;
  for (const l of layers)
    for (let i = l.offset; i < l.offset + l.filters; i++)
      if (Number.isFinite(values[i])) {
        lo = Math.min(lo, values[i]);
        hi = Math.max(hi, values[i]);
      }
  const range = hi - lo || 1;
  return [lo - 0.04 * range, hi + 0.14 * range];
}

function profileLayout(data: FilterSaliencyData, width: number, height: number): ProfileLayout {
  const { values, layers } = data;
  const N = unitCount(layers);
  const [yMin, yMax] = yRange(values, layers);
  const labelSize = 10;
  const angle = 40;
  const sin = Math.sin((angle * Math.PI) / 180);
  const cos = Math.cos((angle * Math.PI) / 180);
  const left = Math.ceil(tickLabelWidth(yMin, yMax, 10) + 50); // ticks, labels, a two-line title
  const right = 18;
  const top = 74;
  const plotW = width - left - right;
  const axisLabels = pickLayerLabels(layers, (i) => (layers[i].offset / N) * plotW, 19, 120, labelSize);
  const labelExtent =
    Math.max(0, ...axisLabels.map((l) => textWidth(l.text, labelSize, l.stage))) * sin + labelSize * cos;
  const bottom = Math.ceil(labelExtent + 8 + 26);
  const plotH = height - top - bottom;
  if (plotW < 100 || plotH < 60)
    throw new RangeError(`filter-saliency chart: ${width}×${height} px is too small`);
  return {
    N,
    yMin,
    yMax,
    padding: { left, right, top, bottom },
    plotW,
    plotH,
    axisLabels,
    labelExtent,
    angle,
    px: (x) => (x / N) * plotW,
    py: (y) => ((yMax - y) / (yMax - yMin)) * plotH,
  };
}

/** The line, thinned per pixel column (see the file comment). */
function thinnedLine(data: FilterSaliencyData, sorted: readonly Int32Array[], g: ProfileLayout) {
  const bucket = Math.max(1, Math.floor(g.N / (2 * g.plotW)));
  const line: { x: number; y: number }[] = [];
  for (const [li, l] of data.layers.entries()) {
    const order = sorted[li];
    for (let r = 0; r < l.filters; r++) {
      const pos = l.offset + r;
      const keep = r === 0 || r === l.filters - 1 || pos % bucket === 0 || (pos + 1) % bucket === 0;
      const v = data.values[order[r]];
      if (keep && Number.isFinite(v)) line.push({ x: pos, y: v });
    }
  }
  return line;
}

/** The marked filters that can be drawn, at their position in the sorted layout. */
function markedPoints(
  data: FilterSaliencyData,
  sorted: readonly Int32Array[],
  g: ProfileLayout,
  k: number,
): MarkedPoint[] {
  const { values, layers } = data;
  const marks = markedFilters(data, k).filter((m) => Number.isFinite(values[m.index]));
  const wanted = new Set(marks.map((m) => m.index));
  const position = new Map<number, number>();
  for (const [li, l] of layers.entries())
    for (let r = 0; r < l.filters; r++)
      if (wanted.has(sorted[li][r])) position.set(sorted[li][r], l.offset + r);
  return marks.map((m) => {
    const x = position.get(m.index)!;
    const y = values[m.index];
    return { text: `${m.layer}#${unitLabelIn(layers, m.layer, m.filter)}`, x, y, px: g.px(x), py: g.py(y) };
  });
}

function titles(data: FilterSaliencyData, options: ChartOptions, points: number) {
  const { layers } = data;
  const N = unitCount(layers);
  const top = data.top ? 'marked' : 'top';
  const what = data.standardized ? 'z' : 'raw saliency';
  // Filters alone read as before; other unit sets count each kind.
  const mixed = hasOtherKinds(layers);
  const noun = mixed ? 'Unit' : 'Filter';
  const by = mixed ? 'layer' : 'conv layer';
  const unit = mixed ? 'unit' : 'filter';
  return {
    text:
      options.title ??
      (data.standardized
        ? `${noun} saliency (z-scores) by ${by}`
        : `${noun} saliency (raw, not standardised) by ${by}`),
    subtitle:
      options.subtitle ??
      `${mixed ? describeUnitCounts(layers) : `${N.toLocaleString('en-US')} filters`} in ${layers.length} ${mixed ? 'layers' : 'conv layers'}, model order; within each layer sorted by ${what}, largest first. ` +
        `● ${top} ${points} ${unit}${points === 1 ? '' : 's'}${data.rankedBy === 'abs-z' ? ' (ranked by |z|)' : ''}, labelled layer#${unit}.`,
  };
}

/** The filter-saliency figure as a vega-lite spec (see the file comment). */
export function filterSaliencyChart(data: FilterSaliencyData, options: ChartOptions = {}): FilterChart {
  checkLayers(data.values, data.layers);
  const g = profileLayout(data, options.width ?? 1500, options.height ?? 400);
  const sorted = sortedLayers(data.values, data.layers);
  const line = thinnedLine(data, sorted, g);
  const curve = {
    xs: Float64Array.from(line, (p) => g.px(p.x)),
    ys: Float64Array.from(line, (p) => g.py(p.y)),
  };
  const points = markedPoints(data, sorted, g, options.topK ?? 10);
  const labels: PlacedLabel[] = placeLabels(points, curve, g.plotW, g.plotH, LABEL_FONT);
  const spec: TopLevelSpec = {
    ...chartFrame(g.plotW, g.plotH, g.padding, 10),
    title: titles(data, options, points.length),
    resolve: { axis: { x: 'independent' } },
    layer: profileLayers(data, g, line, points, labels, LABEL_FONT),
  };
  return {
    spec,
    points: line.length,
    axisLabels: g.axisLabels.map(({ at, text }) => ({ at, text })),
    plot: { width: g.plotW, height: g.plotH },
    marked: points.map((p) => p.text),
    labelBoxes: labels.map((l) => l.box),
  };
}

/** Font size of the marked filters' labels. */
const LABEL_FONT = 11;
