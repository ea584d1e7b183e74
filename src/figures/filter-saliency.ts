/**
 * The filter-saliency figure (DESIGN §1 step 8) and a per-layer summary, as vega-lite charts
 * rendered to SVG and PNG.
 *
 * Filter saliency: for each conv layer in model order, its values (z, or raw saliency without
 * statistics) sorted in descending order; the layers concatenated into one line, so each layer
 * is one "tooth". Layer boundaries are light vertical rules (darker at stage starts); a readable
 * subset of layer names labels the bottom axis (stage starts first, then block starts, at least
 * 19 px apart); the top axis counts filter positions; the top-k filters are marked with points
 * and "layer#filter" labels placed so that they overlap neither each other nor the curve.
 *
 * The line is thinned per layer without changing its picture: within a layer the values are
 * sorted, so the extremes of every run of positions that falls on one pixel column are its first
 * and last points; those (and each layer's ends) are kept — about 4 points per pixel column.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { SaliencyReport } from '../saliency/report.js';
import { svgToPng, vegaLiteToSvg } from './render.js';
import { FONT, fitText, textWidth } from './text.js';

export interface SaliencyLayer {
  name: string;
  /** Position of the layer's first filter in the saliency vector. */
  offset: number;
  filters: number;
}

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

/** What both charts share: size, padding, fonts and colours of axes and titles. */
function chartFrame(
  width: number,
  height: number,
  padding: { left: number; right: number; top: number; bottom: number },
  titleOffset: number,
) {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width,
    height,
    autosize: { type: 'none' as const },
    padding,
    background: 'white',
    config: {
      font: FONT,
      view: { stroke: null },
      axis: {
        labelFontSize: 10,
        titleFontSize: 12,
        titleFontWeight: 'normal' as const,
        labelColor: '#333',
        titleColor: '#222',
        domainColor: '#888',
        tickColor: '#888',
        labelLimit: 1000,
      },
      title: {
        fontSize: 15,
        subtitleFontSize: 11.5,
        subtitleColor: '#555',
        anchor: 'start' as const,
        offset: titleOffset,
        subtitlePadding: 4,
      },
    },
  };
}

