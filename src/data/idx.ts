/** IDX files (MNIST, Fashion-MNIST), optionally gzipped: uint8 images and labels. */
import { createGunzip } from 'node:zlib';
import { PssError } from '../errors.js';
import { MAX_READ_BYTES, readFileChecked } from '../io/files.js';
import type { Dataset } from './dataset.js';

export interface IdxImages {
  count: number;
  height: number;
  width: number;
  pixels: Uint8Array;
}

const KINDS = {
  images: { magic: 0x803, rank: 3, noun: 'images' },
  labels: { magic: 0x801, rank: 1, noun: 'labels' },
} as const;
type Kind = keyof typeof KINDS;

/** Deflate expands at most 1032-fold; a gzip file claiming more than this cannot hold it. */
const MAX_DEFLATE_RATIO = 1032;

const formatBytes = (n: number) =>
  n < 2 ** 20
    ? `${n} bytes`
    : n < 2 ** 30
      ? `${(n / 2 ** 20).toFixed(1)} MiB`
      : `${(n / 2 ** 30).toFixed(1)} GiB`;

/**
 * An IDX file's header and its uint8 data, checked: the magic number (uint8 data, the rank of
 * images or labels), then the size the dimensions claim against the bytes that are there —
 * before anything is allocated. A gzipped file is inflated as a stream, up to that size only.
 */
async function unpack(
  bytes: Uint8Array,
  what: string,
  kind: Kind,
): Promise<{ dims: number[]; data: Uint8Array }> {
  const { magic, rank, noun } = KINDS[kind];
  const gzipped = bytes[0] === 0x1f && bytes[1] === 0x8b;
  const start = 4 + 4 * rank;
  const head = gzipped ? await gunzipPrefix(bytes, start, what) : bytes;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (head.byteLength < 4 || view.getUint32(0) !== magic) {
    const found =
      head.byteLength < 4
        ? `only ${head.byteLength} bytes`
        : `magic number 0x${view.getUint32(0).toString(16).padStart(8, '0')}`;
    throw new PssError(
      `${what} is not an IDX ${noun} file (${found}; expected 0x${magic.toString(16).padStart(8, '0')})`,
    );
  }
  if (head.byteLength < start)
    throw new PssError(
      `${what} is truncated: its header needs ${start} bytes, the file has ${head.byteLength}`,
    );
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const size = dims.reduce((a, b) => a * b, 1);
  const needed = start + size;
  const items = kind === 'images' ? `${dims[0]} images of ${dims[1]}x${dims[2]}` : `${dims[0]} labels`;
  if (needed > MAX_READ_BYTES)
    throw new PssError(
      `${what} claims ${items} (${formatBytes(size)}), more than pss reads (${formatBytes(MAX_READ_BYTES)})`,
    );
  if (gzipped && needed > MAX_DEFLATE_RATIO * bytes.byteLength + 2 ** 16)
    throw new PssError(
      `${what} is truncated: ${items} need ${formatBytes(size)}, more than a gzip file of ${bytes.byteLength} bytes can hold`,
    );
  const buf = gzipped ? await gunzipPrefix(bytes, needed, what) : bytes;
  if (buf.byteLength < needed) {
    const have = buf.byteLength - start;
    const whole =
      kind === 'images' && size > 0 ? `, ${Math.floor(have / (dims[1] * dims[2]))} whole images` : '';
    throw new PssError(
      `${what} is truncated: it holds ${have} bytes of ${noun}${whole}${gzipped ? ' once inflated' : ''}; ${items} need ${size}`,
    );
  }
  return { dims, data: buf.subarray(start, needed) };
}

/** The first `length` bytes of a gzip file (fewer if it ends first); a damaged stream is one line. */
async function gunzipPrefix(bytes: Uint8Array, length: number, what: string): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let at = 0;
  const gunzip = createGunzip({ chunkSize: 1 << 20 });
  gunzip.end(bytes);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      const n = Math.min(chunk.byteLength, length - at);
      out.set(chunk.subarray(0, n), at);
      at += n;
      if (at === length) break;
    }
  } catch (e) {
    const why =
      (e as Error).message === 'unexpected end of file' ? 'it ends early; truncated?' : (e as Error).message;
    throw new PssError(`${what} is a damaged gzip file: ${why.replace(/\s+/g, ' ')}`);
  } finally {
    gunzip.destroy();
  }
  return out.subarray(0, at);
}

/** An IDX images file's bytes (optionally gzipped) → uint8 images; `what` names it in messages. */
export async function parseIdxImages(bytes: Uint8Array, what: string): Promise<IdxImages> {
  const { dims, data } = await unpack(bytes, what, 'images');
  return { count: dims[0], height: dims[1], width: dims[2], pixels: data };
}

/** An IDX labels file's bytes (optionally gzipped) → uint8 labels. */
export async function parseIdxLabels(bytes: Uint8Array, what: string): Promise<Uint8Array> {
  return (await unpack(bytes, what, 'labels')).data;
}

export async function readIdxImages(path: string): Promise<IdxImages> {
  return parseIdxImages(await readFileChecked(path, 'IDX images file'), path);
}

export async function readIdxLabels(path: string): Promise<Uint8Array> {
  return parseIdxLabels(await readFileChecked(path, 'IDX labels file'), path);
}

/**
 * An IDX image/label pair as a dataset. Images are used at their own size (28x28 for
 * Fashion-MNIST): pixel/255, normalised by mean/std, replicated to `channels`.
 */
export async function idxDataset(
  imagesPath: string,
  labelsPath: string,
  norm: { mean: readonly number[]; std: readonly number[]; channels: number; height: number; width: number },
): Promise<Dataset> {
  const images = await readIdxImages(imagesPath);
  const labels = await readIdxLabels(labelsPath);
  if (labels.length !== images.count)
    throw new PssError(
      `${imagesPath} has ${images.count} images but ${labelsPath} has ${labels.length} labels`,
    );
  if (images.height !== norm.height || images.width !== norm.width)
    throw new PssError(
      `${imagesPath} holds ${images.height}x${images.width} images; the model takes ${norm.height}x${norm.width}`,
    );
  const per = images.height * images.width;
  return {
    description: `idx:${imagesPath} (${images.count} images)`,
    length: images.count,
    item: (i) => ({
      id: `${imagesPath}#${i}`,
      label: labels[i],
      load: async () => {
        const out = new Float32Array(norm.channels * per);
        for (let c = 0; c < norm.channels; c++) {
          const m = norm.mean[c % norm.mean.length];
          const s = norm.std[c % norm.std.length];
          for (let k = 0; k < per; k++) out[c * per + k] = (images.pixels[i * per + k] / 255 - m) / s;
        }
        return out;
      },
    }),
  };
}
