/**
 * The dataset-level profile figures of `pss profile`: per layer (in order), the average
 * profile of each group of images, one panel per view — raw saliency (naive), z, and
 * −log10 P (POT) — each with its own y scale, as Wang & Sato's Figure 1 sets naive against
 * standardised. Vega-lite, rendered like every pss chart.
 */
import type { TopLevelSpec } from 'vega-lite';
import { type DatasetProfile, PROFILE_GROUPS, type ProfileGroup, type ProfileView } from '../jobs/profile.js';
import { svgToPng, vegaLiteToSvg } from './render.js';
import { FONT } from './text.js';

const COLOURS: Record<ProfileGroup, string> = {
  all: '#000000',
  correct: '#2ca02c',
  'incorrect (true label)': '#d62728',
  'incorrect (predicted label)': '#ff7f0e',
};

const VIEW_TITLES: Record<ProfileView, string> = {
  raw: 'raw saliency (naive)',
  z: 'z-score',
  pot: 'POT: -log10 P',
};

/** One panel per view; `groups` picks the lines (default: all four). */
export function profileChartSpec(
  p: DatasetProfile,
  title: string,
  groups: readonly ProfileGroup[] = PROFILE_GROUPS,
  context = '',
): TopLevelSpec {
  const shown = groups.filter((g) => p.groups[g].images > 0);
  const values = p.views.flatMap((view) =>
    shown.flatMap((group) =>
      Array.from(p.groups[group].layers[view]!, (value, i) => ({
        view: VIEW_TITLES[view],
        group: `${group} (${p.groups[group].images})`,
        layer: i + 1,
        name: p.layers[i].name,
        value,
      })),
    ),
  );
  const domain = shown.map((g) => `${g} (${p.groups[g].images})`);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: title,
      subtitle: [
        ...(context ? [context] : []),
        `mean over images, then over each layer's filters; ${p.images} images, ${p.correct} correct`,
      ],
      fontSize: 14,
      anchor: 'start',
    },
    background: 'white',
    padding: 12,
    data: { values },
    facet: {
      row: {
        field: 'view',
        type: 'nominal',
        title: null,
        sort: p.views.map((v) => VIEW_TITLES[v]),
        header: { labelFontSize: 12, labelAngle: 0, labelAlign: 'left', labelOrient: 'top' },
      },
    },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 560,
      height: 160,
      mark: { type: 'line', point: { filled: true, size: 30 }, strokeWidth: 1.8 },
      encoding: {
        x: {
          field: 'layer',
          type: 'quantitative',
          title: 'layer (input to output)',
          axis: { tickMinStep: 1, format: 'd' },
          scale: { domain: [1, p.layers.length] },
        },
        y: { field: 'value', type: 'quantitative', title: null, scale: { zero: true } },
        color: {
          field: 'group',
          type: 'nominal',
          title: 'images',
          scale: { domain, range: shown.map((g) => COLOURS[g]) },
          legend: { orient: 'bottom', columns: 2, labelLimit: 320 },
        },
        tooltip: [{ field: 'name' }, { field: 'group' }, { field: 'value', format: '.4g' }],
      },
    },
    config: { font: FONT, axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelFontSize: 11 } },
  };
}

export async function profileChartPng(
  p: DatasetProfile,
  title: string,
  groups?: readonly ProfileGroup[],
  context = '',
  scale = 2,
): Promise<Uint8Array> {
  return svgToPng(await vegaLiteToSvg(profileChartSpec(p, title, groups, context)), scale);
}
