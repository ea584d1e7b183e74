/** Reading weights files into a Model. */
import { readFile } from 'node:fs/promises';
import { PssError } from '../errors.js';
import type { Architecture } from './architecture.js';
import { Model } from './model.js';
import { parseSafeTensors, toFloat32 } from './safetensors.js';

export async function readFileOrFail(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new PssError(`${what} not found: ${path}`);
    if (code === 'EISDIR') throw new PssError(`${what} is a directory, not a file: ${path}`);
    if (code === 'EACCES') throw new PssError(`${what} is not readable (permission denied): ${path}`);
    throw e;
  }
}

/** Loads a .safetensors file with torchvision parameter names. */
export async function loadWeights(arch: Architecture, path: string): Promise<Model> {
  const st = parseSafeTensors(await readFileOrFail(path, 'weights file'), `weights file ${path}`);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of st.tensors) {
    if (t.dtype === 'F32' || t.dtype === 'F64' || t.dtype === 'F16' || t.dtype === 'BF16')
      tensors.set(name, { shape: t.shape, data: toFloat32(t) });
  }
  return Model.fromTensors(arch, tensors, `weights file ${path}`);
}
