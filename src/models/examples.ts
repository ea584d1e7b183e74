/** The example images shipped with a bundled model (a manifest.json beside the PNGs). */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
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

/**
 * The image and label a command works on: with no image given (and `useDefault`), the bundled
 * default example; for a shipped example without --label, the label from its manifest.
 */
export function withExampleDefaults(
  arch: Architecture,
  given: { image?: string; input?: string; label?: string },
  useDefault: boolean,
): { image?: string; input?: string; label?: string } {
  let { image, label } = given;
  const examples = bundledExamples(arch);
  if (image === undefined && given.input === undefined && useDefault)
    image = examples.find((e) => e.default)?.path;
  const known = image && examples.find((e) => e.path === image || basename(image!) === e.file);
  label ??= known ? String(known.label) : undefined;
  return { image, input: given.input, label };
}
