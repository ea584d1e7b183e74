/**
 * .npy files as numpy writes them (test/fixtures/npy/, scripts/reference/make_npy_fixtures.py):
 * float32, float64 (numpy's default), float16, big-endian and Fortran order all read as the
 * same float32 C-order array; what is not floating point is refused in one line.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { PssError } from '../../src/errors.js';
import { parseNpy, serializeNpy } from '../../src/io/npy.js';

const read = (name: string) => parseNpy(readFileSync(`test/fixtures/npy/${name}.npy`), name);
// the generator's values: (arange(24) - 11.5) / 8, row-major over [2, 3, 4]
const EXPECTED = Float32Array.from({ length: 24 }, (_, i) => (i - 11.5) / 8);

describe('.npy files as numpy writes them', () => {
  for (const name of ['float32', 'float64', 'float16', 'float32-big-endian', 'float64-fortran'])
    it(`${name}: the same [2, 3, 4] array, in C order`, () => {
      const a = read(name);
      assert.deepEqual(a.shape, [2, 3, 4]);
      assert.deepEqual(a.data, EXPECTED);
    });

  it('writes float32 in C order, read back as it was', () => {
    const a = parseNpy(serializeNpy(EXPECTED, [2, 3, 4]));
    assert.deepEqual(a, { shape: [2, 3, 4], data: EXPECTED });
  });

  it('Fortran order of other ranks: a vector, a matrix, a scalar', () => {
    const fortran = (data: number[], shape: number[]) => {
      const bytes = Buffer.from(serializeNpy(Float32Array.from(data), shape));
      bytes.write('True ', bytes.indexOf('False'));
      return parseNpy(bytes).data;
    };
    assert.deepEqual(fortran([1, 2, 3], [3]), Float32Array.from([1, 2, 3]));
    // column-major [[1, 2, 3], [4, 5, 6]] is stored 1 4 2 5 3 6
    assert.deepEqual(fortran([1, 4, 2, 5, 3, 6], [2, 3]), Float32Array.from([1, 2, 3, 4, 5, 6]));
    assert.deepEqual(fortran([7], []), Float32Array.from([7]));
  });

  it('refuses integers, booleans, complex numbers and byte-order marks floats cannot have', () => {
    for (const descr of ['<i4', '|u1', '|b1', '<c8', '|f4']) {
      const bytes = Buffer.from(serializeNpy(EXPECTED, [2, 3, 4]));
      bytes.write(`'${descr}'`, bytes.indexOf("'<f4'"));
      assert.throws(
        () => parseNpy(bytes, 'x.npy'),
        (e: Error) =>
          e instanceof PssError &&
          e.message ===
            `x.npy: dtype "${descr}" is not supported; pss reads floating-point arrays (float32, float64 or float16), e.g. x.astype(np.float32)`,
      );
    }
  });

  it('says how many bytes the dtype needs when the data is short', () => {
    const bytes = Buffer.from(serializeNpy(EXPECTED, [2, 3, 4]));
    bytes.write("'<f8'", bytes.indexOf("'<f4'"));
    assert.throws(
      () => parseNpy(bytes, 'x.npy'),
      /^PssError: x\.npy: holds 96 data bytes; shape \[2, 3, 4\] of float64 needs 192$/,
    );
  });
});
