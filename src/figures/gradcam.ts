/**
 * Grad-CAM overlays and the side-by-side comparison figure: image | PSS map | Grad-CAM
 * (predicted class) | Grad-CAM (true class).
 *
 * A class-activation map of any size is min–max scaled to [0, 1] (a constant map → zeros), then
 * upsampled bilinearly to the image (pixel centres aligned: cv2.resize's INTER_LINEAR,
 * torch's interpolate(align_corners=False), edges clamped — the order pytorch-grad-cam uses),
 * then coloured and overlaid exactly like the PSS heatmap (heatmap.ts: OpenCV's JET, salient =
 * red; overlay = (colour / 255 + image / 255) / its maximum), so the panels compare like with like.
 */
import sharp, { type OverlayOptions } from 'sharp';
import type { RgbImage } from '../image/load.js';
import { jetColours, overlay } from './heatmap.js';
import { escapeXml, FONT, fitText, textWidth } from './text.js';

/** A map of h × w values, row-major. */
export interface ActivationMap {
  data: ArrayLike<number>;
  width: number;
  height: number;
}

/** Min–max scaling to [0, 1]; constant (or empty) maps give zeros; non-finite values are refused. */
export function normalizeMap(map: ActivationMap): Float32Array {
  const { data, width, height } = map;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0))
    throw new RangeError(`activation map size must be positive integers, got ${width}×${height}`);
  if (data.length !== width * height)
    throw new RangeError(
      `activation map holds ${data.length} values; ${width}×${height} needs ${width * height}`,
    );
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v))
      throw new RangeError(`activation map has a non-finite value (${v}) at index ${i}`);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const out = new Float32Array(data.length);
  const range = max - min;
  if (range > 0) for (let i = 0; i < data.length; i++) out[i] = (data[i] - min) / range;
  return out;
}

/** Bilinear resampling with aligned pixel centres (align_corners = false) and clamped edges. */
export function resizeBilinear(map: ActivationMap, width: number, height: number): Float32Array {
  const { data, width: w, height: h } = map;
  const out = new Float32Array(width * height);
  const sx = w / width;
  const sy = h / height;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), h - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, h - 1);
    const ty = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), w - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, w - 1);
      const tx = fx - x0;
      const top = data[y0 * w + x0] * (1 - tx) + data[y0 * w + x1] * tx;
      const bottom = data[y1 * w + x0] * (1 - tx) + data[y1 * w + x1] * tx;
      out[y * width + x] = top * (1 - ty) + bottom * ty;
    }
  }
  return out;
}

export interface CamOverlay {
  /** The map scaled to [0, 1] and resized to the image. */
  map: Float32Array;
  /** Its JET colours alone. */
  heat: RgbImage;
  /** The colours over the image (as the PSS heatmap's overlay). */
  overlay: RgbImage;
}

/** Colours a class-activation map (any size) over `image` (see the file comment). */
export function camOverlay(cam: ActivationMap, image: RgbImage): CamOverlay {
  const map = resizeBilinear(
    { data: normalizeMap(cam), width: cam.width, height: cam.height },
    image.width,
    image.height,
  );
  const heat = jetColours(map, image.width, image.height);
  return { map, heat, overlay: overlay(heat, image) };
}

export interface Panel {
  image: RgbImage;
  /** First caption line (bold). */
  title: string;
  /** Second caption line. */
  caption?: string;
  /** A frame around the image in this colour (e.g. to mark the query of a neighbour grid). */
  frame?: string;
}

export interface PanelOptions {
  /** The longer side of each panel's image in px (default 300); images are resized (Lanczos). */
  panelSize?: number;
  /** Space between and around panels in px (default 16). */
  gap?: number;
}

export interface GridOptions extends PanelOptions {
  /** Panels per row (default: all in one row). */
  columns?: number;
  /** Font sizes of the two caption lines (default 14 and 12). */
  titleSize?: number;
  captionSize?: number;
  /** Enlarge small images (2× or more) with nearest-neighbour sampling, so pixels stay sharp. */
  pixelated?: boolean;
}

/** Panels side by side, each with a two-line caption above it, as one PNG. */
export async function composePanels(
  panels: readonly Panel[],
  options: PanelOptions = {},
): Promise<Uint8Array> {
  if (panels.length === 0) throw new RangeError('composePanels: no panels');
  return composeGrid(panels, { ...options, columns: panels.length });
}

