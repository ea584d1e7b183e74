/**
 * Preprocessing as data: how images become a model's input, from a description — pss's own
 * fields (`{"resize": 36, "mean": [0.5], "std": [0.5]}`), the fields of a Hugging Face
 * preprocessor_config.json (`size` as a shortest edge, an exact {height, width}, a longest edge
 * or a {max_height, max_width} box; `crop_size`, `image_mean`, `image_std`, `do_resize`,
 * `crop_pct`, `do_center_crop`, `do_normalize`, `do_rescale`, `rescale_factor`, `resample` (any
 * of Pillow's filters), `do_pad` and `pad_size`, with pss's `pad_value`, `pad_position` and
 * `crop_offsets`: "torchvision" (Python's round; pss's fields) or "hf" (floor; HF's fields)),
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

/** Pillow's filters by their Image.Resampling codes (src/image/resample.ts implements them). */
const RESAMPLE_NAMES: Readonly<Record<number, string>> = {
  0: 'nearest',
  1: 'lanczos',
  2: 'bilinear',
  3: 'bicubic',
  4: 'box',
  5: 'hamming',
};
type Fit = NonNullable<Preprocessing['box']>['fit'];
type Mutable = { -readonly [K in keyof Preprocessing]: Preprocessing[K] };

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
/**
 * "resize 256 → crop 224×224, mean […], std […]": what a preprocessing does, for outputs; every
 * choice that is not torchvision's default (bilinear, pixels / 255, its crop offsets) is said.
 */
export function describePreprocessing(p: Preprocessing, [, h, w]: Shape): string {
  let resize = `resize ${p.resize}`;
  if (p.noResize) resize = 'no resize';
  else if (p.box?.fit === 'exact')
    resize = `resize to ${p.box.height}×${p.box.width} (aspect ratio not kept)`;
  else if (p.box)
    resize = `resize to fit ${p.box.height}×${p.box.width}${p.box.fit === 'contain-trunc' ? ' (sides rounded down)' : ''}`;
  if (p.resample !== undefined && !p.noResize) resize += ` ${RESAMPLE_NAMES[p.resample] ?? p.resample}`;
  const fit = p.pad
    ? `crop or pad to ${h}×${w} (padding ${list(p.pad.value)} ${p.pad.position === 'center' ? 'around the image' : 'after the bottom and right'})`
    : `crop ${h}×${w}`;
  const scale = p.rescale === undefined ? '' : `pixels × ${Number(p.rescale.toPrecision(6))}, `;
  // the offsets do not matter when a box within the input leaves nothing to crop, and padding
  // (or an exact fit) places the image
  const b = p.box;
  const within = b !== undefined && b.height <= h && b.width <= w;
  const placed = within && (p.pad !== undefined || (b.fit === 'exact' && b.height === h && b.width === w));
  const offsets = p.hfCrop && !placed ? ", HF's centre-crop offsets" : '';
  return `${resize} → ${fit}, ${scale}mean ${list(p.mean)}, std ${list(p.std)}${offsets}`;
}

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
  crop_offsets: 'torchvision',
  image_mean: IMAGENET.mean,
  image_std: IMAGENET.std,
  ...(resample === 2 ? {} : { resample }),
});

/**
 * torchvision's transforms as descriptions, the same kind of entry a preprocessor_config.json
 * is: ImageNet's (resize 256, crop 224), Inception-v3's (resize 342, crop 299), and those of
 * the DEFAULT weights of the modern CNNs and the transformers (torchvision 0.14's weight metadata).
 */
export const PRESETS: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {
  imagenet: tv(256),
  inception: tv(342, 299),
  efficientnet_b0: tv(256, 224, 3),
  mobilenet_v3_large: tv(232),
  mobilenet_v3_small: tv(256),
  regnet_y_400mf: tv(232),
  convnext_tiny: tv(236),
  vit_b_16: tv(256),
  vit_b_32: tv(256),
  swin_t: tv(232, 224, 3),
};

