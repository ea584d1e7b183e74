/**
 * Reading the protobuf: bytes to a checked ModelProto, tensors to numbers, node attributes.
 * Every check on what a file may hold lives here, so the rest of the importer reads a model
 * whose structure is known; every problem is one PssError.
 */
import { createRequire } from 'node:module';
import onnxProto from 'onnx-proto';
import { PssError, quoted } from '../../errors.js';
import { halfToFloat } from '../../io/half.js';
import type { ExternalData } from './external.js';

const { onnx } = onnxProto;
export type ModelProto = onnxProto.onnx.ModelProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type GraphProto = onnxProto.onnx.IGraphProto & { node: NodeProto[] };
type Long = { toNumber(): number };

/** An int64 field as a number (values beyond 2^53 round). */
export const num = (v: number | Long | null | undefined): number =>
  v == null ? 0 : typeof v === 'number' ? v : v.toNumber();

/** What a constant's numbers are: floating point, integers (int64, int32...) or booleans. */
export type ConstKind = 'float' | 'int' | 'bool';

/** A statically known tensor (initializers, Constant nodes, shape arithmetic). */
export interface Const {
  /** float32 tensors keep their float32 values (weights, read without a copy per element). */
  data: Float64Array | Float32Array;
  shape: number[];
  kind: ConstKind;
}

/** The kind of an ONNX TensorProto data type code (Cast's `to`, a tensor's data_type). */
export const kindOf = (type: number): ConstKind =>
  type === 1 || type === 10 || type === 11 || type === 16 ? 'float' : type === 9 ? 'bool' : 'int';

/** Operators of the default ONNX domain have an empty domain or 'ai.onnx'. */
export const isDefaultDomain = (domain: string | null | undefined): boolean =>
  !domain || domain === 'ai.onnx';

/** ONNX names are free text; a control character would break a one-line message. */
const CONTROL = /\p{Cc}/u;
/** ONNX operator types and domains are identifiers. */
const IDENTIFIER = /^[A-Za-z_][\w.]*$/;

/**
 * Decodes the protobuf and checks the structure the importer reads: a graph with nodes, operator
 * types that are identifiers, names without control characters.
 */
export function decodeModel(bytes: Uint8Array, source: string): { model: ModelProto; graph: GraphProto } {
  let model: ModelProto;
  try {
    model = int64AsNumbers(() => onnx.ModelProto.decode(bytes));
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const why = /call stack/.test(message) ? 'nested too deeply' : message;
    throw new PssError(`${source} is not a valid ONNX model (${why.replace(/\s+/g, ' ').slice(0, 120)})`);
  }
  const graph = model.graph;
  if (!graph?.node?.length) throw new PssError(`${source} has no graph`);
  for (const n of withBranches(graph.node as NodeProto[])) {
    if (n.domain && !IDENTIFIER.test(n.domain))
      throw new PssError(`${source}: a node's operator domain ${quoted(n.domain)} is not an ONNX identifier`);
    if (!IDENTIFIER.test(n.opType ?? ''))
      throw new PssError(
        `${source}: a node's operator type ${quoted(n.opType ?? '')} is not an ONNX identifier`,
      );
    const names = [n.name ?? '', ...(n.input ?? []), ...(n.output ?? [])];
    if (names.some((s) => CONTROL.test(s)))
      throw new PssError(`${source}: node ${quoted(n.name ?? n.opType!)} has a name with control characters`);
  }
  const values = [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.initializer ?? [])];
  const bad = values.find((v) => CONTROL.test(v.name ?? ''));
  if (bad)
    throw new PssError(`${source}: the graph has a tensor named ${quoted(bad.name!)} (control characters)`);
  return { model, graph: graph as GraphProto };
}

/** onnx-proto's protobuf runtime: the instance its generated decoders read with. */
const protobuf = createRequire(import.meta.resolve('onnx-proto'))('protobufjs/minimal') as {
  util: { Long: unknown };
  configure(): void;
};

/**
 * Decodes with int64 fields as plain numbers instead of Long objects: a packed int64_data of
 * one-byte varints costs ~75 bytes of heap per input byte as Longs (a 50 MB file would exhaust
 * the heap before any check), ~27 as numbers. Values beyond 2^53 round either way (num() does).
 */
function int64AsNumbers<T>(decode: () => T): T {
  const long = protobuf.util.Long;
  protobuf.util.Long = null;
  protobuf.configure();
  try {
    return decode();
  } finally {
    protobuf.util.Long = long;
    protobuf.configure();
  }
}

