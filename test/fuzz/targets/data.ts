/** Fuzz targets for data files: IDX (optionally gzipped) and images. */
import assert from 'node:assert/strict';
import { crc32, gzipSync } from 'node:zlib';
import { parseIdxImages, parseIdxLabels } from '../../../src/data/idx.js';
import { PssError } from '../../../src/errors.js';
import { loadImage } from '../../../src/image/load.js';
import { preprocess } from '../../../src/image/preprocess.js';
import { filesIn, MiB, numel, type Target } from './common.js';

// ---- IDX ---------------------------------------------------------------------------------------

function idxFile(magic: number, dims: number[], fill: (i: number) => number): Uint8Array {
  const start = 4 + 4 * dims.length;
  const out = new Uint8Array(start + numel(dims));
  const view = new DataView(out.buffer);
  view.setUint32(0, magic);
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d);
  for (let i = start; i < out.length; i++) out[i] = fill(i);
  return out;
}

const IDX_RAW = [
  idxFile(0x803, [5, 4, 3], (i) => (i * 13) & 0xff),
  idxFile(0x803, [0, 28, 28], () => 0),
  idxFile(0x803, [2, 28, 28], (i) => i & 0xff),
  idxFile(0x801, [7], (i) => i % 10),
  idxFile(0x801, [0], () => 0),
];

const idx: Target = {
  name: 'idx',
  seeds: [...IDX_RAW, ...IDX_RAW.map((b) => new Uint8Array(gzipSync(b)))],
  // mutations of the raw files, gzipped afterwards half the time: deep changes behind a valid CRC
  repairs: [(b) => new Uint8Array(gzipSync(b))],
  tokens: [Uint8Array.of(0, 0, 8, 3), Uint8Array.of(0, 0, 8, 1), Uint8Array.of(0x1f, 0x8b, 8, 0)],
  async run(bytes) {
    // the same bytes as either kind: each must parse validly or be refused with a PssError
    const [images, labels] = await Promise.allSettled([
      parseIdxImages(bytes, 'x-images.gz'),
      parseIdxLabels(bytes, 'x-labels.gz'),
    ]);
    for (const r of [images, labels])
      if (r.status === 'rejected' && !(r.reason instanceof PssError)) throw r.reason;
    if (images.status === 'fulfilled') {
      const { count, height, width, pixels } = images.value;
      assert.equal(pixels.length, count * height * width);
    }
    if (labels.status === 'fulfilled') return labels.value;
    if (images.status === 'rejected') throw images.reason;
    return images.value;
  },
  memoryBound: (n) => 32 * MiB + 1100 * n,
};

// ---- images ------------------------------------------------------------------------------------

/** Recomputes the CRC of every PNG chunk, so that mutated chunk contents reach the decoder. */
function fixPngCrcs(png: Uint8Array): Uint8Array {
  if (png.length < 8 || png[1] !== 0x50 || png[2] !== 0x4e || png[3] !== 0x47) return png;
  const out = new Uint8Array(png);
  const view = new DataView(out.buffer);
  for (let p = 8; p + 12 <= out.length; ) {
    const len = view.getUint32(p);
    if (p + 12 + len > out.length) break;
    view.setUint32(p + 8 + len, crc32(out.subarray(p + 4, p + 8 + len)));
    p += 12 + len;
  }
  return out;
}

/** The fuzz decodes at most this many pixels (4 Mpx), to keep cases fast; the check is the same. */
const FUZZ_MAX_PIXELS = 2 ** 22;

const image: Target = {
  name: 'image',
  seeds: [
    ...filesIn('test/fixtures/images', /\.(png|jpg|gif|webp|tiff)$/, 30_000),
    ...filesIn('examples/fashion', /\.png$/),
  ],
  repairs: [fixPngCrcs],
  tokens: [
    'IHDR',
    'IDAT',
    'IEND',
    'PLTE',
    'tRNS',
    Uint8Array.of(0xff, 0xd8, 0xff, 0xe0),
    Uint8Array.of(0xff, 0xc0),
    Uint8Array.of(0xff, 0xc2),
    Uint8Array.of(0xff, 0xda),
    Uint8Array.of(0xff, 0xd9),
    Uint8Array.of(0xff, 0xe1),
    'GIF89a',
    Uint8Array.of(0x21, 0xf9, 0x04),
    Uint8Array.of(0x2c),
    'RIFF',
    'WEBPVP8L',
    'II*\x00',
    'MM\x00*',
  ],
  async run(bytes) {
    const img = await loadImage(bytes, { name: 'x.png', maxPixels: FUZZ_MAX_PIXELS, resize: 64 });
    assert.equal(img.data.length, img.width * img.height * 3);
    const p = { resize: 64, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] } as Parameters<
      typeof preprocess
    >[1];
    const x = preprocess(img, p, 56);
    assert.equal(x.data.length, 3 * 56 * 56);
    return img;
  },
  // decoded pixels (sharp's buffer, RGB, the resize) are bounded by the pixel budget, not the file
  memoryBound: () => 64 * MiB + 12 * FUZZ_MAX_PIXELS,
};

export { idx, image };
