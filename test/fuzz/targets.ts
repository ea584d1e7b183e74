/**
 * One fuzz target per parser of a user-supplied file: its seeds (real files from the repo and
 * files made with pss's own writers), the format's tokens, and `run`, which parses the bytes
 * the way pss's commands consume them and checks that a result is valid. A PssError is a
 * correct answer; anything else that `run` throws is a bug.
 */
import type { Target } from './targets/common.js';
import { idx, image } from './targets/data.js';
import { onnx, pth } from './targets/models.js';
import { npy, safetensors, stats } from './targets/tensors.js';

export type { Target } from './targets/common.js';

export const TARGETS: readonly Target[] = [npy, safetensors, pth, onnx, idx, image, stats];

export function target(name: string): Target {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`no fuzz target ${name}; the targets are ${TARGETS.map((x) => x.name).join(', ')}`);
  return t;
}
