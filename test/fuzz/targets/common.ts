/** What a fuzz target is, and the helpers the targets share. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InputSource } from '../mutate.js';

export interface Target extends InputSource {
  name: string;
  /** Parses the bytes as pss does and checks the result; throws a PssError for a bad file. */
  run(bytes: Uint8Array): Promise<unknown>;
  /** The most memory (ArrayBuffers plus JS heap) one case may add, for an input of n bytes. */
  memoryBound(n: number): number;
}

export const MiB = 2 ** 20;
export const file = (path: string) => new Uint8Array(readFileSync(path));
export const filesIn = (dir: string, pattern: RegExp, maxBytes = 200_000) =>
  readdirSync(dir)
    .filter((f) => pattern.test(f))
    .sort()
    .map((f) => file(join(dir, f)))
    .filter((b) => b.length <= maxBytes);
export const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