/** Panels in rows of `columns`, each with a two-line caption above its image, as one PNG. */
export async function composeGrid(panels: readonly Panel[], options: GridOptions = {}): Promise<Uint8Array> {
  if (panels.length === 0) throw new RangeError('composeGrid: no panels');
  const size = options.panelSize ?? 300;
  const gap = options.gap ?? 16;
  if (!(Number.isInteger(size) && size >= 32))
    throw new RangeError(`panel size must be an integer ≥ 32, got ${size}`);
  const columns = Math.min(options.columns ?? panels.length, panels.length);
  const titleSize = options.titleSize ?? 14;
  const captionSize = options.captionSize ?? 12;
  const captionH = Math.ceil(titleSize * 1.3 + captionSize * 1.35) + 8;
  const cellH = captionH + size + gap;
  const width = columns * size + (columns + 1) * gap;
  const height = gap + Math.ceil(panels.length / columns) * cellH;
  const layers: OverlayOptions[] = [];
  const texts: string[] = [];
  for (const [i, p] of panels.entries()) {
    const { width: w, height: h, data } = p.image;
    if (data.length !== w * h * 3)
      throw new RangeError(`panel "${p.title}": image data does not match ${w}×${h} RGB`);
    const scale = size / Math.max(w, h);
    const pw = Math.max(1, Math.round(w * scale));
    const ph = Math.max(1, Math.round(h * scale));
    const input = await sharp(data, { raw: { width: w, height: h, channels: 3 } })
      .resize(pw, ph, { kernel: options.pixelated && scale >= 2 ? 'nearest' : 'lanczos3' })
      .png()
      .toBuffer();
    const left = gap + (i % columns) * (size + gap);
    const top = gap + Math.floor(i / columns) * cellH;
    const il = left + Math.floor((size - pw) / 2);
    const it = top + captionH + Math.floor((size - ph) / 2);
    layers.push({ input, left: il, top: it });
    if (p.frame)
      texts.push(
        `<rect x="${il - 2}" y="${it - 2}" width="${pw + 4}" height="${ph + 4}" fill="none" stroke="${escapeXml(p.frame)}" stroke-width="4"/>`,
      );
    const x = left + size / 2;
    texts.push(
      `<text x="${x}" y="${top + titleSize}" font-size="${titleSize}" font-weight="bold" text-anchor="middle">${escapeXml(fitText(p.title, titleSize, size, true))}</text>`,
    );
    if (p.caption)
      texts.push(
        `<text x="${x}" y="${top + Math.round(titleSize * 1.3) + captionSize + 2}" font-size="${captionSize}" fill="#444" text-anchor="middle">${escapeXml(fitText(p.caption, captionSize, size))}</text>`,
      );
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><g font-family="${FONT}" fill="#111">${texts.join('')}</g></svg>`;
  layers.push({ input: Buffer.from(svg), left: 0, top: 0 });
  const png = await sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
    .composite(layers)
    .png()
    .toBuffer();
  return new Uint8Array(png);
}

/** A class, named and with its probability, for captions. */
export interface ClassInfo {
  class: number;
  name?: string;
  probability?: number;
}

/** "name (id), p = 0.123" in at most `maxWidth` px at 12 px: the name is shortened, never the numbers. */
function describe(c: ClassInfo, prefix: string, maxWidth: number): string {
  const p = c.probability !== undefined ? `, p = ${c.probability.toFixed(3)}` : '';
  if (!c.name) return `${prefix}class ${c.class}${p}`;
  const suffix = ` (${c.class})${p}`;
  return `${prefix}${fitText(c.name, 12, Math.max(24, maxWidth - textWidth(prefix + suffix, 12)))}${suffix}`;
}

export interface ComparisonInput {
  /** The image the model saw (the preprocessed crop). */
  image: RgbImage;
  /** The PSS heatmap's overlay (InputHeatmap.overlay). */
  pssOverlay: RgbImage;
  /** Grad-CAM maps (any size) for the predicted and the true class; a panel is left out when absent. */
  gradcamPredicted?: ActivationMap;
  gradcamTrue?: ActivationMap;
  predicted: ClassInfo;
  label: ClassInfo;
  /** Second caption line of the PSS panel (e.g. "top 10 filters, boost ×100"). */
  pssCaption?: string;
}

/** image | PSS map overlay | Grad-CAM (predicted class) | Grad-CAM (true class), captioned, as one PNG. */
export async function comparisonFigure(
  input: ComparisonInput,
  options: PanelOptions = {},
): Promise<Uint8Array> {
  const correct = input.predicted.class === input.label.class;
  const room = (options.panelSize ?? 300) - 4;
  const panels: Panel[] = [
    {
      image: input.image,
      title: correct ? 'Image (classified correctly)' : 'Image (misclassified)',
      caption: describe(input.label, 'true: ', room),
    },
    {
      image: input.pssOverlay,
      title: 'PSS input-space saliency',
      caption: input.pssCaption ?? 'pixels driving the most salient filters',
    },
  ];
  if (input.gradcamPredicted)
    panels.push({
      image: camOverlay(input.gradcamPredicted, input.image).overlay,
      title: 'Grad-CAM: predicted class',
      caption: describe(input.predicted, '', room),
    });
  if (input.gradcamTrue)
    panels.push({
      image: camOverlay(input.gradcamTrue, input.image).overlay,
      title: 'Grad-CAM: true class',
      caption: describe(input.label, '', room),
    });
  return composePanels(panels, options);
}
