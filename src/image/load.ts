/**
 * Decoding image files to 8-bit RGB the way torchvision's loader sees them
 * (`PIL.Image.open(f).convert('RGB')`), with sharp (libvips) as the decoder.
 *
 * What PIL's convert('RGB') does, and what pss does (checked against Pillow 9.4; fixtures in
 * test/fixtures/images, made by scripts/reference/make_image_fixtures.py):
 * - RGBA, LA, palette with transparency (PNG tRNS, GIF), WebP with alpha: PIL DROPS the alpha
 *   channel — no compositing on a background, no premultiplication; fully transparent pixels
 *   show whatever colour they store. pss does the same (sharp's raw pixels, alpha discarded).
 * - Greyscale (L, LA, 1-bit): the grey value is copied to R, G and B. Palette: palette lookup.
 * - 16-bit PNG/TIFF: PIL keeps the HIGH BYTE (v >> 8) of 16-bit RGB, RGBA and grey+alpha
 *   images, which is what sharp does too. For 16-bit grey without alpha PIL opens mode "I" and
 *   convert('RGB') CLIPS every value above 255 to white — unreasonable, so pss does not follow it
 *   and uses the high byte there too, consistent with PIL's other 16-bit modes (round(v / 257)
 *   would differ from v >> 8 by at most one level).
 * - Embedded ICC profiles: PIL ignores them (no colour management), so pss ignores them too
 *   (sharp's ignoreIcc), so that a Display-P3 photo gives the numbers a torchvision model saw.
 * - EXIF orientation: torchvision's loader IGNORES it (a phone photo taken upright can reach
 *   the model sideways). pss applies it — a deliberate difference; images without the tag
 *   (ImageNet's, for instance) are unaffected.
 * - GIF and multi-page TIFF: the first frame/page only, as PIL's open() gives.
 * - CMYK JPEG/TIFF: PIL converts naively, without the profile: R = (255 − C)(255 − K)/255 in its
 *   integer arithmetic (Adobe JPEGs' inverted CMYK undone first). pss asks sharp for the raw
 *   CMYK values (the same as PIL's) and applies PIL's formula; sharp alone would colour-manage.
 * - Transparent GIF pixels: PIL's first frame is a palette image and convert('RGB') shows the
 *   palette colour of the transparent index; sharp renders them as transparent black. pss reads
 *   the index and the colour table from the GIF header and paints them in PIL's colour.
 * - Truncated or corrupt data: PIL raises ("image file is truncated"); sharp is told to fail on
 *   truncation and decoder errors (failOn: 'error'), so pss refuses the file instead of
 *   decoding grey padding. Decoder warnings are accepted: libjpeg's "extraneous bytes before
 *   marker", which PIL accepts too, but also "premature end of data segment" (damage inside a
 *   JPEG's entropy-coded data), which PIL refuses and libjpeg patches over. sharp's strictest
 *   level, 'warning', would refuse both.
 */
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { PssError } from '../errors.js';
import { readFileChecked } from '../io/files.js';
import { checkPixelBudget, MAX_PIXELS } from './budget.js';

/** An 8-bit RGB image, pixels interleaved row by row (H × W × 3). */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

const FORMATS: Readonly<Record<string, string>> = {
  jpeg: 'JPEG',
  png: 'PNG',
  webp: 'WebP',
  gif: 'GIF',
  tiff: 'TIFF',
};
const FORMAT_LIST = 'JPEG, PNG, WebP, GIF or TIFF';

export interface LoadImageOptions {
  /** How to name the image in error messages (default: the path, or "image" for bytes). */
  name?: string;
  /** Refuse images with more pixels than this (default MAX_PIXELS). */
  maxPixels?: number;
  /** Apply the EXIF orientation tag (default true; torchvision's loader does not). */
  autoOrient?: boolean;
  /**
   * The shorter side the caller will resize the image to (torchvision's Resize(n)): an image
   * whose resized size would exceed `maxPixels` is refused from its header, before decoding.
   */
  resize?: number;
}

/** sharp's messages are multi-line and prefixed (libjpeg repeats its warnings); one short line for a PssError. */
function reason(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const line = msg
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean)
    .join('; ')
    .replace(/\.$/, '');
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/**
 * Reads a JPEG, PNG, WebP, GIF (first frame) or TIFF file — a path or the file's bytes — into
 * 8-bit RGB as torchvision's loader would (see the file comment for the exact rules).
 * Problems with the file are PssErrors naming the file and the problem.
 */
