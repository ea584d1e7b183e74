/**
 * Inputs that crashed a parser (another error type, a message of several lines, an allocation
 * the header asked for) before it was fixed, minimised, each with the PssError it gives now.
 * Built inline from a few bytes, so each one says what it is.
 */
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { zipSync } from 'fflate';
import onnxProto from 'onnx-proto';

export interface Regression {
  target: string;
  name: string;
  bytes: () => Uint8Array;
  message: RegExp;
}

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const concat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));

/** A .npy v1.0 file with this header text and data. */
function npy(header: string, data = new Uint8Array(0), version = 1): Uint8Array {
  const pre = concat(Uint8Array.of(0x93), ascii('NUMPY'), Uint8Array.of(version, 0));
  const len =
    version === 1
      ? Uint8Array.of(header.length & 0xff, header.length >> 8)
      : Uint8Array.of(header.length, 0, 0, 0);
  return concat(pre, len, ascii(header), data);
}

/** A safetensors file with this JSON header and data. */
function safetensors(header: string, data = new Uint8Array(0)): Uint8Array {
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(header.length), true);
  return concat(len, ascii(header), data);
}

function onnxModel(initializer: onnxProto.onnx.ITensorProto, domain = ''): Uint8Array {
  const vi = (name: string, dims: number[]) => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  });
  return onnxProto.onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      node: [{ opType: 'Conv', domain, input: ['x', 'w'], output: ['y'] }],
      initializer: [{ name: 'w', ...initializer }],
      input: [vi('x', [1, 3, 8, 8])],
      output: [vi('y', [1, 10])],
    },
  }).finish();
}

function idxImages(count: number, h: number, w: number, pixels: number): Uint8Array {
  const out = Uint8Array.from({ length: 16 + pixels }, (_, i) => (i * 2654435761) >>> 24); // incompressible
  const view = new DataView(out.buffer);
  [0x803, count, h, w].forEach((v, i) => {
    view.setUint32(4 * i, v);
  });
  return out;
}

/** A one-entry zip whose entry is compressed and claims to expand to `originalSize`; its name is `name`. */
function zipBomb(name: string, originalSize: number): Uint8Array {
  const zip = zipSync({ [name]: ascii('xxxxxxxx') }, { level: 9 });
  const view = new DataView(zip.buffer);
  const cd = view.getUint32(zip.length - 6, true); // the central directory's offset
  view.setUint32(cd + 24, originalSize, true);
  return zip;
}

/**
 * "PK\3\4", then a zip64 end-of-directory record claiming 2^32-1 entries, its locator and the
 * end-of-directory record: 102 bytes that kept fflate's unzipSync reading entries for hours.
 */
function zip64Count(): Uint8Array {
  const out = new Uint8Array(4 + 56 + 20 + 22);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0x04034b50, true);
  v.setUint32(4, 0x06064b50, true); // zip64 record at 4
  v.setUint32(4 + 32, 0xffffffff, true); // total entries
  v.setUint32(60, 0x07064b50, true); // locator
  v.setUint32(60 + 8, 4, true); // -> the zip64 record
  v.setUint32(80, 0x06054b50, true); // end of directory
  v.setUint16(80 + 8, 1, true);
  return out;
}