/** The tensor types pss reads: bytes per element in raw_data, its reader, the typed field. */
type Reader = [
  number,
  (raw: DataView, o: number) => number,
  (t: onnxProto.onnx.ITensorProto) => ArrayLike<number | Long> | null | undefined,
  string,
];
const TENSOR_READERS: Record<number, Reader> = {
  1: [4, (r, o) => r.getFloat32(o, true), (t) => t.floatData, 'float_data'],
  11: [8, (r, o) => r.getFloat64(o, true), (t) => t.doubleData, 'double_data'],
  7: [8, (r, o) => Number(r.getBigInt64(o, true)), (t) => t.int64Data, 'int64_data'],
  6: [4, (r, o) => r.getInt32(o, true), (t) => t.int32Data, 'int32_data'],
  9: [1, (r, o) => r.getUint8(o), (t) => t.int32Data, 'int32_data'],
  // float16 (half-precision exports): raw bytes, or the bits in int32_data
  10: [2, (r, o) => halfToFloat(r.getUint16(o, true)), (t) => t.int32Data?.map(halfToFloat), 'int32_data'],
};

/** Whether a tensor's data is in a file beside the model (external_data) rather than inside it. */
const isExternal = (t: onnxProto.onnx.ITensorProto): boolean =>
  t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || !!t.externalData?.length;

/**
 * An initializer or Constant tensor as a Const (its data read through `external` when kept
 * beside the model, refused without it). Its data is either raw_data (little-endian) or
 * the typed field, never both, and holds exactly the elements its dims say — checked before
 * anything is allocated, so dims that claim 2^40 elements cost nothing.
 */
export function tensorConst(
  stored: onnxProto.onnx.ITensorProto,
  source: string,
  external?: ExternalData,
): Const {
  const what = `${source}: tensor ${quoted(stored.name ?? '')}`;
  if (isExternal(stored) && !external)
    throw new PssError(
      `${what} is kept in an external file; give the model as a file path with its data beside it, or re-save it with the weights inside`,
    );
  const t = isExternal(stored)
    ? { ...stored, rawData: external!.read(stored, what), dataLocation: 0, externalData: [] }
    : stored;
  const type = t.dataType ?? 0;
  const reader = TENSOR_READERS[type];
  if (!reader) throw new PssError(`${what} has ONNX data type ${type}, which pss does not read`);
  const [width, get, field, fieldName] = reader;
  const shape = (t.dims ?? []).map(num);
  const dims = shape.length > 8 ? `${shape.length} dims` : `dims [${shape.join(', ')}]`;
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0))
    throw new PssError(`${what} has ${dims}: each must be a non-negative integer`);
  const size = shape.reduce((a, b) => a * b, 1);
  const rawBytes = t.rawData?.byteLength ?? 0;
  const values = field(t) ?? [];
  if (rawBytes && values.length) throw new PssError(`${what} has both raw_data and ${fieldName}`);
  if (rawBytes ? rawBytes !== size * width : values.length !== size)
    throw new PssError(
      rawBytes
        ? `${what} has ${rawBytes} bytes of raw_data; ${dims} need ${size * width}`
        : `${what} has ${values.length} values in ${fieldName}; ${dims} need ${size}`,
    );
  if (type === 1 && rawBytes) {
    // float32 weights: one copy of the bytes (little-endian, as ONNX stores them and hosts run)
    const start = t.rawData!.byteOffset;
    return { data: new Float32Array(t.rawData!.buffer.slice(start, start + rawBytes)), shape, kind: 'float' };
  }
  if (type === 1) return { data: Float32Array.from(values as number[]), shape, kind: 'float' };
  const data = new Float64Array(size);
  if (rawBytes) {
    const raw = new DataView(t.rawData!.buffer, t.rawData!.byteOffset, rawBytes);
    for (let i = 0; i < size; i++) data[i] = get(raw, i * width);
  } else for (let i = 0; i < size; i++) data[i] = num(values[i] as number | Long);
  return { data, shape, kind: kindOf(type) };
}

// ---- node attributes ---------------------------------------------------------------------------

/** An If node's branch graphs (then_branch, else_branch): their nodes read the outer scope's tensors. */
export function branches(n: NodeProto): GraphProto[] {
  if (n.opType !== 'If' || !isDefaultDomain(n.domain)) return [];
  return (n.attribute ?? []).flatMap((a) => (a.g ? [{ ...a.g, node: a.g.node ?? [] } as GraphProto] : []));
}

/** The nodes and, depth first after each If, the nodes of its branches. */
export function withBranches(nodes: readonly NodeProto[]): NodeProto[] {
  return nodes.flatMap((n) => [n, ...branches(n).flatMap((g) => withBranches(g.node))]);
}

export function attr(n: NodeProto, name: string): onnxProto.onnx.IAttributeProto | undefined {
  return n.attribute?.find((a) => a.name === name);
}
export const ints = (n: NodeProto, name: string, dflt?: number[]) => attr(n, name)?.ints?.map(num) ?? dflt;
export const int = (n: NodeProto, name: string, dflt: number) => {
  const a = attr(n, name);
  return a ? num(a.i) : dflt;
};
export const float = (n: NodeProto, name: string, dflt: number) => attr(n, name)?.f ?? dflt;
/** A string attribute (bytes in the protobuf) as text; `dflt` when the attribute is absent. */
export const string = (n: NodeProto, name: string, dflt: string) => {
  const s = attr(n, name)?.s;
  return s ? new TextDecoder().decode(s) : dflt;
};
