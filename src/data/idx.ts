/** IDX files (MNIST, Fashion-MNIST), optionally gzipped: uint8 images and labels. */
import { gunzipSync } from 'node:zlib';
import { PssError } from '../errors.js';
import { readFileChecked } from '../io/files.js';
import type { Dataset } from './dataset.js';

export interface IdxImages {
  count: number;
  height: number;
  width: number;
  pixels: Uint8Array;
}

function unpack(bytes: Uint8Array, path: string, magic: number): { dims: number[]; data: Uint8Array } {
  const buf = bytes[0] === 0x1f && bytes[1] === 0x8b ? new Uint8Array(gunzipSync(bytes)) : bytes;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.byteLength < 8 || view.getUint32(0) !== magic)
    throw new PssError(`${path} is not an IDX ${magic === 2051 ? 'images' : 'labels'} file`);
  const rank = magic === 2051 ? 3 : 1;
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const start = 4 + 4 * rank;
  const size = dims.reduce((a, b) => a * b, 1);
  if (buf.byteLength - start < size)
    throw new PssError(`${path} is truncated: ${dims.join('x')} needs ${size} bytes`);
  return { dims, data: buf.subarray(start, start + size) };
}

export async function readIdxImages(path: string): Promise<IdxImages> {
  const { dims, data } = unpack(await readFileChecked(path, 'IDX images file'), path, 2051);
  return { count: dims[0], height: dims[1], width: dims[2], pixels: data };
}

export async function readIdxLabels(path: string): Promise<Uint8Array> {
  return unpack(await readFileChecked(path, 'IDX labels file'), path, 2049).data;
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
