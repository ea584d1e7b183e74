/** The experiments' figures: the pruning curves (vega-lite) and a captioned grid of images. */
import type { TopLevelSpec } from 'vega-lite';
import { STRATEGIES } from '../jobs/prune-orders.js';
import type { PruneSummary } from '../jobs/prune-summary.js';
import { composeGrid, type Panel } from './gradcam.js';
import { svgToPng, vegaLiteToSvg } from './render.js';
import { FONT } from './text.js';

const COLOURS: Record<(typeof STRATEGIES)[number], string> = {
  salient: '#d62728',
  random: '#7f7f7f',
  'least-salient': '#1f77b4',
};

/** Fraction of misclassified images corrected vs k, one line per strategy. */
export function pruneChartSpec(s: PruneSummary, title: string): TopLevelSpec {
  const values = s.strategies.flatMap((t) =>
    t.fraction.map((fr, i) => ({ k: i + 1, strategy: t.strategy, percent: 100 * fr, count: t.corrected[i] })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle: `${s.images} misclassified images`, fontSize: 14, anchor: 'start' },
    width: 520,
    height: 300,
    background: 'white',
    padding: 12,
    data: { values },
    mark: { type: 'line', point: { filled: true, size: 45 }, strokeWidth: 2 },
    encoding: {
      x: {
        field: 'k',
        type: 'quantitative',
        title: 'filters turned off (k)',
        axis: { tickMinStep: 1, format: 'd' },
        scale: { domain: [1, s.k] },
      },
      y: { field: 'percent', type: 'quantitative', title: 'corrected (% of misclassified)' },
      color: {
        field: 'strategy',
        type: 'nominal',
        title: 'filters zeroed',
        scale: { domain: [...STRATEGIES], range: STRATEGIES.map((x) => COLOURS[x]) },
        legend: { orient: 'top-left', fillColor: 'white' },
      },
    },
    config: { font: FONT, axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelFontSize: 11 } },
  };
}

export async function pruneChartPng(s: PruneSummary, title: string, scale = 2): Promise<Uint8Array> {
  return svgToPng(await vegaLiteToSvg(pruneChartSpec(s, title)), scale);
}

export type GridCell = Panel;

/**
 * Images in a grid, each with a two-line caption above it; small images are enlarged with
 * nearest-neighbour sampling so pixels stay sharp.
 */
export async function imageGrid(
  cells: readonly GridCell[],
  o: { columns?: number; cell?: number; gap?: number } = {},
): Promise<Uint8Array> {
  if (!cells.length) throw new RangeError('imageGrid: no images');
  return composeGrid(cells, {
    columns: o.columns ?? 5,
    panelSize: o.cell ?? 168,
    gap: o.gap ?? 14,
    titleSize: 13,
    captionSize: 11,
    pixelated: true,
  });
}
