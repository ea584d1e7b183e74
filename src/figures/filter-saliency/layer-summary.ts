/** The per-layer summary: the largest value of each conv layer, one bar per layer. */
import type { TopLevelSpec } from 'vega-lite';
import { describeUnitCounts } from '../../models/units.js';
import { textWidth } from '../text.js';
import {
  checkLayers,
  type FilterSaliencyData,
  hasOtherKinds,
  markedFilters,
  type SaliencyLayer,
} from './data.js';
import {
  BLUE,
  type ChartOptions,
  chartFrame,
  type FilterChart,
  ORANGE,
  tickFormat,
  tickLabelWidth,
  yTitle,
} from './frame.js';
import { type AxisLabel, compactLayerName, labelExpr, pickLayerLabels } from './layer-names.js';

interface Bar {
  i: number;
  name: string;
  max: number | null;
  /** The filter holding the maximum, within its layer. */
  filter: number | null;
  marked: boolean;
}

/** One bar per layer: its largest finite value and which filter has it. */
function bars(values: ArrayLike<number>, layers: readonly SaliencyLayer[], marked: Set<string>): Bar[] {
  return layers.map((l, i) => {
    let best = -1;
    for (let k = l.offset; k < l.offset + l.filters; k++)
      if (Number.isFinite(values[k]) && (best < 0 || values[k] > values[best])) best = k;
    return {
      i,
      name: l.name,
      max: best < 0 ? null : values[best],
      filter: best < 0 ? null : best - l.offset,
      marked: marked.has(l.name),
    };
  });
}

/** Layer names under the bars: every one when the bars are wide enough, else a readable subset. */
function barLabels(layers: readonly SaliencyLayer[], band: number) {
  const angle = band >= 19 ? 40 : 90;
  const spacing = angle === 40 ? 19 : 12;
  const size = band >= 12 ? 10 : 9;
  const picked: AxisLabel[] =
    band >= spacing
      ? layers.map((l, i) => ({
          layer: i,
          at: i,
          text: compactLayerName(l.name, size, 150),
          stage: false,
        }))
      : pickLayerLabels(layers, (i) => (i + 0.5) * band, spacing, 150, size);
  const rad = (angle * Math.PI) / 180;
  const extent =
    Math.max(0, ...picked.map((l) => textWidth(l.text, size))) * Math.sin(rad) + size * Math.cos(rad);
  return { angle, size, picked, extent };
}

export function layerSummaryChart(data: FilterSaliencyData, options: ChartOptions = {}): FilterChart {
  const { values, layers } = data;
  checkLayers(values, layers);
  const mixed = hasOtherKinds(layers);
  const width = options.width ?? 1500;
  const height = options.height ?? 400;
  const marks = markedFilters(data, options.topK ?? 10);
  const markedLayers = new Set(marks.map((m) => m.layer));
  const rows = bars(values, layers, markedLayers);
  let lo = 0;
  let hi = 0;
  for (const r of rows)
    if (r.max !== null) {
      lo = Math.min(lo, r.max);
      hi = Math.max(hi, r.max);
    }
  const range = hi - lo || 1;
  const yMin = lo < 0 ? lo - 0.04 * range : 0;
  const yMax = hi + 0.1 * range;

  const padLeft = Math.ceil(tickLabelWidth(yMin, yMax, 10) + 50); // ticks, labels, a two-line title
  const padRight = 18;
  const padTop = 56;
  const plotW = width - padLeft - padRight;
  const { angle, size, picked, extent } = barLabels(layers, plotW / layers.length);
  const padBottom = Math.ceil(extent + 8 + 26);
  const plotH = height - padTop - padBottom;
  if (plotW < 100 || plotH < 60)
    throw new RangeError(`layer summary chart: ${width}×${height} px is too small`);
  const labelled = new Set(picked.map((l) => l.layer));
  const what = data.standardized ? 'z' : 'raw saliency';

  const x = {
    field: 'i',
    type: 'ordinal' as const,
    scale: { paddingInner: 0.15, paddingOuter: 0.1 },
    axis: {
      values: [...labelled].sort((a, b) => a - b),
      labelExpr: labelExpr(picked.map((l) => ({ at: l.layer, text: l.text }))),
      labelAngle: -angle,
      labelAlign: 'right' as const,
      labelBaseline: angle === 90 ? ('middle' as const) : ('top' as const),
      labelOverlap: false,
      labelFontSize: size,
      title: `${mixed ? 'layers' : 'conv layers'} in model order (${layers.length}${picked.length < layers.length ? `; ${picked.length} labelled` : ''})`,
      titleY: Math.ceil(extent + 8),
      titleBaseline: 'top' as const,
      ticks: false,
    },
  };
  const spec: TopLevelSpec = {
    ...chartFrame(plotW, plotH, { left: padLeft, right: padRight, top: padTop, bottom: padBottom }, 12),
    title: {
      text: options.title ?? `Largest ${what} per ${mixed ? 'layer' : 'conv layer'}`,
      subtitle:
        options.subtitle ??
        (mixed
          ? `One bar per layer (${describeUnitCounts(layers)}): the layer's most salient unit (#unit above highlighted bars). Orange: the layer holds one of the ${marks.length} marked units.`
          : `One bar per layer: the layer's most salient filter (#filter above highlighted bars). Orange: the layer holds one of the ${marks.length} marked filters.`),
    },
    layer: [
      {
        data: { values: rows },
        mark: { type: 'bar' },
        encoding: {
          x,
          y: {
            field: 'max',
            type: 'quantitative',
            scale: { domain: [yMin, yMax], nice: false, zero: true },
            axis: {
              title: yTitle(data, 'largest '),
              grid: true,
              gridColor: '#eee',
              format: tickFormat(yMin, yMax),
              tickCount: 8,
            },
          },
          color: { condition: { test: 'datum.marked', value: ORANGE }, value: BLUE },
        },
      },
      {
        data: { values: rows.filter((r) => r.marked && r.max !== null) },
        mark: { type: 'text', baseline: 'bottom', dy: -3, fontSize: 9, color: '#333' },
        encoding: {
          x: { field: 'i', type: 'ordinal' },
          y: { field: 'max', type: 'quantitative' },
          text: { field: 'filter', type: 'nominal', format: '' },
        },
      },
    ],
  };
  return {
    spec,
    points: rows.length,
    axisLabels: picked.map((l) => ({ at: l.layer, text: l.text })),
    plot: { width: plotW, height: plotH },
    marked: [...markedLayers],
    labelBoxes: [],
  };
}
