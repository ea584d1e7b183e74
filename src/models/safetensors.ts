import { PssError } from '../errors.js';
/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header
 * ({name: {dtype, shape, data_offsets}, __metadata__}), then raw little-endian data.
 * Small enough to read and write here; every field is validated before use.
 */
export type StDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'U8' | 'BOOL';

export interface StTensor {
  dtype: StDType;
  shape: number[];
  /** The raw bytes (a view into the file). */
  bytes: Uint8Array;
}

export interface SafeTensors {
  tensors: Map<string, StTensor>;
  metadata: Record<string, string>;
}

const ITEM: Record<StDType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, U8: 1, BOOL: 1 };

export class SafeTensorsError extends PssError {
  override name = 'SafeTensorsError';
}

export function parseSafeTensors(buf: Uint8Array, what = 'safetensors file'): SafeTensors {
  const bad = (msg: string): never => {
    throw new SafeTensorsError(`${what} is not a valid safetensors file: ${msg}`);
  };
  if (buf.byteLength < 8) bad('too short');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen < 2 || 8 + headerLen > buf.byteLength || headerLen > 100 * 2 ** 20)
    bad(`header length ${headerLen} does not fit a file of ${buf.byteLength} bytes`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + headerLen)));
  } catch {
    return bad('the header is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    bad('the header is not an object');
  const data = buf.subarray(8 + headerLen);
  const tensors = new Map<string, StTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e.dtype !== 'string' || !(e.dtype in ITEM))
      bad(`tensor "${name}" has unsupported dtype ${e.dtype}`);
    const shape = e.shape;
    if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0))
      bad(`tensor "${name}" has a bad shape`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !(off[0] <= off[1]) || off[1] > data.byteLength)
      bad(`tensor "${name}" has data offsets outside the file`);
    const [begin, end] = off as number[];
    const n = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== n * ITEM[e.dtype as StDType])
      bad(`tensor "${name}" has ${end - begin} bytes for shape [${shape}]`);
    tensors.set(name, {
      dtype: e.dtype as StDType,
      shape: shape as number[],
      bytes: data.subarray(begin, end),
    });
  }
  return { tensors, metadata };
}

/** Decodes a floating tensor to float32 (F64, F16 and BF16 converted). */
export function toFloat32(t: StTensor): Float32Array {
  const n = t.bytes.byteLength / ITEM[t.dtype];
  const view = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  const out = new Float32Array(n);
  switch (t.dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    case 'BF16': {
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      return out;
    }
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      return out;
    default:
      throw new SafeTensorsError(`tensor of dtype ${t.dtype} is not floating-point`);
  }
}

/** Decodes any numeric tensor to float64 (for statistics and fixtures). */
export function toFloat64(t: StTensor): Float64Array {
  const view = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  const n = t.bytes.byteLength / ITEM[t.dtype];
  if (t.dtype === 'F64') return Float64Array.from({ length: n }, (_, i) => view.getFloat64(8 * i, true));
  if (t.dtype === 'I64')
    return Float64Array.from({ length: n }, (_, i) => Number(view.getBigInt64(8 * i, true)));
  return Float64Array.from(toFloat32(t));
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

export interface TensorToWrite {
  dtype: 'F32' | 'F64' | 'I64';
  shape: readonly number[];
  data: Float32Array | Float64Array | BigInt64Array;
}

export function serializeSafeTensors(
  tensors: Record<string, TensorToWrite>,
  metadata: Record<string, string> = {},
): Uint8Array {
  // 8-byte types first so every tensor stays aligned for typed-array views.
  const names = Object.keys(tensors).sort((a, b) => ITEM[tensors[b].dtype] - ITEM[tensors[a].dtype]);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    const bytes = t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerBytes = new Uint8Array(json.byteLength + ((8 - (json.byteLength % 8)) % 8)).fill(0x20);
  headerBytes.set(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.byteLength;
  for (const name of names) {
    const d = tensors[name].data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    at += d.byteLength;
  }
  return out;
}
