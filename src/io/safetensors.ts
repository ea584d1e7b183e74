import type { FileHandle } from 'node:fs/promises';
import { PssError, quoted } from '../errors.js';
import { halfToFloat } from './half.js';
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

/** `reason` is the problem alone, without the file's name (for callers that frame it). */
export class SafeTensorsError extends PssError {
  override name = 'SafeTensorsError';
  constructor(
    message: string,
    readonly reason = message,
  ) {
    super(message);
  }
}

type Bad = (msg: string) => never;

const failWith =
  (what: string): Bad =>
  (msg) => {
    throw new SafeTensorsError(`${what} is not a valid safetensors file: ${msg}`, msg);
  };

/** A tensor as the header describes it: where its bytes lie in the data section. */
interface HeaderEntry {
  name: string;
  dtype: StDType;
  shape: number[];
  begin: number;
  end: number;
}

export function parseSafeTensors(buf: Uint8Array, what = 'safetensors file'): SafeTensors {
  const bad = failWith(what);
  if (buf.byteLength < 8) bad(`too short (${buf.byteLength} bytes)`);
  const headerEnd = 8 + headerLength(buf.subarray(0, 8), buf.byteLength, bad);
  const data = buf.subarray(headerEnd);
  const { entries, metadata } = readHeader(buf.subarray(8, headerEnd), data.byteLength, bad);
  const tensors = new Map<string, StTensor>();
  for (const { name, dtype, shape, begin, end } of entries)
    tensors.set(name, { dtype, shape, bytes: data.subarray(begin, end) });
  return { tensors, metadata };
}

/**
 * The checks of parseSafeTensors on a file's header alone (its data is not read): for a
 * download, which may be larger than what is worth reading twice. Throws SafeTensorsError.
 */
export async function checkSafeTensorsHeader(file: FileHandle, what = 'safetensors file'): Promise<void> {
  const bad = failWith(what);
  const size = (await file.stat()).size;
  if (size < 8) bad(`too short (${size} bytes)`);
  const first = new Uint8Array(8);
  await file.read(first, 0, 8, 0);
  const n = headerLength(first, size, bad);
  const json = new Uint8Array(n);
  await file.read(json, 0, n, 8);
  readHeader(json, size - 8 - n, bad);
}

/** The header's length from the file's first 8 bytes, checked against the file's size. */
function headerLength(first: Uint8Array, fileSize: number, bad: Bad): number {
  const n = new DataView(first.buffer, first.byteOffset, 8).getBigUint64(0, true);
  if (n < 2n || 8n + n > BigInt(fileSize) || n > MAX_HEADER)
    bad(`header length ${n} does not fit a file of ${fileSize} bytes`);
  return Number(n);
}

/** The JSON header, every field checked; the tensors lie within `dataBytes` and do not overlap. */
function readHeader(
  json: Uint8Array,
  dataBytes: number,
  bad: Bad,
): { entries: HeaderEntry[]; metadata: Record<string, string> } {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch {
    return bad('the header is not JSON');
  }
  if (!isObject(header)) return bad('the header is not a JSON object');
  const entries: HeaderEntry[] = [];
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
    if (begin > end || end > dataBytes)
      return bad(
        `${tensor} has data_offsets [${begin}, ${end}] outside the ${dataBytes} data bytes${end > dataBytes ? '; truncated?' : ''}`,
      );
    const n = (shape as number[]).reduce((a, b) => a * b, 1);
    const item = ITEM[dtype as StDType];
    if (end - begin !== n * item)
      return bad(
        `${tensor} has ${end - begin} bytes; ${dtype} ${describeShape(shape as number[])} needs ${n * item}`,
      );
    entries.push({ name, dtype: dtype as StDType, shape: shape as number[], begin, end });
  }
  // Tensors must not share bytes (one written through another would change both). Sorted by
  // where they begin, a pair that overlaps makes some neighbouring pair overlap.
  const spans = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < spans.length; i++)
    if (spans[i].begin < spans[i - 1].end)
      bad(
        `tensors ${quoted(spans[i - 1].name)} and ${quoted(spans[i].name)} overlap (data_offsets [${spans[i - 1].begin}, ${spans[i - 1].end}] and [${spans[i].begin}, ${spans[i].end}])`,
      );
  return { entries, metadata };
}

const describeShape = (shape: readonly number[]) =>
  shape.length > 8 ? `of ${shape.length} dimensions` : `[${shape.join(', ')}]`;

/** The reference implementation's limit on the JSON header. */
const MAX_HEADER = 100n * 2n ** 20n;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** `__metadata__`: a string → string map, as the format defines it. */
function readMetadata(entry: unknown, bad: Bad): Record<string, string> {
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
