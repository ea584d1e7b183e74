/**
 * Preprocessing as data: how images become a model's input, from a description — pss's own
 * fields (`{"resize": 36, "mean": [0.5], "std": [0.5]}`), the fields of a Hugging Face
 * preprocessor_config.json (`size`, `crop_size`, `image_mean`, `image_std`, `do_resize`,
 * `crop_pct`, `do_center_crop`, `do_normalize`, `do_rescale`, `rescale_factor`, `resample`),
 * or the name of a preset (torchvision's transforms, entries of PRESETS, the same table) — or,
 * with no description, from the input shape alone (said to be assumed):
 * a 3×224×224 input gets torchvision's ImageNet transform; any other size is resized to cover
 * the input and centre-cropped to it, RGB inputs normalised by ImageNet's mean/std, greyscale
 * ones not at all (pixel / 255).
 * Whatever the source, the channel count must be the model's, and what cannot be honoured
 * is refused, not ignored.
 */
import { PssError } from '../errors.js';
import { IMAGENET, type Preprocessing } from './architecture.js';

export interface PreprocessingChoice {
  preprocessing: Preprocessing;
  /** For the page: "resize 256 → crop 224×224, mean [0.485, …], std […]". */
  summary: string;
  /** Nothing described it: worked out from the input shape. */
  assumed: boolean;
  notes: string[];
}

type Shape = readonly [number, number, number];

const list = (v: readonly number[]) => `[${v.map((x) => Number(x.toPrecision(4))).join(', ')}]`;
/** "resize 256 → crop 224×224, mean […], std […]": what a preprocessing does, for outputs. */
export const describePreprocessing = (p: Preprocessing, [, h, w]: Shape) =>
  `resize ${p.resize} → crop ${h}×${w}, mean ${list(p.mean)}, std ${list(p.std)}`;

function checkChannels(shape: Shape, source: string): void {
  const c = shape[0];
  if (c !== 1 && c !== 3)
    throw new PssError(
      `${source} takes ${c}-channel inputs; pss feeds images as 1 channel (greyscale) or 3 (RGB)`,
    );
}

function choice(p: Preprocessing, shape: Shape, assumed: boolean, notes: string[] = []): PreprocessingChoice {
  return { preprocessing: p, summary: describePreprocessing(p, shape), assumed, notes };
}

/** "auto": from the input shape alone. */
export function fromInputShape(shape: Shape, source: string): PreprocessingChoice {
  checkChannels(shape, source);
  const [c, h, w] = shape;
  if (c === 3 && h === 224 && w === 224) return choice(IMAGENET, shape, true);
  const mean = c === 3 ? IMAGENET.mean : [0];
  const std = c === 3 ? IMAGENET.std : [1];
  return choice({ resize: Math.max(h, w), mean, std }, shape, true);
}

/** torchvision's ImageClassification(crop_size, resize_size, interpolation) as a description (resample: PIL's code, 2 bilinear, 3 bicubic). */
const tv = (resize: number, crop = 224, resample = 2) => ({
  size: { shortest_edge: resize },
  crop_size: crop,
  image_mean: IMAGENET.mean,
  image_std: IMAGENET.std,
  ...(resample === 2 ? {} : { resample }),
});

/**
 * torchvision's transforms as descriptions, the same kind of entry a preprocessor_config.json
 * is: ImageNet's (resize 256, crop 224), Inception-v3's (resize 342, crop 299), and those of
 * the DEFAULT weights of the modern CNNs (torchvision 0.14's weight metadata).
 */
export const PRESETS: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {
  imagenet: tv(256),
  inception: tv(342, 299),
  efficientnet_b0: tv(256, 224, 3),
  mobilenet_v3_large: tv(232),
  mobilenet_v3_small: tv(256),
  regnet_y_400mf: tv(232),
  convnext_tiny: tv(236),
};

/** A preset's resize, mean and std (a built-in architecture's preprocessing), or undefined. */
export function presetPreprocessing(name: string): Preprocessing | undefined {
  const d = PRESETS[name];
  if (!d) return undefined;
  return {
    resize: (d.size as { shortest_edge: number }).shortest_edge,
    mean: d.image_mean as number[],
    std: d.image_std as number[],
  };
}

/** A preset by name, for a model of input `shape` (its crop must be the model's input). */
export function preset(name: string, shape: Shape, source: string): PreprocessingChoice {
  const d = PRESETS[name];
  if (!d)
    throw new PssError(
      `unknown preprocessing preset ${JSON.stringify(name)}; the presets are ${Object.keys(PRESETS).join(', ')} (or give a preprocessor_config.json)`,
    );
  checkChannels(shape, source);
  if (shape[0] !== 3)
    throw new PssError(`the ${name} transform makes RGB inputs; ${source} takes 1 channel (greyscale)`);
  const [, h, w] = shape;
  const crop = d.crop_size as number;
  const p = presetPreprocessing(name)!;
  const notes =
    h === crop && w === crop
      ? []
      : [`the ${name} preset crops ${crop}×${crop}; ${source} takes ${h}×${w}, so it is cropped to that`];
  if (d.resample === 3) notes.push(`the ${name} preset resizes bicubically; pss resizes bilinearly`);
  return choice(p, shape, false, notes);
}

