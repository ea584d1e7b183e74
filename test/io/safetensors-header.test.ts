/**
 * checkSafeTensorsHeader (the download check) and parseSafeTensors (the reader) share one
 * header validation: on every file they agree, word for word, and the check reads the
 * header alone.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkSafeTensorsHeader, parseSafeTensors, serializeSafeTensors } from '../../src/io/safetensors.js';

const dir = mkdtempSync(join(tmpdir(), 'pss-st-header-'));

/** A safetensors file with this JSON header and `data` after it. */
function file(header: string, data = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

async function checkFile(path: string): Promise<string | undefined> {
  const handle = await open(path, 'r');
  try {
    await checkSafeTensorsHeader(handle, 'f');
    return undefined;
  } catch (e) {
    return (e as Error).message;
  } finally {
    await handle.close();
  }
}

const valid = serializeSafeTensors({ w: { dtype: 'F32', shape: [3], data: Float32Array.of(1, 2, 3) } });
const CASES: Record<string, Uint8Array> = {
  valid,
  'too short': new Uint8Array(5),
  'a header length past the end': valid.subarray(0, 20),
  'a web page': new TextEncoder().encode('<!doctype html><title>Sign in</title>'),
  'not JSON': file('{"w":'),
  'not an object': file('[1, 2]'),
  'an unsupported dtype': file('{"w":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}}', new Uint8Array(1)),
  'data past the end (truncated)': file(
    '{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}',
    new Uint8Array(8),
  ),
  'a size that does not fit the shape': file(
    '{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}',
    new Uint8Array(8),
  ),
  'overlapping tensors': file(
    '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
    new Uint8Array(8),
  ),
  'metadata that is not strings': file('{"__metadata__":{"n":1}}'),
};

describe('checkSafeTensorsHeader', () => {
  for (const [name, bytes] of Object.entries(CASES))
    it(`${name}: the same verdict as parseSafeTensors`, async () => {
      const path = join(dir, `${name.replace(/\W+/g, '_')}.safetensors`);
      writeFileSync(path, bytes);
      let parsed: string | undefined;
      try {
        parseSafeTensors(bytes, 'f');
      } catch (e) {
        parsed = (e as Error).message;
      }
      assert.equal(await checkFile(path), parsed);
      if (name === 'valid') assert.equal(parsed, undefined);
      else assert.match(parsed ?? '', /^f is not a valid safetensors file: /);
    });

  it('truncated data says so', () => {
    assert.throws(
      () => parseSafeTensors(CASES['data past the end (truncated)']),
      /outside the 8 data bytes; truncated\?$/,
    );
  });

  it('reads the header only: a 3 GB file (sparse) is checked at once', async () => {
    const path = join(dir, 'large.safetensors');
    const n = 3e9;
    const header = `{"w":{"dtype":"U8","shape":[${n}],"data_offsets":[0,${n}]}}`;
    writeFileSync(path, file(header));
    const headerBytes = 8 + header.length;
    try {
      truncateSync(path, headerBytes + n);
      assert.equal(await checkFile(path), undefined);
      truncateSync(path, headerBytes + n - 1);
      assert.match(
        (await checkFile(path)) ?? '',
        /data_offsets \[0, 3000000000\] outside the 2999999999 data bytes; truncated\?/,
      );
    } finally {
      rmSync(path, { force: true });
    }
  });
});
