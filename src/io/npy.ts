/**
 * NumPy .npy files (format versions 1-3): float32, float64 and float16 arrays in C or Fortran
 * order read as float32 C-order tensors (numpy's default float64 needs no astype); float32 written.
 */
import { PssError, quoted } from '../errors.js';
import { sizeOf } from '../graph/graph.js';
import { halfToFloat } from './half.js';

export interface NpyArray {
  shape: number[];
  data: Float32Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/**
 * The header dict, as numpy writes it: `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`
 * (keys in any order, a trailing comma allowed). Read strictly: only these three keys, with a
 * string, a boolean and a tuple of decimal integers. Every part of the pattern is anchored by a
 * quote, comma or bracket, so it cannot backtrack badly on a hostile header.
 */
const VALUE = String.raw`'[^'\\]*'|True|False|\((?:\s*\d+\s*,)*(?:\s*\d+\s*)?\)`;
const ENTRY = String.raw`'(descr|fortran_order|shape)'\s*:\s*(${VALUE})`;
const HEADER = new RegExp(String.raw`^\{\s*(?:${ENTRY}\s*(?:,\s*|(?=\})))*\}\s*$`);
const ENTRIES = new RegExp(ENTRY, 'g');

export function parseNpy(buf: Uint8Array, what = '.npy file'): NpyArray {
  const bad = (msg: string): never => {
    throw new PssError(`${what}: ${msg}`);
  };
  if (buf.byteLength < 8 || MAGIC.some((b, i) => buf[i] !== b)) bad('not a NumPy .npy file');
  const major = buf[6];
  if (major < 1 || major > 3) bad(`unsupported .npy format version ${major}.${buf[7]}`);
  const start = major === 1 ? 10 : 12;
  if (buf.byteLength < start)
    bad(`truncated: ${buf.byteLength} bytes, shorter than a version ${major} preamble`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (start + headerLen > buf.byteLength)
    bad(
      `truncated header: it claims ${headerLen} bytes, the file has ${buf.byteLength - start} after the preamble`,
    );
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(
    buf.subarray(start, start + headerLen),
  );
  if (!HEADER.test(header)) bad(`malformed header ${quoted(header.trim())}`);
  const fields = new Map<string, string>();
  for (const [, key, value] of header.matchAll(ENTRIES)) {
    if (fields.has(key)) bad(`the header gives '${key}' twice`);
    fields.set(key, value);
  }
  const missing = ['descr', 'fortran_order', 'shape'].filter((k) => !fields.has(k));
  if (missing.length) bad(`the header has no ${missing.map((k) => `'${k}'`).join(', ')}`);
  const descr = fields.get('descr')!.slice(1, -1);
  const dtype = /^([<>=|])f([248])$/.exec(descr);
  if (!dtype || dtype[1] === '|')
    bad(
      `dtype ${quoted(descr, 20)} is not supported; pss reads floating-point arrays (float32, float64 or float16), e.g. x.astype(np.float32)`,
    );
  const little = dtype![1] !== '>';
  const size = Number(dtype![2]);
  const order = fields.get('fortran_order');
  if (order !== 'False' && order !== 'True') bad(`'fortran_order' is ${order}, not True or False`);
  const shape = fields
    .get('shape')!
    .slice(1, -1)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d)))
    bad(`shape (${fields.get('shape')!.slice(1, -1)}) has a dimension beyond 2^53`);
  const n = sizeOf(shape);
  const offset = start + headerLen;
  const have = buf.byteLength - offset;
  if (have !== size * n)
    bad(`holds ${have} data bytes; shape [${shape.join(', ')}] of float${8 * size} needs ${size * n}`);
  const read =
    size === 4
      ? (o: number) => view.getFloat32(o, little)
      : size === 8
        ? (o: number) => view.getFloat64(o, little)
        : (o: number) => halfToFloat(view.getUint16(o, little));
  const stored = new Float32Array(n);
  for (let i = 0; i < n; i++) stored[i] = read(offset + size * i);
  const data = order === 'True' ? fortranToC(stored, shape) : stored;
  return { shape, data };
}

/** A column-major (Fortran-order) array's elements in row-major order. */
function fortranToC(stored: Float32Array, shape: readonly number[]): Float32Array {
  const out = new Float32Array(stored.length);
  const rank = shape.length;
  const stride = shape.map((_, k) => sizeOf(shape.slice(0, k)));
  const index = new Array<number>(rank).fill(0);
  for (let i = 0, o = 0; i < out.length; i++) {
    out[i] = stored[o];
    // the next row-major index: the last axis fastest
    for (let k = rank - 1; k >= 0; k--) {
      if (++index[k] < shape[k]) {
        o += stride[k];
        break;
      }
      o -= (shape[k] - 1) * stride[k];
      index[k] = 0;
    }
  }
  return out;
}

export function serializeNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  const view = new DataView(out.buffer, 10 + header.length);
  for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i], true);
  return out;
}