export async function loadImage(
  source: string | Uint8Array,
  options: LoadImageOptions = {},
): Promise<RgbImage> {
  const name = options.name ?? (typeof source === 'string' ? source : 'image');
  const maxPixels = options.maxPixels ?? MAX_PIXELS;
  const what = `image file ${name}`;
  const bytes = typeof source === 'string' ? await readFileChecked(source, 'image file') : source;
  if (bytes.byteLength === 0) throw new PssError(`${what} is empty`);

  let meta: Metadata;
  try {
    // header only: no pixel limit here, so that an oversized image gets the message below
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (e) {
    const r = reason(e);
    if (/unsupported image format/i.test(r)) throw new PssError(`${what} is not a ${FORMAT_LIST} image`);
    throw new PssError(`${what} is not a readable image: ${r}`);
  }
  const format = FORMATS[meta.format ?? ''];
  if (!format)
    throw new PssError(
      `${what} is a ${String(meta.format).toUpperCase()} image; pss reads ${FORMAT_LIST} images`,
    );
  const { width, height } = meta;
  if (!(width > 0 && height > 0)) throw new PssError(`${what}: ${format} header has no image size`);
  checkPixelBudget(what, width, height, maxPixels, options.resize);

  const cmyk = meta.space === 'cmyk';
  let raw: { data: Buffer; info: OutputInfo };
  try {
    let pipeline = sharp(bytes, {
      failOn: 'error',
      limitInputPixels: maxPixels,
      ignoreIcc: true,
      autoOrient: options.autoOrient ?? true,
    });
    if (cmyk) pipeline = pipeline.pipelineColourspace('cmyk').toColourspace('cmyk');
    raw = await pipeline.raw().toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new PssError(`${what} is truncated or corrupt (${format}): ${reason(e)}`);
  }
  if (cmyk) return cmykToRgb(raw.data, raw.info, what);
  const transparent =
    meta.format === 'gif' && raw.info.channels === 4 ? gifTransparentColour(bytes) : undefined;
  return toRgb(raw.data, raw.info, what, transparent);
}

function checkDepth(info: OutputInfo, what: string) {
  const { depth } = info as OutputInfo & { depth?: string }; // reported at run time, not typed
  if (depth !== undefined && depth !== 'uchar')
    throw new PssError(`${what}: unexpected pixel depth ${depth} after decoding`);
}

/**
 * sharp's raw output (1-4 channels, 8 bits) → RGB: grey copied to R, G, B; alpha dropped.
 * `transparent`: the colour PIL shows for fully transparent pixels (GIF), if not their own.
 */
function toRgb(data: Uint8Array, info: OutputInfo, what: string, transparent?: readonly number[]): RgbImage {
  const { width, height, channels } = info;
  checkDepth(info, what);
  const n = width * height;
  if (channels === 3) return { width, height, data: new Uint8Array(data.buffer, data.byteOffset, n * 3) };
  const out = new Uint8Array(n * 3);
  if (channels === 1 || channels === 2) {
    for (let i = 0, j = 0; i < n; i++, j += channels) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = data[j];
  } else if (channels === 4) {
    for (let i = 0; i < n; i++) {
      const rgb = transparent && data[4 * i + 3] === 0 ? transparent : data.subarray(4 * i, 4 * i + 3);
      out[3 * i] = rgb[0];
      out[3 * i + 1] = rgb[1];
      out[3 * i + 2] = rgb[2];
    }
  } else {
    throw new PssError(
      `${what}: ${channels} channels after decoding; expected grey or RGB, with or without alpha`,
    );
  }
  return { width, height, data: out };
}

/** PIL's cmyk2rgb (Convert.c): out = CLIP8(nk − MULDIV255(c, nk)), nk = 255 − k. */
function cmykToRgb(data: Uint8Array, info: OutputInfo, what: string): RgbImage {
  const { width, height, channels } = info;
  checkDepth(info, what);
  if (channels < 4) throw new PssError(`${what}: a CMYK image decoded to ${channels} channels`);
  const n = width * height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const p = i * channels;
    const nk = 255 - data[p + 3];
    for (let c = 0; c < 3; c++) {
      const t = data[p + c] * nk + 128;
      const v = nk - (((t >> 8) + t) >> 8);
      out[3 * i + c] = Math.min(Math.max(v, 0), 255);
    }
  }
  return { width, height, data: out };
}

/**
 * The colour PIL gives the transparent pixels of a GIF's first frame: the entry of its
 * transparent index in the frame's colour table (local, else global). Reads the GIF block
 * structure up to the first image descriptor; undefined when there is no transparency.
 */
export function gifTransparentColour(gif: Uint8Array): [number, number, number] | undefined {
  const at = (i: number) => (i < gif.length ? gif[i] : Number.NaN);
  if (gif.length < 13) return undefined;
  let table: Uint8Array | undefined;
  let p = 13;
  if (gif[10] & 0x80) {
    const size = 3 << ((gif[10] & 7) + 1);
    table = gif.subarray(p, p + size);
    p += size;
  }
  let index: number | undefined;
  while (p < gif.length) {
    const block = gif[p];
    if (block === 0x21) {
      // extension: label, then sub-blocks; a graphic control extension holds the transparency
      if (at(p + 1) === 0xf9 && at(p + 2) === 4) index = at(p + 3) & 1 ? at(p + 6) : undefined;
      p += 2;
      while (p < gif.length && gif[p] !== 0) p += gif[p] + 1;
      p += 1;
    } else if (block === 0x2c) {
      const packed = at(p + 9);
      if (packed & 0x80) table = gif.subarray(p + 10, p + 10 + (3 << ((packed & 7) + 1)));
      if (index === undefined || table === undefined) return undefined;
      const colour = table.subarray(3 * index, 3 * index + 3);
      // PIL's palette reads missing entries as black
      return [colour[0] ?? 0, colour[1] ?? 0, colour[2] ?? 0];
    } else {
      return undefined;
    }
  }
  return undefined;
}
