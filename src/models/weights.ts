/** Reading weights files into a Model. */
import { rm } from 'node:fs/promises';
import { PssError } from '../errors.js';
import { readFileChecked } from '../io/files.js';
import { isTorchCheckpoint, looksLikeSafeTensors, readCheckpoint, stateDictTensors } from '../io/pth.js';
import { parseSafeTensors, toFloat32 } from '../io/safetensors.js';
import type { Architecture } from './architecture.js';
import { type ResolveOptions, resolveWeights } from './download/resolve.js';
import { parseWeightsSpec } from './download/spec.js';
import { fillOptional, mapHubNames, type NamedTensor, nameTable } from './hub-names.js';
import { Model } from './model.js';
import { Net } from './nn.js';

/** File names of PyTorch checkpoints (torch.save), as opposed to .safetensors. */
const CHECKPOINT_NAME = /\.(pth|pt|bin|ckpt|tar)$/i;

/**
 * Loads weights with torchvision parameter names: a .safetensors file, or a PyTorch
 * checkpoint (torch.save, zip or legacy format; told apart by content, see pth.ts) holding a
 * state dict — itself or under "state_dict" / "model" — so torchvision's published URLs
 * work as they are. `spec` is a local path, an http(s) URL or a Hub reference
 * (`hf:owner/repo[@rev][/file]`, `tv:resnet50`); remote files are downloaded once into the
 * cache (see download/). Hub checkpoints whose names differ from torchvision's (timm's VGG
 * head) are renamed, and optional tensors they lack (timm's Inception-v3 has no AuxLogits)
 * are filled in — `model.warnings` says so.
 */
export async function loadWeights(
  arch: Architecture,
  spec: string,
  options: ResolveOptions = {},
): Promise<Model> {
  const parsed = parseWeightsSpec(spec);
  const remote = parsed.kind === 'file' ? undefined : parsed.url;
  // A remote .pth is checked here, after the download, instead of by its safetensors header.
  const checkpointName = remote !== undefined && CHECKPOINT_NAME.test(new URL(remote).pathname);
  const path = await resolveWeights(spec, { ...options, safetensors: !checkpointName });
  const source = parsed.kind === 'file' ? `weights file ${path}` : `weights ${spec}`;
  const bytes = await readFileChecked(path, 'weights file');
  const read = new Map<string, NamedTensor>();
  const named = CHECKPOINT_NAME.test(remote ? new URL(remote).pathname : path);
  if (isTorchCheckpoint(bytes) || (named && !looksLikeSafeTensors(bytes))) {
    try {
      for (const [name, t] of stateDictTensors(readCheckpoint(bytes, source), source))
        if (t.isFloating()) read.set(name, { shape: [...t.shape], data: t.toFloat32() });
    } catch (e) {
      // A damaged download is deleted, as the download step deletes a damaged safetensors file.
      // A refused checkpoint (it would run code) is deleted as well: it must not stay cached.
      if (!(remote && e instanceof PssError)) throw e;
      await rm(path, { force: true });
      await rm(`${path}.sha256`, { force: true });
      throw new PssError(
        `${e.message}; the download was deleted: check the URL, or download the file yourself`,
      );
    }
  } else {
    const st = parseSafeTensors(bytes, source);
    for (const [name, t] of st.tensors) {
      if (t.dtype === 'F32' || t.dtype === 'F64' || t.dtype === 'F16' || t.dtype === 'BF16')
        read.set(name, { shape: t.shape, data: toFloat32(t) });
    }
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