export const REGRESSIONS: readonly Regression[] = [
  {
    target: 'npy',
    name: 'a version-2 preamble cut at 10 bytes (RangeError reading its 4-byte length)',
    bytes: () => npy('', new Uint8Array(0), 2).subarray(0, 10),
    message: /truncated: 10 bytes, shorter than a version 2 preamble/,
  },
  {
    target: 'npy',
    name: 'negative dimensions whose product fits the data (accepted as shape [-1, -4])',
    bytes: () => npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, -4), }", new Uint8Array(16)),
    message: /malformed header/,
  },
  {
    target: 'npy',
    name: 'a dimension of 1e3 (read as 1000 by Number)',
    bytes: () => npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1e3,), }", new Uint8Array(4000)),
    message: /malformed header/,
  },
  {
    target: 'safetensors',
    name: 'a tensor entry that is null (TypeError)',
    bytes: () => safetensors('{"w":null}'),
    message: /tensor "w" is not an object/,
  },
  {
    target: 'safetensors',
    name: 'dtype "toString" (found on the prototype of the dtype table)',
    bytes: () => safetensors('{"w":{"dtype":"toString","shape":[],"data_offsets":[0,0]}}'),
    message: /unsupported dtype "toString"/,
  },
  {
    target: 'safetensors',
    name: 'two tensors over the same bytes',
    bytes: () =>
      safetensors(
        '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
        new Uint8Array(8),
      ),
    message: /tensors "a" and "b" overlap/,
  },
  {
    target: 'safetensors',
    name: 'fractional data offsets (truncated silently by subarray)',
    bytes: () => safetensors('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0.5,1.5]}}', new Uint8Array(2)),
    message: /bad data_offsets/,
  },
  {
    target: 'safetensors',
    name: '__metadata__ with a number value',
    bytes: () => safetensors('{"__metadata__":{"format":1}}'),
    message: /__metadata__ entry "format" is not a string/,
  },
  {
    target: 'safetensors',
    name: 'a tensor name with a newline (a message of two lines)',
    bytes: () => safetensors('{"a\\nb":{"dtype":"F32","shape":[1],"data_offsets":[0,3]}}', new Uint8Array(4)),
    message: /tensor "a�b" has 3 bytes; F32 \[1\] needs 4/,
  },
  {
    target: 'pth',
    name: 'a zip entry named with control characters and a huge expansion (a 400-character message)',
    bytes: () => zipBomb(`${'\u0000'.repeat(60)}small/data.pkl`, 2 ** 30),
    message: /the zip entry "�+small\/data\.pkl" would expand \d+ bytes to 1073741824/,
  },
  {
    target: 'pth',
    name: 'a legacy checkpoint whose protocol version is 120 bytes (a 465-character message listing them)',
    // torch.save's legacy magic number (LONG1), then SHORT_BINBYTES of 120 bytes as the version
    bytes: () =>
      concat(
        Uint8Array.of(
          0x80,
          0x02,
          0x8a,
          0x0a,
          0x6c,
          0xfc,
          0x9c,
          0x46,
          0xf9,
          0x20,
          0x6a,
          0xa8,
          0x50,
          0x19,
          0x2e,
        ),
        Uint8Array.of(0x80, 0x02, 0x43, 120),
        new Uint8Array(120).fill(0x78),
        Uint8Array.of(0x2e),
      ),
    message: /unknown legacy protocol version \(120 bytes\)$/,
  },
  {
    target: 'pth',
    name: 'a zip64 directory claiming 2^32-1 entries (a hang in the zip reader)',
    bytes: zip64Count,
    message: /the zip directory lists more entries than a file of 102 bytes can hold/,
  },
  {
    target: 'pth',
    name: 'a 243-byte zip whose entry claims 1.8 GB compressed and 100 MB inflated (allocated by fflate)',
    bytes: () => new Uint8Array(readFileSync('test/fuzz/regressions/pth-entry-size-beyond-file.bin')),
    message: /the zip entry "" claims 1852795251 bytes, more than the file's 243/,
  },
  {
    target: 'onnx',
    name: 'an operator domain with control characters (a message of several lines)',
    bytes: () => onnxModel({ dims: [1], dataType: 1, floatData: [1] }, '\n\u0005group'),
    message: /operator domain "��group" is not an ONNX identifier/,
  },
  {
    target: 'onnx',
    name: 'an initializer whose dims claim 2^40 elements (RangeError allocating them)',
    bytes: () => onnxModel({ dims: [2 ** 20, 2 ** 20], dataType: 1, rawData: new Uint8Array(16) }),
    message: /tensor "w" has 16 bytes of raw_data; dims \[1048576, 1048576\] need 4398046511104/,
  },
  {
    target: 'onnx',
    name: 'a negative dimension (RangeError)',
    bytes: () => onnxModel({ dims: [-1], dataType: 1, floatData: [1] }),
    message: /tensor "w" has dims \[-1\]: each must be a non-negative integer/,
  },
  {
    target: 'onnx',
    name: 'raw_data shorter than the dims (read past its end: RangeError)',
    bytes: () => onnxModel({ dims: [4], dataType: 1, rawData: new Uint8Array(8) }),
    message: /has 8 bytes of raw_data; dims \[4\] need 16/,
  },
  {
    target: 'onnx',
    name: 'both raw_data and float_data',
    bytes: () => onnxModel({ dims: [1], dataType: 1, rawData: new Uint8Array(4), floatData: [1] }),
    message: /has both raw_data and float_data/,
  },
  {
    target: 'onnx',
    name: '4 MB of packed one-byte int64_data (300 MB of Long objects before any check)',
    bytes: () => onnxModel({ dims: [4_000_001], dataType: 7, int64Data: new Array(4_000_000).fill(1) }),
    message: /has 4000000 values in int64_data; dims \[4000001\] need 4000001/,
  },
  {
    target: 'idx',
    name: 'a truncated gzip file (a zlib Error)',
    bytes: () => new Uint8Array(gzipSync(idxImages(3, 28, 28, 3 * 784))).subarray(0, 40),
    message: /damaged gzip file: it ends early; truncated\?|truncated/,
  },
  {
    target: 'idx',
    name: 'a gzipped header claiming 2^32-1 images (inflated in full before the check)',
    bytes: () => new Uint8Array(gzipSync(idxImages(2 ** 32 - 1, 28, 28, 0))),
    message: /claims 4294967295 images of 28x28 \(3136\.0 GiB\), more than pss reads/,
  },
  {
    target: 'idx',
    name: 'a short file: the message says what is there and what is needed',
    bytes: () => idxImages(10, 28, 28, 1600),
    message: /holds 1600 bytes of images, 2 whole images; 10 images of 28x28 need 7840/,
  },
];