export interface ChartOptions {
  /** Total size of the figure in px (default 1500 × 400). */
  width?: number;
  height?: number;
  title?: string;
  subtitle?: string;
  /** How many filters to mark when `data.top` is not given (default 10). */
  topK?: number;
  /** PNG only: pixel density multiplier (default 1). */
  scale?: number;
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

// ------------------------------------------------------------------------------- layer names

/** Top-level containers whose next name component is the stage (torchvision's "features"). */
const CONTAINERS = new Set(['features', 'module', 'model', 'backbone', 'body']);

/** A layer's stage (e.g. "layer2", "features.denseblock3", "Mixed_6a") and block ("layer2.1"). */
export function layerHierarchy(name: string): { stage: string; block: string } {
  const parts = name.split('.');
  const k = CONTAINERS.has(parts[0]) && parts.length >= 2 ? 2 : 1;
  const stage = parts.slice(0, k).join('.');
  const block = parts.length > k + 1 ? parts.slice(0, k + 1).join('.') : stage;
  return { stage, block };
}

/** A layer name without a leading container ("features.denseblock1…" → "denseblock1…"; "features.0" stays). */
export function shortLayerName(name: string): string {
  const parts = name.split('.');
  return CONTAINERS.has(parts[0]) && parts.length > 1 && !/^\d/.test(parts[1])
    ? parts.slice(1).join('.')
    : name;
}

interface AxisLabel {
  /** Layer index. */
  layer: number;
  /** Position (data units) of the tick. */
  at: number;
  text: string;
  stage: boolean;
}

/**
 * Picks layer labels for an axis: stage starts first, then block starts, then other layers (the
 * larger span first), keeping ticks at least `spacing` px apart. `px` maps a layer to its tick
 * position in px. Returned in position order.
 */
function pickLayerLabels(
  layers: readonly SaliencyLayer[],
  px: (i: number) => number,
  spacing: number,
  maxWidth: number,
  fontSize: number,
): AxisLabel[] {
  const info = layers.map((l, i) => ({ i, ...layerHierarchy(l.name) }));
  const span = new Map<string, number>();
  for (const [i, l] of layers.entries()) {
    const { stage, block } = info[i];
    span.set(`s:${stage}`, (span.get(`s:${stage}`) ?? 0) + l.filters);
    span.set(`b:${block}`, (span.get(`b:${block}`) ?? 0) + l.filters);
  }
  const candidates = info.map(({ i, stage, block }) => {
    const prev = i > 0 ? info[i - 1] : undefined;
    const stageStart = !prev || prev.stage !== stage;
    const blockStart = !prev || prev.block !== block;
    let text: string;
    let priority: number;
    let weight: number;
    if (stageStart) {
      text = shortLayerName(stage);
      priority = 2;
      weight = span.get(`s:${stage}`)!;
    } else if (blockStart) {
      const full = shortLayerName(block);
      text = full.length > 12 ? block.slice(stage.length + 1) : full;
      priority = 1;
      weight = span.get(`b:${block}`)!;
    } else {
      text = shortLayerName(layers[i].name);
      priority = 0;
      weight = layers[i].filters;
    }
    return { i, x: px(i), text: fitText(text, fontSize, maxWidth), stage: stageStart, priority, weight };
  });
  candidates.sort((a, b) => b.priority - a.priority || b.weight - a.weight || a.x - b.x);
  const chosen: typeof candidates = [];
  for (const c of candidates) {
    // a layer that starts no stage or block is named only when its tooth is wide
    const wide = c.i + 1 < layers.length ? px(c.i + 1) - c.x >= 2 * spacing : true;
    if ((c.priority > 0 || wide) && chosen.every((o) => Math.abs(o.x - c.x) >= spacing)) chosen.push(c);
  }
  chosen.sort((a, b) => a.x - b.x);
  return chosen.map((c) => ({ layer: c.i, at: layers[c.i].offset, text: c.text, stage: c.stage }));
}

/** The vega expression that labels ticks at `labels[].at` with their text. */
function labelExpr(labels: readonly { at: number | string; text: string }[]): string {
  return `${JSON.stringify(labels.map((l) => l.text))}[indexof(${JSON.stringify(labels.map((l) => l.at))}, datum.value)]`;
}

// ------------------------------------------------------------------------------- the data

function checkLayers(values: ArrayLike<number>, layers: readonly SaliencyLayer[]) {
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

/** Per layer, the filter indices sorted by value, descending (ties: lower index first; NaN last). */
function sortedLayers(values: ArrayLike<number>, layers: readonly SaliencyLayer[]): Int32Array[] {
  const key = (i: number) => (Number.isNaN(values[i]) ? Number.NEGATIVE_INFINITY : values[i]);
  return layers.map((l) => {
    const idx = Int32Array.from({ length: l.filters }, (_, k) => l.offset + k);
    return idx.sort((a, b) => key(b) - key(a) || a - b);
  });
}

function topFilters(data: FilterSaliencyData, k: number): MarkedFilter[] {
  if (data.top) return [...data.top];
  const abs = data.rankedBy === 'abs-z';
  const v = data.values;
  const idx: number[] = [];
  for (const l of data.layers)
    for (let i = l.offset; i < l.offset + l.filters; i++) if (Number.isFinite(v[i])) idx.push(i);
  const key = (i: number) => (abs ? Math.abs(v[i]) : v[i]);
  return idx
    .sort((a, b) => key(b) - key(a) || a - b)
    .slice(0, k)
    .map((index) => ({ index }));
}

function locate(index: number, layers: readonly SaliencyLayer[]): { layer: string; filter: number } {
  for (const l of layers)
    if (index >= l.offset && index < l.offset + l.filters) return { layer: l.name, filter: index - l.offset };
  throw new RangeError(`filter ${index} is in no conv layer`);
}

function yTitle(data: FilterSaliencyData, what: string): string[] {
  if (data.standardized) return [`${what}z-score`, '(σ from the validation mean)'];
  const quantity =
    data.aggregation === 'filter-abs-mean'
      ? '|mean ∂L/∂w|'
      : data.aggregation === 'signed'
        ? 'mean ∂L/∂w'
        : 'mean |∂L/∂w|';
  return [`${what}raw saliency: ${quantity}`, 'per filter (not standardised)'];
}

/** A d3 number format for axis ticks over [lo, hi]. */
function tickFormat(lo: number, hi: number): string {
  const m = Math.max(Math.abs(lo), Math.abs(hi));
  return m > 0 && (m < 0.01 || m >= 1e5) ? '.2~e' : '~g';
}

function tickLabelWidth(lo: number, hi: number, size: number): number {
  const f =
    tickFormat(lo, hi) === '.2~e'
      ? (v: number) => v.toExponential(2)
      : (v: number) => String(Number(v.toPrecision(3)));
  return Math.max(textWidth(f(lo), size), textWidth(f(hi), size), textWidth('-0.00', size));
}

// ------------------------------------------------------------------------------- label layout

/** A rectangle in px, relative to the plot area's top left corner. */
export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

const overlaps = (a: Box, b: Box, m = 1) =>
  a.x0 < b.x1 + m && b.x0 < a.x1 + m && a.y0 < b.y1 + m && b.y0 < a.y1 + m;

/** Whether the polyline (points sorted by x, in px) passes through the box. */
function lineHits(xs: Float64Array, ys: Float64Array, box: Box): boolean {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < box.x0) lo = mid + 1;
    else hi = mid;
  }
  for (let j = Math.max(0, lo - 1); j < xs.length - 1 && xs[j] <= box.x1; j++) {
    const [xa, ya, xb, yb] = [xs[j], ys[j], xs[j + 1], ys[j + 1]];
    const c0 = Math.max(xa, box.x0);
    const c1 = Math.min(xb, box.x1);
    if (c0 > c1) continue;
    let ymin: number;
    let ymax: number;
    if (xb === xa) {
      ymin = Math.min(ya, yb);
      ymax = Math.max(ya, yb);
    } else {
      const at = (x: number) => ya + ((yb - ya) * (x - xa)) / (xb - xa);
      ymin = Math.min(at(c0), at(c1));
      ymax = Math.max(at(c0), at(c1));
    }
    if (ymin <= box.y1 && ymax >= box.y0) return true;
  }
  return false;
}