/** A preset's resize, mean, std and filter (a built-in architecture's preprocessing), or undefined. */
export function presetPreprocessing(name: string): Preprocessing | undefined {
  const d = PRESETS[name];
  if (!d) return undefined;
  return {
    resize: (d.size as { shortest_edge: number }).shortest_edge,
    mean: d.image_mean as number[],
    std: d.image_std as number[],
    ...(typeof d.resample === 'number' ? { resample: d.resample } : {}),
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

type Side = { short?: number; long?: number; h?: number; w?: number; maxH?: number; maxW?: number };
/** A side from HF's `size` / `crop_size` / `pad_size`: a number, {shortest_edge}, {longest_edge}, {height, width} or {max_height, max_width}. */
function side(v: unknown, key: string, what: string): Side {
  if (typeof v === 'number') return { short: v, h: v, w: v };
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const n = (k: string) => (typeof o[k] === 'number' ? (o[k] as number) : undefined);
    if (n('shortest_edge') !== undefined || n('longest_edge') !== undefined)
      return { short: n('shortest_edge'), long: n('longest_edge') };
    if (n('height') !== undefined && n('width') !== undefined) return { h: n('height'), w: n('width') };
    if (n('max_height') !== undefined && n('max_width') !== undefined)
      return { maxH: n('max_height'), maxW: n('max_width') };
  }
  throw new PssError(
    `${what}: "${key}" must be a number, {"shortest_edge": n}, {"longest_edge": n}, {"height": h, "width": w} or {"max_height": h, "max_width": w}`,
  );
}

/** Fields of HF processors that change pixels in ways pss does not reproduce: refused when set. */
const UNSUPPORTED = [
  'do_flip_channel_order',
  'do_thumbnail',
  'do_align_long_axis',
  'do_color_quantize',
  'do_image_splitting',
  'keep_aspect_ratio',
  'ensure_multiple_of',
  'size_divisor',
  'size_divisibility',
];

/** The resize a description asks for (HF's size rules; ConvNeXt's crop_pct). */
function resizeOf(d: Record<string, unknown>, p: Mutable, [, h, w]: Shape, what: string, notes: string[]) {
  if (d.resize !== undefined) {
    p.resize = Number(d.resize);
    return;
  }
  if (d.do_resize === false) {
    p.noResize = true;
    return;
  }
  if (d.size === undefined) return;
  const s = side(d.size, 'size', what);
  const box = (height: number | undefined, width: number | undefined, fit: Fit) => {
    for (const v of [height, width])
      if (!(Number.isInteger(v) && v! >= 1 && v! <= 4096))
        throw new PssError(`${what}: the sides of "size" must be integers from 1 to 4096`);
    p.box = { height: height!, width: width!, fit };
  };
  if (s.short !== undefined && s.long !== undefined)
    throw new PssError(
      `${what}: "size" with both shortest_edge and longest_edge (DETR's resize) is not supported; give one of them`,
    );
  if (s.long !== undefined) return box(s.long, s.long, 'contain');
  if (s.maxH !== undefined) return box(s.maxH, s.maxW, 'contain-trunc');
  if (s.short === undefined) return box(s.h, s.w, 'exact');
  if (typeof d.size === 'number')
    notes.push(
      `${what} gives "size" ${d.size} as a number: read as the shortest edge (CLIP's reading); ViT-style processors read it as {"height": ${d.size}, "width": ${d.size}}: write that if it is meant`,
    );
  p.resize = s.short;
  if (typeof d.crop_pct === 'number') {
    // ConvNeXt's processor: below 384, the shortest edge is resized to size / crop_pct, then
    // cropped to size; from 384 on, the image is resized to size × size (warped, not cropped)
    if (s.short !== h || s.short !== w)
      throw new PssError(`${what}: "size" ${s.short} is not the model's input ${h}×${w}`);
    if (s.short < 384) p.resize = Math.trunc(s.short / d.crop_pct);
    else box(s.short, s.short, 'exact');
  }
}

/** HF's do_pad / pad_size, with pss's pad_value (the tensor value, per channel) and pad_position. */
function padOf(d: Record<string, unknown>, p: Mutable, [c, h, w]: Shape, what: string) {
  if (d.do_pad !== true) return;
  if (d.pad_size !== undefined) {
    const s = side(d.pad_size, 'pad_size', what);
    if ((s.h ?? s.short) !== h || (s.w ?? s.short) !== w)
      throw new PssError(`${what}: "pad_size" is not the model's input ${h}×${w}`);
  }
  const v = d.pad_value ?? 0;
  const value = typeof v === 'number' ? Array(c).fill(v) : v;
  if (!isNumbers(value) || value.length !== c)
    throw new PssError(`${what}: "pad_value" must be a number or ${c} numbers (the tensor's value)`);
  const position = d.pad_position ?? 'top-left';
  if (position !== 'top-left' && position !== 'center')
    throw new PssError(`${what}: "pad_position" must be "top-left" (HF's) or "center"`);
  p.pad = { value, position };
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
  for (const k of UNSUPPORTED)
    if (d[k] !== undefined && d[k] !== false && d[k] !== null)
      throw new PssError(`${what}: "${k}" is not supported (pss cannot reproduce it)`);
  let mean: unknown = d.mean ?? d.image_mean;
  let std: unknown = d.std ?? d.image_std;
  if (d.do_normalize === false) [mean, std] = [Array(c).fill(0), Array(c).fill(1)];
  if (!isNumbers(mean) || !isNumbers(std))
    throw new PssError(
      `${what}: "mean" and "std" (or "image_mean" and "image_std") must be lists of numbers`,
    );
  // pss's own fields keep torchvision's crop offsets, HF's take HF's, unless crop_offsets says
  const own = d.resize !== undefined || d.mean !== undefined || d.std !== undefined;
  const offsets = d.crop_offsets ?? (own ? 'torchvision' : 'hf');
  if (offsets !== 'torchvision' && offsets !== 'hf')
    throw new PssError(`${what}: "crop_offsets" must be "torchvision" or "hf"`);
  const p: Mutable = { resize: Math.max(h, w), mean, std, ...(offsets === 'hf' ? { hfCrop: true } : {}) };
  if (d.resample !== undefined) {
    if (!(typeof d.resample === 'number' && d.resample in RESAMPLE_NAMES))
      throw new PssError(
        `${what}: "resample" ${JSON.stringify(d.resample)} is not one of Pillow's filters (0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming)`,
      );
    if (d.resample !== 2) p.resample = d.resample;
  }
  if (d.do_rescale === false) p.rescale = 1;
  else if (d.rescale_factor !== undefined) {
    const f = d.rescale_factor;
    if (!(typeof f === 'number' && Number.isFinite(f) && f > 0))
      throw new PssError(`${what}: "rescale_factor" must be a positive number`);
    if (f !== 1 / 255) p.rescale = f;
  }
  const type = d.image_processor_type;
  if (typeof type === 'string' && /Fast$/.test(type))
    notes.push(
      `${what} names ${type}; pss computes what the slow (Pillow) processor does, which the fast one (torchvision on tensors) does not reproduce bit for bit`,
    );
  resizeOf(d, p, shape, what, notes);
  padOf(d, p, shape, what);
  const larger = p.box ? p.box.height > h || p.box.width > w : p.noResize || p.resize > Math.min(h, w);
  if (d.do_center_crop === false && larger)
    notes.push(
      `${what} asks for no centre crop; the model takes ${h}×${w}, so pss crops the middle of the resized image to it where it is larger`,
    );
  if (d.crop_size !== undefined && d.do_center_crop !== false) {
    const s = side(d.crop_size, 'crop_size', what);
    if ((s.h ?? s.short) !== h || (s.w ?? s.short) !== w)
      throw new PssError(`${what}: "crop_size" is not the model's input ${h}×${w}`);
  }
  if (!p.box && !p.noResize && (!Number.isInteger(p.resize) || p.resize < Math.min(h, w) || p.resize > 4096))
    throw new PssError(
      `${what}: the resize must be an integer from ${Math.min(h, w)} to 4096, got ${JSON.stringify(d.resize ?? d.size)}`,
    );
  if (mean.length !== c || std.length !== c)
    throw new PssError(
      `${what} has ${mean.length} mean and ${std.length} std values; ${source} takes ${c} channel${c === 1 ? '' : 's'}`,
    );
  if (std.some((s) => s <= 0)) throw new PssError(`${what}: every std must be positive`);
  return choice(p, shape, false, notes);
}

/** The text of a description (typed or uploaded) as JSON. */
export function parseDescription(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new PssError(`${what} is not valid JSON`);
  }
}