/**
 * The one entry point: `description` is undefined or "auto" (from the input shape), a preset's
 * name, or a description's JSON text; `what` names it in messages.
 */
export function choosePreprocessing(
  description: string | undefined,
  shape: Shape,
  source: string,
  what = 'the preprocessing description',
): PreprocessingChoice {
  const d = description?.trim();
  if (!d || d === 'auto') return fromInputShape(shape, source);
  if (/^[\w-]+$/.test(d)) return preset(d, shape, source);
  return fromDescription(parseDescription(d, what), shape, source, what);
}

const isNumbers = (v: unknown): v is number[] =>
  Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x));

/** A side from HF's `size` / `crop_size`: a number, {shortest_edge}, or {height, width}. */
function side(v: unknown, key: string, what: string): { short?: number; h?: number; w?: number } {
  if (typeof v === 'number') return { short: v, h: v, w: v };
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.shortest_edge === 'number') return { short: o.shortest_edge };
    if (typeof o.height === 'number' && typeof o.width === 'number') return { h: o.height, w: o.width };
  }
  throw new PssError(`${what}: "${key}" must be a number, {"shortest_edge": n} or {"height": h, "width": w}`);
}

/** A preprocessing description (pss's fields, or a preprocessor_config.json's) for a model of input `shape`. */
export function fromDescription(
  json: unknown,
  shape: Shape,
  source: string,
  what: string,
): PreprocessingChoice {
  checkChannels(shape, source);
  if (!json || typeof json !== 'object' || Array.isArray(json))
    throw new PssError(`${what} must be a JSON object`);
  const d = json as Record<string, unknown>;
  const [c, h, w] = shape;
  const notes: string[] = [];
  let resize: number;
  let mean: unknown = d.mean ?? d.image_mean;
  let std: unknown = d.std ?? d.image_std;
  if (d.do_normalize === false) [mean, std] = [Array(c).fill(0), Array(c).fill(1)];
  if (
    d.do_rescale === false ||
    (d.rescale_factor !== undefined && Math.abs(Number(d.rescale_factor) - 1 / 255) > 1e-9)
  )
    throw new PssError(`${what}: pss scales pixels by 1/255 only (do_rescale true, rescale_factor 1/255)`);
  if (d.resample !== undefined && d.resample !== 2)
    notes.push(
      `${what} asks for resample ${JSON.stringify(d.resample)}; pss resizes bilinearly (resample 2)`,
    );
  if (d.resize !== undefined) {
    resize = Number(d.resize);
  } else if (d.size !== undefined && d.do_resize !== false) {
    const s = side(d.size, 'size', what);
    if (s.short === undefined) {
      if (s.h !== h || s.w !== w)
        throw new PssError(`${what}: "size" ${s.h}×${s.w} is not the model's input ${h}×${w}`);
      notes.push(`${what} resizes to exactly ${h}×${w}; pss keeps the aspect ratio and centre-crops`);
    }
    resize = s.short ?? Math.max(h, w);
    // ConvNeXt's processor: below 384, the shortest edge is resized to size / crop_pct, then cropped to size
    if (s.short !== undefined && typeof d.crop_pct === 'number' && s.short < 384) {
      if (s.short !== h || s.short !== w)
        throw new PssError(`${what}: "size" ${s.short} is not the model's input ${h}×${w}`);
      resize = Math.trunc(s.short / d.crop_pct);
    }
  } else resize = Math.max(h, w);
  if (d.do_center_crop === false && resize > Math.min(h, w))
    notes.push(
      `${what} asks for no centre crop; the model takes ${h}×${w}, so pss crops the middle of the resized image to it`,
    );
  if (d.crop_size !== undefined && d.do_center_crop !== false) {
    const s = side(d.crop_size, 'crop_size', what);
    if ((s.h ?? s.short) !== h || (s.w ?? s.short) !== w)
      throw new PssError(`${what}: "crop_size" is not the model's input ${h}×${w}`);
  }
  if (!Number.isInteger(resize) || resize < Math.min(h, w) || resize > 4096)
    throw new PssError(
      `${what}: the resize must be an integer from ${Math.min(h, w)} to 4096, got ${JSON.stringify(d.resize ?? d.size)}`,
    );
  if (!isNumbers(mean) || !isNumbers(std))
    throw new PssError(
      `${what}: "mean" and "std" (or "image_mean" and "image_std") must be lists of numbers`,
    );
  if (mean.length !== c || std.length !== c)
    throw new PssError(
      `${what} has ${mean.length} mean and ${std.length} std values; ${source} takes ${c} channel${c === 1 ? '' : 's'}`,
    );
  if (std.some((s) => s <= 0)) throw new PssError(`${what}: every std must be positive`);
  return choice({ resize, mean, std }, shape, false, notes);
}

/** The text of a description (typed or uploaded) as JSON. */
export function parseDescription(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new PssError(`${what} is not valid JSON`);
  }
}
