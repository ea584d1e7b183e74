/** Inputs for CLI runs on tinycnn: its deterministic weights as a file, and IDX datasets of any size. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serializeSafeTensors } from '../../src/io/safetensors.js';
import { Model } from '../../src/models/model.js';
import { tinycnn } from '../../src/models/tinycnn.js';

export const tinyModel = Model.deterministic(tinycnn);

/** tinycnn's deterministic weights as a .safetensors file in `dir`; returns its path. */
export function writeTinyWeights(dir: string): string {
  const path = join(dir, 'tinycnn.safetensors');
  const tensors = tinyModel.params.map((p) => [
    p.name,
    { dtype: 'F32' as const, shape: p.shape, data: tinyModel.weights.get(p.name)! },
  ]);
  writeFileSync(path, serializeSafeTensors(Object.fromEntries(tensors)));
  return path;
}

/** An IDX images file of n pseudo-random 29x29 images and its labels file; returns the images path. */
export function writeIdx(dir: string, n: number, name = 'x'): string {
  const img = Buffer.alloc(16 + n * 29 * 29);
  img.writeUInt32BE(2051, 0);
  img.writeUInt32BE(n, 4);
  img.writeUInt32BE(29, 8);
  img.writeUInt32BE(29, 12);
  for (let i = 16; i < img.length; i++) img[i] = (i * 2654435761) >>> 24;
  const lab = Buffer.alloc(8 + n);
  lab.writeUInt32BE(2049, 0);
  lab.writeUInt32BE(n, 4);
  for (let i = 0; i < n; i++) lab[8 + i] = i % 10;
  writeFileSync(join(dir, `${name}-images-idx3-ubyte`), img);
  writeFileSync(join(dir, `${name}-labels-idx1-ubyte`), lab);
  return join(dir, `${name}-images-idx3-ubyte`);
}