/**
 * The [height, width] a description fixes — its pad_size (do_pad), crop_size, exact size, padded
 * box, or ConvNeXt's crop_pct size — for a model whose input size is dynamic; undefined when it
 * fixes none (a shortest edge alone, or no description). Not validated: fromDescription is.
 */
export function describedSize(description: string | undefined): [number, number] | undefined {
  const t = description?.trim();
  if (!t || t === 'auto') return undefined;
  let d: Record<string, unknown>;
  try {
    d = (/^[\w-]+$/.test(t) ? PRESETS[t] : JSON.parse(t)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (!d || typeof d !== 'object') return undefined;
  const hw = (v: unknown, number = true): [number, number] | undefined => {
    if (typeof v === 'number') return number ? [v, v] : undefined;
    const o = (v ?? {}) as Record<string, unknown>;
    if (typeof o.height === 'number' && typeof o.width === 'number') return [o.height, o.width];
    if (d.do_pad === true && typeof o.max_height === 'number' && typeof o.max_width === 'number')
      return [o.max_height, o.max_width];
    if (d.do_pad === true && typeof o.longest_edge === 'number') return [o.longest_edge, o.longest_edge];
    if (typeof d.crop_pct === 'number' && typeof o.shortest_edge === 'number')
      return [o.shortest_edge, o.shortest_edge];
    return undefined;
  };
  if (d.do_pad === true && d.pad_size !== undefined) return hw(d.pad_size);
  if (d.crop_size !== undefined && d.do_center_crop !== false) return hw(d.crop_size);
  // a number size is a shortest edge (fromDescription's reading)
  if (d.resize === undefined && d.do_resize !== false && d.size !== undefined) return hw(d.size, false);
  return undefined;
}
