/** Writes a pss graph as an ONNX model (protobuf via the onnx-proto schema package). */
import onnxProto from 'onnx-proto';
import {
  type AttrKind,
  type AttrValue,
  type DType,
  dtypeOf,
  ELEM_TYPE,
  GraphError,
  type Node,
  type TypedData,
  type Value,
} from './graph.js';

const { onnx } = onnxProto;
export const OPSET = 18;

export interface GraphOutput {
  name: string;
  value: Value;
}

/** Nodes needed for `outputs`, in topological (creation) order. */
export function reachableNodes(outputs: readonly Value[]): Node[] {
  const seen = new Set<Node>();
  const stack = outputs.map((v) => v.producer).filter((n): n is Node => n !== undefined);
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const v of n.inputs) if (v.producer && !seen.has(v.producer)) stack.push(v.producer);
  }
  return [...seen].sort((a, b) => a.id - b.id);
}

/** A self-contained .onnx file: every constant inline. */
export function toOnnxModel(outputs: readonly GraphOutput[], name = 'pss'): Uint8Array {
  return toOnnxParts(outputs, { name }).model;
}

/**
 * Where a large constant (a weight) goes, in the words of the Runner's `weights` option:
 * - 'inline': an initializer with its bytes in the protobuf (a self-contained file);
 * - 'initializers': an initializer whose bytes are ONNX external data naming the caller's
 *   array, handed to ONNX Runtime as an in-memory file: no protobuf copy, and ONNX Runtime
 *   may fold and re-lay it out;
 * - 'inputs': a graph input, fed from the caller's array on every run: ONNX Runtime keeps
 *   no copy of it.
 */
export type ConstantPlacement = 'inline' | 'initializers' | 'inputs';

export interface OnnxParts {
  model: Uint8Array;
  /** The external data of large constants placed 'initializers', by name. */
  external: LargeConstant[];
  /** Large constants placed 'inputs', to feed by name. */
  inputs: LargeConstant[];
}

export interface LargeConstant {
  name: string;
  shape: readonly number[];
  data: TypedData;
}

/** Constants below this size stay inline (shape vectors, axes, small kernels). */
const LARGE_BYTES = 4096;