interface PlacedLabel {
  text: string;
  /** The marked point, px. */
  px: number;
  py: number;
  box: Box;
  /** Whether a leader line joins point and label. */
  leader: boolean;
}

/**
 * Places one label per point (in rank order), beside it if there is room, else stacked above or
 * below with a leader line: never over another label, a marked point or the curve, inside the
 * plot; if nothing fits, beside the point regardless.
 */
function placeLabels(
  points: { text: string; px: number; py: number }[],
  curve: { xs: Float64Array; ys: Float64Array },
  plotW: number,
  plotH: number,
  fontSize: number,
): PlacedLabel[] {
  const h = Math.ceil(fontSize * 1.3);
  const placed: Box[] = [];
  const pointBoxes = points.map((p) => ({ x0: p.px - 4, y0: p.py - 4, x1: p.px + 4, y1: p.py + 4 }));
  const out: PlacedLabel[] = [];
  for (const p of points) {
    const w = textWidth(p.text, fontSize) + 6;
    const boxAt = (right: boolean, dy: number): Box => {
      const x0 = right ? p.px + 7 : p.px - 7 - w;
      const yc = p.py + dy;
      return { x0, x1: x0 + w, y0: yc - h / 2, y1: yc + h / 2 };
    };
    const fits = (b: Box, avoidCurve: boolean) =>
      b.x0 >= 0 &&
      b.x1 <= plotW &&
      b.y0 >= 0 &&
      b.y1 <= plotH &&
      !placed.some((o) => overlaps(o, b)) &&
      !pointBoxes.some((o) => overlaps(o, b, 0)) &&
      !(avoidCurve && lineHits(curve.xs, curve.ys, b));
    let found: { box: Box; leader: boolean } | undefined;
    for (const avoidCurve of [true, false]) {
      for (let step = 0; step <= 40 && !found; step++) {
        for (const dir of step === 0 ? [0] : [-1, 1]) {
          const dy = dir * step * (h + 1);
          for (const right of [true, false]) {
            const b = boxAt(right, dy);
            if (fits(b, avoidCurve)) {
              found = { box: b, leader: step > 0 };
              break;
            }
          }
          if (found) break;
        }
      }
      if (found) break;
    }
    found ??= { box: boxAt(p.px + 7 + w <= plotW, 0), leader: false };
    placed.push(found.box);
    out.push({ text: p.text, px: p.px, py: p.py, ...found });
  }
  return out;
}

// ------------------------------------------------------------------------------- the charts

const BLUE = '#0173b2'; // seaborn "colorblind" blue, the original figure's line colour
const ORANGE = '#d55e00';

