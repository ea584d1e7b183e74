/**
 * Pillow's antialiased resizes of an 8-bit image (RGB or greyscale), reproduced bit for bit:
 * BILINEAR (torchvision's default) and the other filters of `Image.resize` (resizePillow).
 *
 * torchvision 0.14's Resize on a PIL image calls `img.resize((w, h), Image.BILINEAR)`, which is
 * Pillow's `ImagingResample` (libImaging/Resample.c, Pillow 9.4): a triangle filter whose support
 * grows with the downscale factor (so downscaling averages, not point-samples), weights
 * renormalised over the taps inside the image, computed per axis in double precision and then
 * rounded to 22-bit fixed point; a horizontal pass over only the rows the vertical pass needs,
 * rounded and clipped to 8 bits, then a vertical pass, rounded and clipped again. sharp's
 * (libvips') resize is a different filter, so it is not used here.
 */
/** 8-bit pixels, interleaved row by row; the channel count is data.length / (width · height). */
export interface Pixels {
  width: number;
  height: number;
  data: Uint8Array;
}

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

interface Coefficients {
  /** Taps per output pixel (the stride of `k`). */
  ksize: number;
  /** Per output pixel: first input index and number of taps. */
  bounds: Int32Array;
  /** Fixed-point weights, `ksize` per output pixel. */
  k: Int32Array;
}

interface Filter {
  f: (x: number) => number;
  support: number;
}

const sinc = (x: number) => (x === 0 ? 1 : Math.sin(x * Math.PI) / (x * Math.PI));
/** Pillow's filters (libImaging/Resample.c), by their Image.Resampling codes. */
const FILTERS: Record<number, Filter> = {
  1: { f: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0), support: 3 }, // LANCZOS
  2: { f: (x) => (Math.abs(x) < 1 ? 1 - Math.abs(x) : 0), support: 1 }, // BILINEAR
  3: {
    // BICUBIC, a = -0.5
    f: (x) => {
      const a = Math.abs(x);
      if (a < 1) return (1.5 * a - 2.5) * a * a + 1;
      if (a < 2) return (((a - 5) * a + 8) * a - 4) * -0.5;
      return 0;
    },
    support: 2,
  },
  4: { f: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0), support: 0.5 }, // BOX
  5: {
    // HAMMING
    f: (x) => {
      const a = Math.abs(x);
      if (a === 0) return 1;
      if (a >= 1) return 0;
      const t = a * Math.PI;
      return (Math.sin(t) / t) * (0.54 + 0.46 * Math.cos(t));
    },
    support: 1,
  },
};

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for the box [0, inSize). */
function coefficients(inSize: number, outSize: number, filter: Filter): Coefficients {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const k = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      w[x] = filter.f((x + xmin - center + 0.5) * ss);
      ww += w[x];
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? w[x] / ww : w[x];
      k[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    bounds[2 * xx] = xmin;
    bounds[2 * xx + 1] = xmax;
  }
  return { ksize, bounds, k };
}

/** Pillow's clip8: the fixed-point sum back to 0..255. */
const clip8 = (v: number) => {
  const s = Math.floor(v / ONE); // an arithmetic shift right by PRECISION_BITS
  return Math.min(Math.max(s, 0), 255);
};

/**
 * `img.resize((width, height), Image.BILINEAR)` as Pillow 9.4 computes it, for an RGB or an "L"
 * image (any channel count: Pillow runs the same arithmetic on every channel).
 */
export function resizeBilinear<T extends Pixels>(img: T, width: number, height: number): T {
  return resizePillow(img, width, height, 2);
}

/**
 * `img.resize((width, height), resample)` as Pillow 9.4 computes it: `resample` 0 (NEAREST,
 * Pillow's ImagingScaleAffine) or one of the antialiased filters 1..5 (ImagingResample).
 */
export function resizePillow<T extends Pixels>(img: T, width: number, height: number, resample: number): T {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0))
    throw new RangeError(`resize to ${width}×${height}: the size must be positive integers`);
  const C = img.data.length / (img.width * img.height);
  if (!Number.isInteger(C) || C < 1)
    throw new RangeError('resize: data.length is not width · height · channels');
  const done = (data: Uint8Array) => ({ ...img, width, height, data });
  const needH = width !== img.width;
  const needV = height !== img.height;
  if (!needH && !needV) return done(img.data.slice());
  if (resample === 0) return done(nearest(img, width, height, C));
  const filter = FILTERS[resample];
  if (!filter) throw new RangeError(`resize: no Pillow filter ${resample}`);

  const horiz = coefficients(img.width, width, filter);
  const vert = coefficients(img.height, height, filter);
  // The horizontal pass covers only the input rows the vertical pass reads.
  let first = 0;
  let rows = img.height;
  if (needH && needV) {
    first = vert.bounds[0];
    rows = vert.bounds[2 * height - 2] + vert.bounds[2 * height - 1] - first;
  }

  let src = img.data;
  let srcW = img.width;
  if (needH) {
    const out = new Uint8Array(width * rows * C);
    const { ksize, bounds, k } = horiz;
    for (let y = 0; y < rows; y++) {
      const row = (y + first) * srcW * C;
      for (let xx = 0; xx < width; xx++) {
        const xmin = bounds[2 * xx];
        const n = bounds[2 * xx + 1];
        const kk = xx * ksize;
        for (let ch = 0; ch < C; ch++) {
          let s = HALF;
          for (let x = 0; x < n; x++) s += src[row + (xmin + x) * C + ch] * k[kk + x];
          out[(y * width + xx) * C + ch] = clip8(s);
        }
      }
    }
    src = out;
    srcW = width;
  }
  if (!needV) return done(src);

  const out = new Uint8Array(width * height * C);
  const { ksize, bounds, k } = vert;
  const stride = srcW * C;
  const acc = new Float64Array(stride); // exact: the sums stay below 2^31
  for (let yy = 0; yy < height; yy++) {
    const ymin = bounds[2 * yy] - first;
    const n = bounds[2 * yy + 1];
    acc.fill(HALF);
    for (let y = 0; y < n; y++) {
      const c = k[yy * ksize + y];
      const row = (ymin + y) * stride;
      for (let i = 0; i < stride; i++) acc[i] += src[row + i] * c;
    }
    for (let i = 0; i < stride; i++) out[yy * stride + i] = clip8(acc[i]);
  }
  return done(out);
}

/**
 * Pillow's NEAREST resize (ImagingScaleAffine): source positions accumulated in double
 * precision from the half-pixel centre, truncated; no antialiasing.
 */
function nearest(img: Pixels, width: number, height: number, C: number): Uint8Array {
  const sx = img.width / width;
  const sy = img.height / height;
  const coord = (v: number) => (v < 0 ? -1 : Math.trunc(v));
  const xin = new Int32Array(width);
  let xo = sx * 0.5;
  for (let x = 0; x < width; x++, xo += sx) xin[x] = Math.min(coord(xo), img.width - 1);
  const out = new Uint8Array(width * height * C);
  let yo = sy * 0.5;
  for (let y = 0; y < height; y++, yo += sy) {
    const row = Math.min(coord(yo), img.height - 1) * img.width;
    for (let x = 0; x < width; x++)
      for (let c = 0; c < C; c++) out[(y * width + x) * C + c] = img.data[(row + xin[x]) * C + c];
  }
  return out;
}