export function toOnnxParts(
  outputs: readonly GraphOutput[],
  {
    name = 'pss',
    constants = 'inline',
  }: { name?: string; constants?: ConstantPlacement | ((v: Value) => ConstantPlacement) } = {},
): OnnxParts {
  const external: LargeConstant[] = [];
  const fed: LargeConstant[] = [];
  const constantInputs: onnxProto.onnx.IValueInfoProto[] = [];
  const initializers: onnxProto.onnx.ITensorProto[] = [];
  const placeConstant = (v: Value) => {
    const data = v.data!;
    const tensorName = nameOf(v);
    const placement = typeof constants === 'function' ? constants(v) : constants;
    if (placement === 'inline' || data.byteLength < LARGE_BYTES)
      return initializers.push(tensorProto(tensorName, v.shape, data));
    if (placement === 'inputs') {
      fed.push({ name: tensorName, shape: v.shape, data });
      constantInputs.push(valueInfo(tensorName, v));
    } else {
      external.push({ name: tensorName, shape: v.shape, data });
      initializers.push(externalTensorProto(tensorName, v.shape, data));
    }
  };
  const nodes = reachableNodes(outputs.map((o) => o.value));
  const names = new Map<Value, string>();
  const nameOf = (v: Value) => {
    let n = names.get(v);
    if (!n) names.set(v, (n = v.inputName ?? `v${v.id}`));
    return n;
  };
  const constantName = (v: Value) => {
    if (!names.has(v)) placeConstant(v);
    return nameOf(v);
  };
  let extra = 0;
  const protoNodes: onnxProto.onnx.INodeProto[] = [];
  const usedInputs = new Set<Value>();

  for (const node of nodes) {
    const sig = node.signature;
    const inputNames = node.inputs.map((v) => {
      if (v.data) return constantName(v);
      if (!v.producer) usedInputs.add(v);
      return nameOf(v);
    });
    for (const { name: attr, dtype } of sig.inputAttrs ?? []) {
      const value = node.attrs[attr];
      if (value === undefined) {
        inputNames.push('');
        continue;
      }
      const arr = typeof value === 'number' ? [value] : (value as number[]);
      const shape = typeof value === 'number' ? [] : [arr.length];
      const cname = `c${node.id}_${attr}`;
      initializers.push(
        tensorProto(cname, shape, typedOf(arr, dtype === 'input' ? node.inputs[0].dtype : dtype)),
      );
      inputNames.push(cname);
    }
    while (inputNames.length && inputNames[inputNames.length - 1] === '') inputNames.pop();
    protoNodes.push(
      onnx.NodeProto.create({
        name: `${node.op}_${node.id}`,
        opType: sig.onnxOp ?? node.op,
        input: inputNames,
        output: [
          nameOf(node.output),
          ...Array.from({ length: sig.extraOutputs ?? 0 }, (_, i) => `${nameOf(node.output)}_unused${i}`),
        ],
        attribute: Object.entries(sig.attrs ?? {}).flatMap(([k, kind]) => {
          const value = node.attrs[k];
          return kind && value !== undefined ? [attributeProto(k, kind, value)] : [];
        }),
      }),
    );
  }

  // Outputs get their own names through Identity nodes, so a value may be output twice,
  // and a graph input or constant may be an output.
  const outputInfos = outputs.map(({ name: outName, value }) => {
    const src = value.data ? constantName(value) : nameOf(value);
    if (!value.producer && !value.data) usedInputs.add(value);
    protoNodes.push(
      onnx.NodeProto.create({ name: `out_${extra++}`, opType: 'Identity', input: [src], output: [outName] }),
    );
    return valueInfo(outName, value);
  });

  const inputs = byId([...usedInputs]).map((v) => valueInfo(nameOf(v), v));
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'pss',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: onnx.GraphProto.create({
      name,
      node: protoNodes,
      input: [...inputs, ...constantInputs],
      output: outputInfos,
      initializer: initializers,
    }),
  });
  return { model: onnx.ModelProto.encode(model).finish(), external, inputs: fed };
}

function byId(values: Value[]): Value[] {
  return values.sort((a, b) => a.id - b.id);
}

function valueInfo(name: string, v: Value): onnxProto.onnx.IValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: { elemType: ELEM_TYPE[v.dtype], shape: { dim: v.shape.map((d) => ({ dimValue: d })) } },
    },
  });
}

function typedOf(arr: readonly number[], dtype: DType): TypedData {
  if (dtype === 'int64') return BigInt64Array.from(arr, (x) => BigInt(x));
  if (dtype === 'float64') return Float64Array.from(arr);
  if (dtype === 'bool') return Uint8Array.from(arr);
  return Float32Array.from(arr);
}

function tensorProto(name: string, shape: readonly number[], data: TypedData): onnxProto.onnx.ITensorProto {
  return onnx.TensorProto.create({
    name,
    dims: [...shape],
    dataType: ELEM_TYPE[dtypeOf(data)],
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  });
}

/** The external data "file" is named like the tensor; the runtime is handed its bytes. */
function externalTensorProto(name: string, shape: readonly number[], data: TypedData) {
  return onnx.TensorProto.create({
    name,
    dims: [...shape],
    dataType: ELEM_TYPE[dtypeOf(data)],
    dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [
      { key: 'location', value: name },
      { key: 'offset', value: '0' },
      { key: 'length', value: String(data.byteLength) },
    ],
  });
}

function attributeProto(name: string, kind: AttrKind, value: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (kind) {
    case 'int':
      return { name, type: T.INT, i: value as number };
    case 'ints':
      return { name, type: T.INTS, ints: [...(value as number[])] };
    case 'float':
      return { name, type: T.FLOAT, f: value as number };
    case 'floats':
      return { name, type: T.FLOATS, floats: [...(value as number[])] };
    case 'string':
      return { name, type: T.STRING, s: new TextEncoder().encode(value as string) };
  }
  throw new GraphError(`attribute ${name}: unknown kind ${kind}`);
}