export interface FilterChart {
  spec: TopLevelSpec;
  /** Points on the (thinned) line. */
  points: number;
  /** The layer labels on the axis: position (filter position, or layer index for the summary) and text. */
  axisLabels: { at: number; text: string }[];
  /** Width and height of the plot area in px. */
  plot: { width: number; height: number };
  /** The marked filters' labels ("layer#filter", in rank order; the summary: layer names) and their boxes in px. */
  marked: string[];
  labelBoxes: Box[];
}

/** The filter-saliency figure as a vega-lite spec (see the file comment). */
export function filterSaliencyChart(data: FilterSaliencyData, options: ChartOptions = {}): FilterChart {
  const { values, layers } = data;
  checkLayers(values, layers);
  const width = options.width ?? 1500;
  const height = options.height ?? 400;
  const N = layers[layers.length - 1].offset + layers[layers.length - 1].filters;
  const sorted = sortedLayers(values, layers);

  // y range: the finite values and 0, with room above the peaks for labels
  let lo = 0;
  let hi = 0;
  for (const l of layers)
    for (let i = l.offset; i < l.offset + l.filters; i++)
      if (Number.isFinite(values[i])) {
        lo = Math.min(lo, values[i]);
        hi = Math.max(hi, values[i]);
      }
  const range = hi - lo || 1;
  const yMin = lo - 0.04 * range;
  const yMax = hi + 0.14 * range;

  // geometry: fixed padding around a plot area of known size (autosize none)
  const labelSize = 10;
  const angle = 40;
  const sin = Math.sin((angle * Math.PI) / 180);
  const cos = Math.cos((angle * Math.PI) / 180);
  const padLeft = Math.ceil(tickLabelWidth(yMin, yMax, 10) + 50); // ticks, labels, a two-line title
  const padRight = 18;
  const padTop = 74;
  const provisionalW = width - padLeft - padRight;
  const axisLabels = pickLayerLabels(
    layers,
    (i) => (layers[i].offset / N) * provisionalW,
    19,
    120,
    labelSize,
  );
  const labelExtent =
    Math.max(0, ...axisLabels.map((l) => textWidth(l.text, labelSize, l.stage))) * sin + labelSize * cos;
  const padBottom = Math.ceil(labelExtent + 8 + 26);
  const plotW = provisionalW;
  const plotH = height - padTop - padBottom;
  if (plotW < 100 || plotH < 60)
    throw new RangeError(`filter-saliency chart: ${width}×${height} px is too small`);
  const px = (x: number) => (x / N) * plotW;
  const py = (y: number) => ((yMax - y) / (yMax - yMin)) * plotH;

  // the line, thinned per pixel column (see the file comment)
  const bucket = Math.max(1, Math.floor(N / (2 * plotW)));
  const line: { x: number; y: number }[] = [];
  for (const [li, l] of layers.entries()) {
    const order = sorted[li];
    for (let r = 0; r < l.filters; r++) {
      const pos = l.offset + r;
      const keep = r === 0 || r === l.filters - 1 || pos % bucket === 0 || (pos + 1) % bucket === 0;
      const v = values[order[r]];
      if (keep && Number.isFinite(v)) line.push({ x: pos, y: v });
    }
  }
  const curve = { xs: Float64Array.from(line, (p) => px(p.x)), ys: Float64Array.from(line, (p) => py(p.y)) };

  // the marked filters, at their position in the sorted layout
  const position = new Map<number, number>();
  const marks = topFilters(data, options.topK ?? 10).filter((m) => Number.isFinite(values[m.index]));
  const wanted = new Set(marks.map((m) => m.index));
  for (const [li, l] of layers.entries())
    for (let r = 0; r < l.filters; r++)
      if (wanted.has(sorted[li][r])) position.set(sorted[li][r], l.offset + r);
  const points = marks.map((m) => {
    const where =
      m.layer !== undefined && m.filter !== undefined
        ? { layer: m.layer, filter: m.filter }
        : locate(m.index, layers);
    const x = position.get(m.index)!;
    const y = values[m.index];
    return { text: `${where.layer}#${where.filter}`, x, y, px: px(x), py: py(y) };
  });
  const labelFont = 11;
  const labels = placeLabels(points, curve, plotW, plotH, labelFont);
  const toX = (p: number) => (p / plotW) * N;
  const toY = (p: number) => yMax - (p / plotH) * (yMax - yMin);

  const xScale = { domain: [0, N], nice: false, zero: false };
  const yScale = { domain: [yMin, yMax], nice: false, zero: false };
  const stageStarts = new Set(axisLabels.filter((l) => l.stage).map((l) => l.at));
  const isStage = layers.map(
    (l, i) => i === 0 || layerHierarchy(layers[i - 1].name).stage !== layerHierarchy(l.name).stage,
  );
  const top = data.top ? 'marked' : 'top';
  const what = data.standardized ? 'z' : 'raw saliency';
  const subtitle =
    options.subtitle ??
    `${N.toLocaleString('en-US')} filters in ${layers.length} conv layers, model order; within each layer sorted by ${what}, largest first. ` +
      `● ${top} ${points.length} filter${points.length === 1 ? '' : 's'}${data.rankedBy === 'abs-z' ? ' (ranked by |z|)' : ''}, labelled layer#filter.`;

  const spec: TopLevelSpec = {
    ...chartFrame(plotW, plotH, { left: padLeft, right: padRight, top: padTop, bottom: padBottom }, 10),
    title: {
      text:
        options.title ??
        (data.standardized
          ? 'Filter saliency (z-scores) by conv layer'
          : 'Filter saliency (raw, not standardised) by conv layer'),
      subtitle,
    },
    resolve: { axis: { x: 'independent' } },
    layer: [
      {
        data: { values: layers.slice(1).map((l, i) => ({ x: l.offset, stage: isStage[i + 1] })) },
        mark: { type: 'rule', strokeWidth: 1 },
        encoding: {
          x: {
            field: 'x',
            type: 'quantitative',
            scale: xScale,
            axis: {
              orient: 'top',
              grid: false,
              labelColor: '#777',
              tickColor: '#bbb',
              domain: false,
              format: ',d',
              tickCount: 12,
              title: null,
            },
          },
          color: { condition: { test: 'datum.stage', value: '#b9b9b9' }, value: '#e6e6e6' },
        },
      },
      {
        data: { values: [{ y: 0 }] },
        mark: { type: 'rule', color: '#999', strokeDash: [4, 3], strokeWidth: 1 },
        encoding: { y: { field: 'y', type: 'quantitative', scale: yScale } },
      },
      {
        data: { values: line },
        mark: { type: 'line', color: BLUE, strokeWidth: 1.1, strokeJoin: 'round' },
        encoding: {
          x: {
            field: 'x',
            type: 'quantitative',
            scale: xScale,
            axis: {
              orient: 'bottom',
              values: axisLabels.map((l) => l.at),
              labelExpr: labelExpr(axisLabels),
              labelAngle: -angle,
              labelAlign: 'right',
              labelBaseline: 'top',
              labelOverlap: false,
              labelFontWeight: {
                condition: {
                  test: `indexof(${JSON.stringify([...stageStarts])}, datum.value) >= 0`,
                  value: 'bold',
                },
                value: 'normal',
              },
              labelColor: {
                condition: {
                  test: `indexof(${JSON.stringify([...stageStarts])}, datum.value) >= 0`,
                  value: '#222',
                },
                value: '#555',
              },
              grid: false,
              title: `conv layers in model order (labels: first layer of each stage / block); top axis: filter position 0 … ${(N - 1).toLocaleString('en-US')}`,
              titleY: Math.ceil(labelExtent + 12),
              titleBaseline: 'top',
            },
          },
          y: {
            field: 'y',
            type: 'quantitative',
            scale: yScale,
            axis: {
              title: yTitle(data, ''),
              grid: true,
              gridColor: '#f0f0f0',
              format: tickFormat(yMin, yMax),
              tickCount: 8,
            },
          },
        },
      },
      {
        data: {
          values: labels
            .filter((l) => l.leader)
            .map((l) => ({
              x: toX(l.px),
              y: toY(l.py),
              x2: toX(l.box.x0 > l.px ? l.box.x0 : l.box.x1),
              y2: toY((l.box.y0 + l.box.y1) / 2),
            })),
        },
        mark: { type: 'rule', color: ORANGE, strokeWidth: 0.8, opacity: 0.8 },
        encoding: {
          x: { field: 'x', type: 'quantitative', scale: xScale, axis: null },
          y: { field: 'y', type: 'quantitative', scale: yScale },
          x2: { field: 'x2' },
          y2: { field: 'y2' },
        },
      },
      {
        data: {
          values: labels.map((l) => ({
            x: toX(l.box.x0),
            x2: toX(l.box.x1),
            y: toY(l.box.y0),
            y2: toY(l.box.y1),
          })),
        },
        mark: { type: 'rect', color: 'white', opacity: 0.85, cornerRadius: 2 },
        encoding: {
          x: { field: 'x', type: 'quantitative', scale: xScale, axis: null },
          y: { field: 'y', type: 'quantitative', scale: yScale },
          x2: { field: 'x2' },
          y2: { field: 'y2' },
        },
      },
      {
        data: { values: points.map((p) => ({ x: p.x, y: p.y })) },
        mark: {
          type: 'point',
          filled: true,
          color: ORANGE,
          size: 36,
          opacity: 1,
          stroke: 'white',
          strokeWidth: 0.8,
        },
        encoding: {
          x: { field: 'x', type: 'quantitative', scale: xScale, axis: null },
          y: { field: 'y', type: 'quantitative', scale: yScale },
        },
      },
      {
        data: {
          values: labels.map((l) => ({
            x: toX(l.box.x0 + 3),
            y: toY((l.box.y0 + l.box.y1) / 2),
            text: l.text,
          })),
        },
        mark: { type: 'text', align: 'left', baseline: 'middle', fontSize: labelFont, color: '#1a1a1a' },
        encoding: {
          x: { field: 'x', type: 'quantitative', scale: xScale, axis: null },
          y: { field: 'y', type: 'quantitative', scale: yScale },
          text: { field: 'text' },
        },
      },
    ],
  };
  return {
    spec,
    points: line.length,
    axisLabels: axisLabels.map(({ at, text }) => ({ at, text })),
    plot: { width: plotW, height: plotH },
    marked: points.map((p) => p.text),
    labelBoxes: labels.map((l) => l.box),
  };
}

