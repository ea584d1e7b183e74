/** What both filter-saliency charts share: options, result, frame (size, fonts, colours), axis titles and tick formats. */
import type { TopLevelSpec } from 'vega-lite';
import { FONT, textWidth } from '../text.js';
import { type FilterSaliencyData, hasOtherKinds } from './data.js';
import type { Box } from './label-layout.js';

export const BLUE = '#0173b2'; // seaborn "colorblind" blue, the original figure's line colour
export const ORANGE = '#d55e00';

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

/** Size, padding, fonts and colours of axes and titles. */
export function chartFrame(
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

/** The y axis title (two lines): z-scores, or which raw saliency. */
export function yTitle(data: FilterSaliencyData, what: string): string[] {
  if (data.standardized) return [`${what}z-score`, '(σ from the validation mean)'];
  const quantity =
    data.aggregation === 'filter-abs-mean'
      ? '|mean ∂L/∂w|'
      : data.aggregation === 'signed'
        ? 'mean ∂L/∂w'
        : 'mean |∂L/∂w|';
  return [
    `${what}raw saliency: ${quantity}`,
    `per ${hasOtherKinds(data.layers) ? 'unit' : 'filter'} (not standardised)`,
  ];
}

/** A d3 number format for axis ticks over [lo, hi]. */
export function tickFormat(lo: number, hi: number): string {
  const m = Math.max(Math.abs(lo), Math.abs(hi));
  return m > 0 && (m < 0.01 || m >= 1e5) ? '.2~e' : '~g';
}

export function tickLabelWidth(lo: number, hi: number, size: number): number {
  const f =
    tickFormat(lo, hi) === '.2~e'
      ? (v: number) => v.toExponential(2)
      : (v: number) => String(Number(v.toPrecision(3)));
  return Math.max(textWidth(f(lo), size), textWidth(f(hi), size), textWidth('-0.00', size));
}
