/** NumPy .npy files (format versions 1-3), float32 C-order tensors — read and write. */
import { PssError } from '../errors.js';

export interface NpyArray {
  shape: number[];
  data: Float32Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export function parseNpy(buf: Uint8Array, what = '.npy file'): NpyArray {
  const bad = (msg: string): never => {
    throw new PssError(`${what}: ${msg}`);
  };
  if (buf.byteLength < 10 || MAGIC.some((b, i) => buf[i] !== b)) bad('not a NumPy .npy file');
  const major = buf[6];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const [headerLen, start] = major === 1 ? [view.getUint16(8, true), 10] : [view.getUint32(8, true), 12];
  if (major < 1 || major > 3) bad(`unsupported .npy format version ${major}`);
  if (start + headerLen > buf.byteLength) bad('truncated header');
  const header = new TextDecoder().decode(buf.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) bad('malformed header');
  if (descr !== '<f4' && descr !== '=f4')
    bad(`dtype ${descr} is not supported; pss expects float32 ('<f4'), e.g. x.astype(np.float32)`);
  if (fortran === 'True') bad('Fortran-ordered arrays are not supported; save with np.ascontiguousarray(x)');
  const shape = shapeText!
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  if (buf.byteLength - offset !== 4 * n)
    bad(`holds ${buf.byteLength - offset} data bytes; shape [${shape.join(', ')}] needs ${4 * n}`);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = view.getFloat32(offset + 4 * i, true);
  return { shape, data };
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
