/** Reading weights files into a Model. */
import { readFile } from 'node:fs/promises';
import { PssError } from '../errors.js';
import type { Architecture } from './architecture.js';
import { parseWeightsSpec, type ResolveOptions, resolveWeights } from './fetch.js';
import { fillOptional, mapHubNames, type NamedTensor, nameTable } from './hub-names.js';
import { Model } from './model.js';
import { Net } from './nn.js';
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

/**
 * Loads a .safetensors file with torchvision parameter names. `spec` is a local path, an
 * http(s) URL or a Hub reference (`hf:owner/repo[@rev][/file]`, `tv:resnet50`); remote files
 * are downloaded once into the cache (see fetch.ts). Hub checkpoints whose names differ from
 * torchvision's (timm's VGG head) are renamed, and optional tensors they lack (timm's
 * Inception-v3 has no AuxLogits) are filled in — `model.warnings` says so.
 */
export async function loadWeights(
  arch: Architecture,
  spec: string,
  options: ResolveOptions = {},
): Promise<Model> {
  const path = await resolveWeights(spec, { ...options, safetensors: true });
  const source = parseWeightsSpec(spec).kind === 'file' ? `weights file ${path}` : `weights ${spec}`;
  const st = parseSafeTensors(await readFileOrFail(path, 'weights file'), source);
  const read = new Map<string, NamedTensor>();
  for (const [name, t] of st.tensors) {
    if (t.dtype === 'F32' || t.dtype === 'F64' || t.dtype === 'F16' || t.dtype === 'BF16')
      read.set(name, { shape: t.shape, data: toFloat32(t) });
  }
  const { tensors } = mapHubNames(arch.name, read);
  let warnings: string[] = [];
  if (nameTable(arch.name)?.fill) {
    const numClasses = tensors.get(`${arch.classifier}.weight`)?.shape[0] ?? arch.defaultClasses;
    const net = new Net();
    arch.define(net, numClasses);
    warnings = fillOptional(arch.name, net.params, tensors, source);
  }
  const model = Model.fromTensors(arch, tensors, source);
  model.warnings = warnings;
  return model;
}
