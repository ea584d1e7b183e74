/** Piecewise JSON equals JSON.stringify, also for arrays longer than one slice. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { jsonPieces, writeJsonAtomic } from '../../src/io/json.js';
import { tempDir } from '../helpers/cli.js';

const text = (v: unknown) => [...jsonPieces(v)].join('');

describe('jsonPieces', () => {
  it('equals JSON.stringify on any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        assert.equal(text(v), JSON.stringify(v));
      }),
      { seed: 13, numRuns: 500 },
    );
  });
  it('long arrays, typed arrays, NaN, undefined members, nested objects in long arrays', () => {
    const long = Array.from({ length: 200_001 }, (_, i) => (i % 7 === 0 ? Number.NaN : i / 3));
    const v = {
      a: long,
      b: Float32Array.from(long.slice(0, 70_000)),
      c: undefined,
      d: Array.from({ length: 70_000 }, (_, i) => ({ i, x: i % 2 ? undefined : [i] })),
      e: null,
    };
    const plain = { ...v, b: Array.from(v.b) };
    assert.equal(text(v), JSON.stringify(plain));
  });
  it('writeJsonAtomic writes the same text to a file', async () => {
    const path = join(tempDir(), 'deep', 'out.json');
    const v = { z: Array.from({ length: 100_000 }, (_, i) => i), name: 'x' };
    await writeJsonAtomic(path, v);
    assert.equal(readFileSync(path, 'utf8'), JSON.stringify(v));
  });
});
