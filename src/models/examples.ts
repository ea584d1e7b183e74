/** The example images shipped with a bundled model (a manifest.json beside the PNGs). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Architecture } from './architecture.js';

export interface Example {
  /** Absolute path of the image. */
  path: string;
  file: string;
  label: number;
  labelName?: string;
  predicted?: number;
  predictedName?: string;
  /** The one `pss explain` uses when no image is given. */
  default?: boolean;
}

export function bundledExamples(arch: Architecture): Example[] {
  const manifest = arch.bundled?.examples;
  if (!manifest) return [];
  const entries = JSON.parse(readFileSync(manifest, 'utf8')) as Omit<Example, 'path'>[];
  return entries.map((e) => ({ ...e, path: fileURLToPath(new URL(e.file, manifest)) }));
}
