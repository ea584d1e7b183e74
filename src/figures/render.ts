/** Rendering: vega-lite → vega → SVG (headless, no canvas), SVG → PNG (sharp, librsvg). */
import sharp from 'sharp';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { textWidth } from './text.js';

interface TextItem {
  fontSize?: number;
  fontWeight?: string | number;
  limit?: number;
}

/**
 * Without a canvas, vega estimates text as 0.8 em per character — far wider than DejaVu Sans, so
 * axis titles and chart titles get pushed off the figure. Its text metrics are replaceable (as
 * vl-convert does); pss measures with DejaVu Sans's real advance widths (text.ts).
 */
function useDejaVuMetrics() {
  const metrics = (vega as unknown as { textMetrics?: { width: (item: TextItem, text: unknown) => number } })
    .textMetrics;
  if (!metrics) return;
  metrics.width = (item, text) => {
    const size = item.fontSize != null ? +item.fontSize || 0 : 11;
    const weight = item.fontWeight;
    const bold = weight === 'bold' || weight === 'bolder' || (typeof weight === 'number' && weight >= 600);
    const w = textWidth(text == null ? '' : String(text).trim(), size, bold);
    return item.limit && item.limit > 0 ? Math.min(w, item.limit) : w;
  };
}

/** Renders a vega-lite spec to an SVG document (text stays text: searchable, scalable). */
export async function vegaLiteToSvg(spec: TopLevelSpec): Promise<string> {
  useDejaVuMetrics();
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Rasterises an SVG document to PNG at `scale` × its own pixel size (librsvg via sharp). */
export async function svgToPng(svg: string, scale = 1): Promise<Uint8Array> {
  if (!(scale > 0 && scale <= 8)) throw new RangeError(`PNG scale must be in (0, 8], got ${scale}`);
  const png = await sharp(Buffer.from(svg), { density: 72 * scale })
    .png()
    .toBuffer();
  return new Uint8Array(png);
}