/** The per-layer summary: the largest value of each conv layer, one bar per layer. */
export function layerSummaryChart(data: FilterSaliencyData, options: ChartOptions = {}): FilterChart {
  const { values, layers } = data;
  checkLayers(values, layers);
  const width = options.width ?? 1500;
  const height = options.height ?? 400;
  const marks = topFilters(data, options.topK ?? 10);
  const markedLayers = new Set(
    marks.map((m) => (m.layer !== undefined ? m.layer : locate(m.index, layers).layer)),
  );
  const rows = layers.map((l, i) => {
    let best = -1;
    for (let k = l.offset; k < l.offset + l.filters; k++)
      if (Number.isFinite(values[k]) && (best < 0 || values[k] > values[best])) best = k;
    return {
      i,
      name: l.name,
      max: best < 0 ? null : values[best],
      filter: best < 0 ? null : best - l.offset,
      marked: markedLayers.has(l.name),
    };
  });
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
  const band = plotW / layers.length;
  const angle = band >= 19 ? 40 : 90;
  const spacing = angle === 40 ? 19 : 12;
  const labelSize = band >= 12 ? 10 : 9;
  const picked =
    band >= spacing
      ? layers.map((l, i) => ({
          layer: i,
          at: i,
          text: fitText(shortLayerName(l.name), labelSize, 150),
          stage: false,
        }))
      : pickLayerLabels(layers, (i) => (i + 0.5) * band, spacing, 150, labelSize);
  const rad = (angle * Math.PI) / 180;
  const extent =
    Math.max(0, ...picked.map((l) => textWidth(l.text, labelSize))) * Math.sin(rad) +
    labelSize * Math.cos(rad);
  const padBottom = Math.ceil(extent + 8 + 26);
  const plotH = height - padTop - padBottom;
  if (plotW < 100 || plotH < 60)
    throw new RangeError(`layer summary chart: ${width}×${height} px is too small`);
  const labelled = new Set(picked.map((l) => l.layer));
  const what = data.standardized ? 'z' : 'raw saliency';
  const nMarked = marks.length;

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
      labelFontSize: labelSize,
      title: `conv layers in model order (${layers.length}${picked.length < layers.length ? `; ${picked.length} labelled` : ''})`,
      titleY: Math.ceil(extent + 8),
      titleBaseline: 'top' as const,
      ticks: false,
    },
  };
  const spec: TopLevelSpec = {
    ...chartFrame(plotW, plotH, { left: padLeft, right: padRight, top: padTop, bottom: padBottom }, 12),
    title: {
      text: options.title ?? `Largest ${what} per conv layer`,
      subtitle:
        options.subtitle ??
        `One bar per layer: the layer's most salient filter (#filter above highlighted bars). Orange: the layer holds one of the ${nMarked} marked filters.`,
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
