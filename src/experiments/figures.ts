/** The experiments' figures: the pruning curves (vega-lite) and a captioned grid of images. */
import sharp, { type OverlayOptions } from 'sharp';
import type { TopLevelSpec } from 'vega-lite';
import { svgToPng, vegaLiteToSvg } from '../figures/render.js';
import { escapeXml, FONT, fitText } from '../figures/text.js';
import type { RgbImage } from '../image/load.js';
import { type PruneSummary, STRATEGIES } from './prune.js';

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

export interface GridCell {
  image: RgbImage;
  title: string;
  caption?: string;
  /** Frame colour (e.g. to mark the query). */
  frame?: string;
}

/**
 * Images in a grid, each with a two-line caption above it; small images are enlarged with
 * nearest-neighbour sampling so pixels stay sharp.
 */
export async function imageGrid(
  cells: readonly GridCell[],
  o: { columns?: number; cell?: number; gap?: number } = {},
): Promise<Uint8Array> {
  if (!cells.length) throw new RangeError('imageGrid: no images');
  const columns = Math.min(o.columns ?? 5, cells.length);
  const size = o.cell ?? 168;
  const gap = o.gap ?? 14;
  const titleSize = 13;
  const captionSize = 11;
  const captionH = Math.ceil(titleSize * 1.3 + captionSize * 1.35) + 6;
  const rows = Math.ceil(cells.length / columns);
  const width = columns * size + (columns + 1) * gap;
  const cellH = captionH + size + gap;
  const height = gap + rows * cellH;
  const layers: OverlayOptions[] = [];
  const texts: string[] = [];
  for (const [i, c] of cells.entries()) {
    const { width: w, height: h, data } = c.image;
    const scale = size / Math.max(w, h);
    const pw = Math.max(1, Math.round(w * scale));
    const ph = Math.max(1, Math.round(h * scale));
    const input = await sharp(data, { raw: { width: w, height: h, channels: 3 } })
      .resize(pw, ph, { kernel: scale >= 2 ? 'nearest' : 'lanczos3' })
      .png()
      .toBuffer();
    const left = gap + (i % columns) * (size + gap);
    const top = gap + Math.floor(i / columns) * cellH;
    const il = left + Math.floor((size - pw) / 2);
    const it = top + captionH + Math.floor((size - ph) / 2);
    layers.push({ input, left: il, top: it });
    if (c.frame)
      texts.push(
        `<rect x="${il - 2}" y="${it - 2}" width="${pw + 4}" height="${ph + 4}" fill="none" stroke="${c.frame}" stroke-width="4"/>`,
      );
    const x = left + size / 2;
    texts.push(
      `<text x="${x}" y="${top + titleSize}" font-size="${titleSize}" font-weight="bold" text-anchor="middle">${escapeXml(fitText(c.title, titleSize, size, true))}</text>`,
    );
    if (c.caption)
      texts.push(
        `<text x="${x}" y="${top + Math.round(titleSize * 1.3) + captionSize + 1}" font-size="${captionSize}" fill="#444" text-anchor="middle">${escapeXml(fitText(c.caption, captionSize, size))}</text>`,
      );
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><g font-family="${FONT}" fill="#111">${texts.join('')}</g></svg>`;
  const png = await sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
    .composite([...layers, { input: Buffer.from(svg), left: 0, top: 0 }])
    .png()
    .toBuffer();
  return new Uint8Array(png);
}
