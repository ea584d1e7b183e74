/**
 * JSON too large for one string: a parameter-saliency report of ResNet-50 holds 2 × 25.6M
 * numbers, past V8's string limit. The text is produced piece by piece — long arrays in
 * slices — and written as it comes; the result is byte for byte JSON.stringify's.
 */
import { writeChunksAtomic } from './files.js';

const SLICE = 65_536;

type Json = unknown;

/** The JSON text of `value` (plain data: objects, arrays, typed arrays, numbers, strings). */
export function* jsonPieces(value: Json): Generator<string> {
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    const items = value as ArrayLike<unknown>;
    if (items.length <= SLICE) {
      yield JSON.stringify(ArrayBuffer.isView(value) ? Array.from(items) : value) ?? 'null';
      return;
    }
    yield '[';
    for (let i = 0; i < items.length; i += SLICE) {
      const part = Array.prototype.slice.call(items, i, i + SLICE) as Json[];
      if (ArrayBuffer.isView(value) || part.every((v) => typeof v !== 'object' || v === null))
        yield (i ? ',' : '') + JSON.stringify(part).slice(1, -1);
      else
        for (const [j, v] of part.entries()) {
          if (i + j) yield ',';
          yield* jsonPieces(v === undefined || typeof v === 'function' ? null : v);
        }
    }
    yield ']';
    return;
  }
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    const entries = Object.entries(value as Record<string, Json>).filter(
      ([, v]) => v !== undefined && typeof v !== 'function',
    );
    yield '{';
    for (const [i, [k, v]] of entries.entries()) {
      yield `${i ? ',' : ''}${JSON.stringify(k)}:`;
      yield* jsonPieces(v);
    }
    yield '}';
    return;
  }
  yield JSON.stringify(value) ?? 'null';
}

/** Writes `value` as JSON to a file, atomically, whatever its size. */
export function writeJsonAtomic(path: string, value: Json): Promise<void> {
  return writeChunksAtomic(path, jsonPieces(value));
}

/** Writes `value` as one line of JSON to stdout, whatever its size. */
export async function writeJsonLine(value: Json): Promise<void> {
  const write = (s: string) =>
    new Promise<void>((resolve, reject) => {
      process.stdout.write(s, (e) => (e ? reject(e) : resolve()));
    });
  let buffered = '';
  for (const piece of jsonPieces(value)) {
    buffered += piece;
    if (buffered.length >= 1 << 20) {
      await write(buffered);
      buffered = '';
    }
  }
  await write(`${buffered}\n`);
}
