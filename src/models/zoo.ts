/** The built-in architectures by name: the one table the CLI, the web app and the API read. */

import { PssError } from '../errors.js';
import type { Architecture } from './architecture.js';
import { resnet18, resnet34, resnet50, resnet101, resnet152 } from './resnet.js';
import { tinycnn } from './tinycnn.js';

export const ARCHITECTURES: Readonly<Record<string, Architecture>> = Object.freeze({
  resnet18,
  resnet34,
  resnet50,
  resnet101,
  resnet152,
  tinycnn,
});

export function architecture(name: string): Architecture {
  const arch = Object.hasOwn(ARCHITECTURES, name) ? ARCHITECTURES[name] : undefined;
  if (!arch)
    throw new PssError(`unknown model "${name}"; built-in models: ${Object.keys(ARCHITECTURES).join(', ')}`);
  return arch;
}
