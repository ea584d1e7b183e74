/**
 * The correction protocol's figures: per strategy, the share of misclassified images flipped
 * and corrected and the mean change in the true and the wrong class's probability against k,
 * each with its bootstrap band; and the depth histogram of the top-k units under z and POT
 * beside the filters' own spread over the layers.
 */
import type { TopLevelSpec } from 'vega-lite';
import { CORRECTION_STRATEGIES, type CorrectionStrategy } from '../jobs/correction.js';
import type { CorrectionSummary, DepthHistogram, Estimate } from '../jobs/correction-summary.js';
import { svgToPng, vegaLiteToSvg } from './render.js';
import { FONT } from './text.js';

const COLOURS: Record<CorrectionStrategy, string> = {
  z: '#1f77b4',
  pot: '#d62728',
  random: '#7f7f7f',
  'last-stage': '#2ca02c',
};

const METRICS = [
  ['corrected', 'corrected (% of misclassified)', 100],
  ['flipped', 'no longer the wrong class (%)', 100],
  ['dTrue', 'Δ p(true class), points', 100],
  ['dWrong', 'Δ p(wrong class), points', 100],
] as const;

export function correctionChartSpec(s: CorrectionSummary, title: string, context = ''): TopLevelSpec {
  const values = s.curves.flatMap((c) =>
    METRICS.flatMap(([key, label, scale]) =>
      (c[key] as Estimate[]).map((e, i) => ({
        metric: label,
        strategy: c.strategy,
        k: i + 1,
        mean: scale * e.mean,
        lo: scale * e.lo,
        hi: scale * e.hi,
      })),
    ),
  );
  const color = {
    field: 'strategy',
    type: 'nominal' as const,
    title: 'units updated',
    scale: { domain: [...CORRECTION_STRATEGIES], range: CORRECTION_STRATEGIES.map((x) => COLOURS[x]) },
  };
  const x = {
    field: 'k',
    type: 'quantitative' as const,
    title: 'units updated (k)',
    scale: { domain: [1, s.k] },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: title,
      subtitle: [
        ...(context ? [context] : []),
        `${s.misclassified} misclassified images; one SGD step on the top-k units; bands: 95% bootstrap intervals (${s.resamples} resamples)`,
      ],
      fontSize: 14,
      anchor: 'start',
    },
    background: 'white',
    padding: 12,
    data: { values },
    facet: { field: 'metric', type: 'nominal', title: null, sort: METRICS.map((m) => m[1]) },
    columns: 2,
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 300,
      height: 190,
      layer: [
        {
          mark: { type: 'area', opacity: 0.18 },
          encoding: { x, y: { field: 'lo', type: 'quantitative', title: null }, y2: { field: 'hi' }, color },
        },
        {
          mark: { type: 'line', strokeWidth: 1.8 },
          encoding: { x, y: { field: 'mean', type: 'quantitative', title: null }, color },
        },
      ],
    },
    config: {
      font: FONT,
      axis: { labelFontSize: 11, titleFontSize: 12 },
      legend: { labelFontSize: 11, orient: 'bottom' },
    },
  };
}

export function depthChartSpec(
  d: DepthHistogram,
  layers: readonly string[],
  title: string,
  context = '',
): TopLevelSpec {
  const series = [
    ['filters', 'all filters', '#bbbbbb'],
    ['z', `top ${d.k} by z`, COLOURS.z],
    ['pot', `top ${d.k} by POT`, COLOURS.pot],
  ] as const;
  const values = series.flatMap(([key, label]) =>
    layers.map((name, i) => ({ layer: `${i + 1} ${name}`, order: i, series: label, share: 100 * d[key][i] })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: title,
      subtitle: [
        ...(context ? [context] : []),
        `share of units per layer; total variation from the filters' spread: z ${d.tvZ.toFixed(3)}, POT ${d.tvPot.toFixed(3)}`,
      ],
      fontSize: 14,
      anchor: 'start',
    },
    width: { step: layers.length <= 12 ? 22 : 9 },
    height: 260,
    background: 'white',
    padding: 12,
    data: { values },
    mark: 'bar',
    encoding: {
      x: {
        field: 'layer',
        type: 'nominal',
        title: 'layer (input to output)',
        sort: { field: 'order' },
        axis: { labelAngle: -45 },
      },
      xOffset: { field: 'series', sort: series.map((s) => s[1]) },
      y: { field: 'share', type: 'quantitative', title: 'share of units (%)' },
      color: {
        field: 'series',
        type: 'nominal',
        title: null,
        scale: { domain: series.map((s) => s[1]), range: series.map((s) => s[2]) },
        legend: { orient: 'top' },
      },
    },
    config: { font: FONT, axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelFontSize: 11 } },
  };
}

export async function correctionChartPng(
  s: CorrectionSummary,
  title: string,
  context = '',
  scale = 2,
): Promise<Uint8Array> {
  return svgToPng(await vegaLiteToSvg(correctionChartSpec(s, title, context)), scale);
}

export async function depthChartPng(
  d: DepthHistogram,
  layers: readonly string[],
  title: string,
  context = '',
  scale = 2,
): Promise<Uint8Array> {
  return svgToPng(await vegaLiteToSvg(depthChartSpec(d, layers, title, context)), scale);
}
