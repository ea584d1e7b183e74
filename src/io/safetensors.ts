import { PssError, quoted } from '../errors.js';
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
  if (buf.byteLength < 8) bad(`too short (${buf.byteLength} bytes)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen < 2n || 8n + headerLen > BigInt(buf.byteLength) || headerLen > MAX_HEADER)
    bad(`header length ${headerLen} does not fit a file of ${buf.byteLength} bytes`);
  const headerEnd = 8 + Number(headerLen);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, headerEnd)));
  } catch {
    return bad('the header is not JSON');
  }
  if (!isObject(header)) return bad('the header is not a JSON object');
  const data = buf.subarray(headerEnd);
  const tensors = new Map<string, StTensor>();
  const spans: { name: string; begin: number; end: number }[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = readMetadata(entry, bad);
      continue;
    }
    const tensor = `tensor ${quoted(name)}`;
    if (!isObject(entry)) return bad(`${tensor} is not an object`);
    const { dtype, shape, data_offsets: off } = entry;
    if (typeof dtype !== 'string') return bad(`${tensor} has no dtype string`);
    if (!Object.hasOwn(ITEM, dtype)) return bad(`${tensor} has unsupported dtype ${quoted(dtype, 20)}`);
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0))
      return bad(`${tensor} has a bad shape (not a list of non-negative integers)`);
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isSafeInteger(o) && o >= 0))
      return bad(`${tensor} has bad data_offsets (not two non-negative integers)`);
    const [begin, end] = off as [number, number];
    if (begin > end || end > data.byteLength)
      return bad(`${tensor} has data_offsets [${begin}, ${end}] outside the ${data.byteLength} data bytes`);
    const n = (shape as number[]).reduce((a, b) => a * b, 1);
    const item = ITEM[dtype as StDType];
    if (end - begin !== n * item)
      return bad(
        `${tensor} has ${end - begin} bytes; ${dtype} ${describeShape(shape as number[])} needs ${n * item}`,
      );
    if (end > begin) spans.push({ name, begin, end });
    tensors.set(name, {
      dtype: dtype as StDType,
      shape: shape as number[],
      bytes: data.subarray(begin, end),
    });
  }
  // Tensors must not share bytes (one written through another would change both). Sorted by
  // where they begin, a pair that overlaps makes some neighbouring pair overlap.
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < spans.length; i++)
    if (spans[i].begin < spans[i - 1].end)
      bad(
        `tensors ${quoted(spans[i - 1].name)} and ${quoted(spans[i].name)} overlap (data_offsets [${spans[i - 1].begin}, ${spans[i - 1].end}] and [${spans[i].begin}, ${spans[i].end}])`,
      );
  return { tensors, metadata };
}

const describeShape = (shape: readonly number[]) =>
  shape.length > 8 ? `of ${shape.length} dimensions` : `[${shape.join(', ')}]`;

/** The reference implementation's limit on the JSON header. */
const MAX_HEADER = 100n * 2n ** 20n;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** `__metadata__`: a string → string map, as the format defines it. */
function readMetadata(entry: unknown, bad: (msg: string) => never): Record<string, string> {
  if (!isObject(entry)) return bad('__metadata__ is not an object');
  for (const [k, v] of Object.entries(entry))
    if (typeof v !== 'string') bad(`__metadata__ entry ${quoted(k)} is not a string`);
  return entry as Record<string, string>;
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
