/**
 * Any ONNX image classifier (opset 11+) as a pss model: its nodes are replayed with pss's
 * differentiable ops, its conv weights become parameters (in node order), and shape
 * arithmetic (Shape/Gather/Concat... on static shapes) is evaluated at import time.
 */
import { createRequire } from 'node:module';
import onnxProto from 'onnx-proto';
import { PssError, quoted } from '../errors.js';
import type { Value } from '../graph/graph.js';
import * as op from '../ops/index.js';
import { type Architecture, IMAGENET } from './architecture.js';
import { Model } from './model.js';
import type { Net, ParamRole } from './nn.js';

const { onnx } = onnxProto;
type NodeProto = onnxProto.onnx.INodeProto;
type Long = { toNumber(): number };
const num = (v: number | Long | null | undefined): number =>
  v == null ? 0 : typeof v === 'number' ? v : v.toNumber();

/** A statically known tensor (initializers, Constant nodes, shape arithmetic). */
interface Const {
  data: Float64Array;
  shape: number[];
  float: boolean;
}

export interface OnnxImport {
  arch: Architecture;
  weights: Map<string, Float32Array>;
  /** True when the graph has convs with biases and no BatchNormalization: BN was folded at export. */
  batchNormFolded: boolean;
  /** A trailing Softmax was dropped so the model outputs logits. */
  droppedSoftmax: boolean;
  opset: number;
}

// Ops replayed on the graph, and ops only evaluated on static values.
const GRAPH_OPS = new Set([
  'Conv',
  'BatchNormalization',
  'Relu',
  'Clip',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'Gemm',
  'MatMul',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Neg',
  'Abs',
  'Sqrt',
  'Exp',
  'Log',
  'Sigmoid',
  'Flatten',
  'Reshape',
  'Concat',
  'Identity',
  'Dropout',
  'Softmax',
  'LogSoftmax',
  'Transpose',
  'ReduceMean',
  'ReduceSum',
  'ReduceMax',
  'Pad',
  'Squeeze',
  'Unsqueeze',
  'Slice',
]);
const STATIC_OPS = new Set([
  'Constant',
  'Shape',
  'Gather',
  'Cast',
  'ConstantOfShape',
  'Range',
  'Floor',
  'Ceil',
]);

/** Tensor names an exporter made up (torch.onnx's onnx::Conv_123, numbered values), not a module's. */
const GENERATED_NAME = /^onnx::|^_v_|^v\d+$|^\d/;

export function importOnnx(bytes: Uint8Array, source: string): OnnxImport {
  const { model, graph } = decodeModel(bytes, source);
  const opset = num(model.opsetImport?.find((o) => !o.domain || o.domain === 'ai.onnx')?.version);
  if (opset < 11)
    throw new PssError(`${source} uses opset ${opset}; pss reads opset 11 or newer (re-export it)`);

  // Operators of other domains (com.microsoft, a vendor's) are named with their domain.
  const standard = (n: onnxProto.onnx.INodeProto) => !n.domain || n.domain === 'ai.onnx';
  const unsupported = [
    ...new Set(
      graph.node
        .filter((n) => !standard(n) || (!GRAPH_OPS.has(n.opType ?? '') && !STATIC_OPS.has(n.opType ?? '')))
        .map((n) => (standard(n) ? (n.opType ?? '') : `${n.opType} (domain ${n.domain})`)),
    ),
  ].sort();
  if (unsupported.length)
    throw new PssError(`${source} uses ONNX operators pss cannot differentiate: ${unsupported.join(', ')}`);

  const initializers = new Map<string, Const>();
  for (const t of graph.initializer ?? []) initializers.set(t.name!, tensorConst(t, source));
  const imageInput = (graph.input ?? []).find((i) => !initializers.has(i.name!));
  if (!imageInput) throw new PssError(`${source} has no image input`);
  const dims = imageInput.type?.tensorType?.shape?.dim ?? [];
  if (dims.length !== 4)
    throw new PssError(`${source}: input "${imageInput.name}" is not an NCHW image tensor`);
  const fixed = dims.map((d) => (d.dimValue != null && num(d.dimValue) > 0 ? num(d.dimValue) : undefined));
  const inputShape: [number, number, number] = [fixed[1] ?? 3, fixed[2] ?? 224, fixed[3] ?? 224];
  const outputName = graph.output?.[0]?.name;
  if (!outputName) throw new PssError(`${source} has no output`);

  // Drop a trailing Softmax: saliency needs logits.
  let nodes = graph.node;
  let logitsName = outputName;
  const last = nodes[nodes.length - 1];
  const droppedSoftmax = last.opType === 'Softmax' && last.output?.[0] === outputName;
  if (droppedSoftmax) {
    logitsName = last.input![0];
    nodes = nodes.slice(0, -1);
  }

  // Parameters: initializers feeding the weight/bias/statistics slots of Conv, BN, Gemm, MatMul.
  const roles = new Map<string, { role: ParamRole; layer: string }>();
  const convNames: string[] = [];
  nodes.forEach((n, i) => {
    const ins = n.input ?? [];
    const slot = (k: number, role: ParamRole) => {
      if (ins[k] && initializers.has(ins[k]) && !roles.has(ins[k]))
        roles.set(ins[k], { role, layer: layerName(n, i) });
    };
    if (n.opType === 'Conv') {
      slot(1, 'conv');
      slot(2, 'bias');
      if (ins[1] && roles.get(ins[1])?.role === 'conv') convNames.push(ins[1]);
    } else if (n.opType === 'BatchNormalization') {
      (['bn-weight', 'bn-bias', 'bn-mean', 'bn-var'] as const).forEach((r, k) => {
        slot(k + 1, r);
      });
    } else if (n.opType === 'Gemm' || n.opType === 'MatMul') {
      slot(1, 'linear');
      slot(2, 'bias');
    }
  });
  const hasBN = nodes.some((n) => n.opType === 'BatchNormalization');
  const convBiases = nodes.some((n) => n.opType === 'Conv' && n.input?.[2]);
  // pss names conv layers after the exporter's node names when weights have generated names.
  const paramName = (init: string) => {
    const r = roles.get(init)!;
    if (!GENERATED_NAME.test(init)) return init;
    const suffix = {
      conv: 'weight',
      linear: 'weight',
      bias: 'bias',
      'bn-weight': 'weight',
      'bn-bias': 'bias',
      'bn-mean': 'running_mean',
      'bn-var': 'running_var',
    }[r.role];
    return `${r.layer}.${suffix}`;
  };
  const names = new Map([...roles.keys()].map((k) => [k, paramName(k)]));
  if (new Set(names.values()).size !== names.size) for (const k of names.keys()) names.set(k, k);
  const weights = new Map(
    [...roles.keys()].map((k) => [names.get(k)!, Float32Array.from(initializers.get(k)!.data)]),
  );
  const outputDims = graph.output?.[0]?.type?.tensorType?.shape?.dim;
  if (outputDims && outputDims.length !== 2)
    throw new PssError(
      `${source}: output "${outputName}" has ${outputDims.length} dimensions; pss needs class scores of shape [N, classes] (is this an image classifier?)`,
    );
  const numClasses = num(outputDims?.[1]?.dimValue) || 0;
  if (convNames.length === 0)
    throw new PssError(
      `${source} has no convolution with constant weights: pss ranks convolution filters, and this model has none`,
    );

  const arch: Architecture = {
    name: source.replace(/^.*[\\/]/, '').replace(/\.onnx$/i, ''),
    description: `ONNX model ${source}`,
    defaultClasses: numClasses,
    inputShape,
    classifier: '',
    preprocessing: IMAGENET,
    define(net: Net) {
      // Convs first, in node order (the saliency order); then the other parameters.
      const getters = new Map<string, () => Value>();
      const order = [...convNames, ...[...roles.keys()].filter((k) => !convNames.includes(k))];
      for (const k of order) {
        const r = roles.get(k)!;
        getters.set(
          k,
          net.parameter(
            names.get(k)!,
            initializers.get(k)!.shape,
            r.role,
            r.role === 'bn-mean' || r.role === 'bn-var',
          ),
        );
      }
      return (x: Value) =>
        replay(nodes, x, imageInput.name!, logitsName, initializers, getters, opset, source);
    },
  };
  // Folding (torch.onnx in eval mode) leaves conv weights with generated names and new biases;
  // a model that never had BatchNorm keeps its parameters' names (VGG: features.0.weight).
  const generatedConvWeights = convNames.some((k) => GENERATED_NAME.test(k));
  return {
    arch,
    weights,
    batchNormFolded: !hasBN && convBiases && generatedConvWeights,
    droppedSoftmax,
    opset,
  };
}

/** A readable layer name from the exporter's node name ("/layer1/layer1.0/conv1/Conv" → "layer1.0.conv1"). */
export function layerName(n: NodeProto, index: number): string {
  const parts = (n.name ?? '').split('/').filter(Boolean);
  if (parts.length && parts[parts.length - 1].startsWith(n.opType ?? '\0')) parts.pop();
  // Exporters repeat module prefixes ("layer1", "layer1.0"): keep the longer one.
  const segments: string[] = [];
  for (const p of parts) {
    if (segments.length && p.startsWith(`${segments[segments.length - 1]}.`))
      segments[segments.length - 1] = p;
    else segments.push(p);
  }
  return segments.join('.') || `${(n.opType ?? 'node').toLowerCase()}${index}`;
}

/** ONNX names are free text; a control character would break a one-line message. */
const CONTROL = /\p{Cc}/u;
/** ONNX operator types and domains are identifiers. */
const IDENTIFIER = /^[A-Za-z_][\w.]*$/;

/**
 * Decodes the protobuf and checks the structure the importer reads: a graph with nodes, operator
 * types that are identifiers, names without control characters. Every problem is one PssError.
 */
function decodeModel(
  bytes: Uint8Array,
  source: string,
): { model: onnxProto.onnx.ModelProto; graph: onnxProto.onnx.IGraphProto & { node: NodeProto[] } } {
  let model: onnxProto.onnx.ModelProto;
  try {
    model = int64AsNumbers(() => onnx.ModelProto.decode(bytes));
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const why = /call stack/.test(message) ? 'nested too deeply' : message;
    throw new PssError(`${source} is not a valid ONNX model (${why.replace(/\s+/g, ' ').slice(0, 120)})`);
  }
  const graph = model.graph;
  if (!graph?.node?.length) throw new PssError(`${source} has no graph`);
  for (const n of graph.node) {
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
  return { model, graph: graph as onnxProto.onnx.IGraphProto & { node: NodeProto[] } };
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
};

/**
 * An initializer or Constant tensor as a Const. Its data is either raw_data (little-endian) or
 * the typed field, never both, and holds exactly the elements its dims say — checked before
 * anything is allocated, so dims that claim 2^40 elements cost nothing.
 */
function tensorConst(t: onnxProto.onnx.ITensorProto, source: string): Const {
  const what = `${source}: tensor ${quoted(t.name ?? '')}`;
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || t.externalData?.length)
    throw new PssError(`${what} is kept in an external file; re-save the model with the weights inside`);
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
  const data = new Float64Array(size);
  if (rawBytes) {
    const raw = new DataView(t.rawData!.buffer, t.rawData!.byteOffset, rawBytes);
    for (let i = 0; i < size; i++) data[i] = get(raw, i * width);
  } else for (let i = 0; i < size; i++) data[i] = num(values[i] as number | Long);
  return { data, shape, float: type === 1 || type === 11 };
}

function attr(n: NodeProto, name: string): onnxProto.onnx.IAttributeProto | undefined {
  return n.attribute?.find((a) => a.name === name);
}
const ints = (n: NodeProto, name: string, dflt?: number[]) => attr(n, name)?.ints?.map(num) ?? dflt;
const int = (n: NodeProto, name: string, dflt: number) => {
  const a = attr(n, name);
  return a ? num(a.i) : dflt;
};
const float = (n: NodeProto, name: string, dflt: number) => attr(n, name)?.f ?? dflt;

type Entry = { value: Value } | { konst: Const };

function replay(
  nodes: readonly NodeProto[],
  x: Value,
  inputName: string,
  outputName: string,
  initializers: Map<string, Const>,
  params: Map<string, () => Value>,
  opset: number,
  source: string,
): Value {
  const env = new Map<string, Entry>([[inputName, { value: x }]]);
  const graph = x.graph;
  const get = (name: string): Entry => {
    const p = params.get(name);
    if (p) return { value: p() };
    const e = env.get(name) ?? (initializers.has(name) ? { konst: initializers.get(name)! } : undefined);
    if (!e) throw new PssError(`${source}: tensor "${name}" is used before it is computed`);
    return e;
  };
  const value = (name: string): Value => {
    const e = get(name);
    if ('value' in e) return e.value;
    return graph.constant(Float32Array.from(e.konst.data), e.konst.shape);
  };
  const konst = (name: string | undefined): Const | undefined => {
    if (!name) return undefined;
    const e = get(name);
    return 'konst' in e ? e.konst : undefined;
  };
  const staticInts = (name: string | undefined, what: string): number[] => {
    const c = konst(name);
    if (!c) throw new PssError(`${source}: ${what} must be a constant`);
    return Array.from(c.data);
  };

  for (const n of nodes) {
    const ins = n.input ?? [];
    const out = n.output?.[0] ?? '';
    const t = n.opType!;
    const allStatic = ins.filter(Boolean).every((i) => !params.has(i) && konst(i));
    if (
      STATIC_OPS.has(t) ||
      (allStatic &&
        ['Unsqueeze', 'Squeeze', 'Concat', 'Slice', 'Reshape', 'Mul', 'Add', 'Sub', 'Div'].includes(t))
    ) {
      env.set(out, {
        konst: evalStatic(
          n,
          ins.map((i) => (i ? konst(i) : undefined)),
          opset,
          source,
          (name) => get(name),
        ),
      });
      continue;
    }
    const v = (k: number) => value(ins[k]);
    let y: Value;
    switch (t) {
      case 'Conv': {
        const w = v(1);
        const kernel = w.shape.slice(2);
        y = op.conv(v(0), w, ins[2] ? v(2) : undefined, {
          strides: ints(n, 'strides', [1, 1]),
          dilations: ints(n, 'dilations', [1, 1]),
          group: int(n, 'group', 1),
          pads: explicitPads(n, v(0).shape.slice(2), kernel, source),
        });
        break;
      }
      case 'BatchNormalization':
        if ((n.output ?? []).filter(Boolean).length > 1 || int(n, 'training_mode', 0))
          throw new PssError(`${source}: BatchNormalization in training mode is not supported`);
        y = op.batchNorm(v(0), v(1), v(2), v(3), v(4), float(n, 'epsilon', 1e-5));
        break;
      case 'Relu':
        y = op.relu(v(0));
        break;
      case 'Clip': {
        const lo = ins[1] ? staticInts(ins[1], 'Clip min')[0] : float(n, 'min', -3.4e38);
        const hi = ins[2] ? staticInts(ins[2], 'Clip max')[0] : float(n, 'max', 3.4e38);
        y = op.clip(v(0), lo, hi);
        break;
      }
      case 'MaxPool':
      case 'AveragePool': {
        if (ints(n, 'dilations', [1, 1])!.some((d) => d !== 1))
          throw new PssError(`${source}: dilated pooling is not supported`);
        const kernel = ints(n, 'kernel_shape')!;
        const strides = ints(n, 'strides', [1, 1])!;
        const input = v(0);
        const pads = explicitPads(n, input.shape.slice(2), kernel, source);
        if (int(n, 'ceil_mode', 0)) {
          // Ceil mode = extra end padding that lets the last partial window count.
          if (t === 'AveragePool')
            throw new PssError(`${source}: AveragePool with ceil_mode is not supported`);
          [0, 1].forEach((i) => {
            const span = input.shape[2 + i] + pads[i] + pads[i + 2] - kernel[i];
            pads[i + 2] += (strides[i] - (span % strides[i])) % strides[i];
          });
        }
        y =
          t === 'MaxPool'
            ? op.maxPool(input, { kernel, strides, pads })
            : op.averagePool(input, {
                kernel,
                strides,
                pads,
                countIncludePad: int(n, 'count_include_pad', 0) === 1,
              });
        break;
      }
      case 'GlobalAveragePool':
        y = op.globalAveragePool(v(0));
        break;
      case 'Gemm':
        y = op.gemm(v(0), v(1), ins[2] ? v(2) : undefined, {
          alpha: float(n, 'alpha', 1),
          beta: float(n, 'beta', 1),
          transA: int(n, 'transA', 0) === 1,
          transB: int(n, 'transB', 0) === 1,
        });
        break;
      case 'MatMul':
        y = op.matmul(v(0), v(1));
        break;
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
        y = op.emit(graph, t, [v(0), v(1)]);
        break;
      case 'Neg':
      case 'Abs':
      case 'Sqrt':
      case 'Exp':
      case 'Log':
      case 'Sigmoid':
        y = op.emit(graph, t, [v(0)]);
        break;
      case 'Identity':
      case 'Dropout':
        y = v(0);
        break;
      case 'Flatten':
        y = op.flatten(v(0), int(n, 'axis', 1));
        break;
      case 'Reshape': {
        const input = v(0);
        const shape = staticInts(ins[1], 'Reshape shape').map((d, i) =>
          d === 0 && !int(n, 'allowzero', 0) ? input.shape[i] : d,
        );
        y = op.reshape(input, shape);
        break;
      }
      case 'Squeeze':
      case 'Unsqueeze': {
        const input = v(0);
        const axes = ins[1] ? staticInts(ins[1], `${t} axes`) : ints(n, 'axes', [])!;
        y = op.reshape(input, squeezeShape(t, input.shape, axes));
        break;
      }
      case 'Concat':
        y = op.concat(
          ins.map((i) => value(i)),
          int(n, 'axis', 0),
        );
        break;
      case 'Transpose':
        y = op.transpose(
          v(0),
          ints(
            n,
            'perm',
            v(0).shape.map((_, i) => v(0).rank - 1 - i),
          )!,
        );
        break;
      case 'Softmax':
      case 'LogSoftmax': {
        const input = v(0);
        if (opset < 13 && input.rank !== 2)
          throw new PssError(`${source}: ${t} before opset 13 is supported on matrices only`);
        y =
          t === 'Softmax' ? op.softmax(input, int(n, 'axis', -1)) : op.logSoftmax(input, int(n, 'axis', -1));
        break;
      }
      case 'ReduceMean':
      case 'ReduceSum':
      case 'ReduceMax': {
        const input = v(0);
        const fromInput = t === 'ReduceSum' ? opset >= 13 : opset >= 18;
        const axes =
          (fromInput && ins[1] ? staticInts(ins[1], `${t} axes`) : ints(n, 'axes')) ??
          input.shape.map((_, i) => i);
        const f = t === 'ReduceMean' ? op.reduceMean : t === 'ReduceSum' ? op.reduceSum : op.reduceMax;
        y = f(input, axes, int(n, 'keepdims', 1) === 1);
        break;
      }
      case 'Pad': {
        const mode = attr(n, 'mode')?.s ? new TextDecoder().decode(attr(n, 'mode')!.s!) : 'constant';
        const cv = ins[2] ? staticInts(ins[2], 'Pad value')[0] : 0;
        if (mode !== 'constant' || cv !== 0)
          throw new PssError(`${source}: only zero padding is supported (Pad mode ${mode})`);
        y = op.pad(v(0), ins[1] ? staticInts(ins[1], 'Pad pads') : ints(n, 'pads')!);
        break;
      }
      case 'Slice': {
        const input = v(0);
        const [starts, ends] = [staticInts(ins[1], 'Slice starts'), staticInts(ins[2], 'Slice ends')];
        const axes = ins[3] ? staticInts(ins[3], 'Slice axes') : starts.map((_, i) => i);
        const steps = ins[4] ? staticInts(ins[4], 'Slice steps') : undefined;
        y = op.slice(input, starts.map(clampIndex), ends.map(clampIndex), axes, steps);
        break;
      }
      default:
        throw new PssError(`${source}: ONNX operator ${t} is not supported`);
    }
    env.set(out, { value: y });
  }
  return value(outputName);
}

const clampIndex = (v: number) => Math.max(-(2 ** 31), Math.min(2 ** 31, v));

function squeezeShape(t: string, shape: readonly number[], axes: number[]): number[] {
  if (t === 'Squeeze') {
    const ax = axes.length
      ? axes.map((a) => (a < 0 ? a + shape.length : a))
      : shape.flatMap((d, i) => (d === 1 ? [i] : []));
    return shape.filter((_, i) => !ax.includes(i));
  }
  const rank = shape.length + axes.length;
  const ax = axes.map((a) => (a < 0 ? a + rank : a));
  const out: number[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) out.push(ax.includes(i) ? 1 : shape[k++]);
  return out;
}

/** ONNX pads, with auto_pad SAME_UPPER/SAME_LOWER/VALID resolved on the static input size. */
function explicitPads(
  n: NodeProto,
  spatial: readonly number[],
  kernel: readonly number[],
  source: string,
): number[] {
  const autoPad = attr(n, 'auto_pad')?.s ? new TextDecoder().decode(attr(n, 'auto_pad')!.s!) : 'NOTSET';
  if (autoPad === 'NOTSET') return ints(n, 'pads', [0, 0, 0, 0])!;
  if (autoPad === 'VALID') return [0, 0, 0, 0];
  if (autoPad !== 'SAME_UPPER' && autoPad !== 'SAME_LOWER')
    throw new PssError(`${source}: unknown auto_pad ${autoPad}`);
  const strides = ints(n, 'strides', [1, 1])!;
  const dilations = ints(n, 'dilations', [1, 1])!;
  const pads = [0, 0, 0, 0];
  [0, 1].forEach((i) => {
    const out = Math.ceil(spatial[i] / strides[i]);
    const total = Math.max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - spatial[i]);
    const small = Math.floor(total / 2);
    [pads[i], pads[i + 2]] = autoPad === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
  });
  return pads;
}

/** Shape arithmetic on constants. */
function evalStatic(
  n: NodeProto,
  ins: (Const | undefined)[],
  opset: number,
  source: string,
  get: (name: string) => Entry,
): Const {
  const t = n.opType!;
  const c = (data: ArrayLike<number>, shape: number[], float = false): Const => ({
    data: Float64Array.from(data),
    shape,
    float,
  });
  const need = (k: number) => ins[k] ?? fail(`${t} input ${k} must be a constant`);
  const fail = (msg: string): never => {
    throw new PssError(`${source}: ${msg}`);
  };
  switch (t) {
    case 'Constant': {
      const a = n.attribute?.[0];
      if (a?.t) return tensorConst(a.t, source);
      if (a?.name === 'value_float') return c([a.f ?? 0], [], true);
      if (a?.name === 'value_floats') return c(a.floats ?? [], [a.floats?.length ?? 0], true);
      if (a?.name === 'value_int') return c([num(a.i)], []);
      if (a?.name === 'value_ints') return c((a.ints ?? []).map(num), [a.ints?.length ?? 0]);
      return fail('unsupported Constant node');
    }
    case 'Shape': {
      const e = get(n.input![0]);
      const shape = 'value' in e ? [...e.value.shape] : e.konst.shape;
      return c(shape, [shape.length]);
    }
    case 'Gather': {
      const [data, idx] = [need(0), need(1)];
      const axis = int(n, 'axis', 0);
      if (axis !== 0 || data.shape.length !== 1) fail('Gather on constants supports 1-D data only');
      return c(
        Array.from(idx.data, (i) => data.data[i < 0 ? i + data.data.length : i]),
        idx.shape,
      );
    }
    case 'Cast':
      return { ...need(0), float: [1, 10, 11].includes(int(n, 'to', 1)) };
    case 'ConstantOfShape': {
      const shape = Array.from(need(0).data);
      const fill = attr(n, 'value')?.t ? tensorConst(attr(n, 'value')!.t!, source).data[0] : 0;
      return c(new Float64Array(shape.reduce((a, b) => a * b, 1)).fill(fill), shape);
    }
    case 'Range': {
      const [s, l, d] = [need(0).data[0], need(1).data[0], need(2).data[0]];
      const out: number[] = [];
      for (let v = s; d > 0 ? v < l : v > l; v += d) out.push(v);
      return c(out, [out.length]);
    }
    case 'Floor':
    case 'Ceil':
      return c(need(0).data.map(t === 'Floor' ? Math.floor : Math.ceil), need(0).shape, true);
    case 'Unsqueeze':
    case 'Squeeze': {
      const axes = ins[1] ? Array.from(ins[1].data) : ints(n, 'axes', [])!;
      return { ...need(0), shape: squeezeShape(t, need(0).shape, axes) };
    }
    case 'Concat': {
      const parts = ins.map((_, k) => need(k));
      return c(
        parts.flatMap((p) => Array.from(p.data)),
        [parts.reduce((s, p) => s + (p.shape[0] ?? 1), 0)],
      );
    }
    case 'Reshape':
      return { ...need(0), shape: Array.from(need(1).data) };
    case 'Slice': {
      const data = need(0);
      if (data.shape.length !== 1) fail('Slice on constants supports 1-D data only');
      const len = data.data.length;
      const norm = (v: number) => Math.min(Math.max(v < 0 ? v + len : v, 0), len);
      const [s, e] = [norm(need(1).data[0]), norm(need(2).data[0])];
      const step = ins[4]?.data[0] ?? 1;
      const out: number[] = [];
      for (let i = s; step > 0 ? i < e : i > e; i += step) out.push(data.data[i]);
      return c(out, [out.length]);
    }
    case 'Mul':
    case 'Add':
    case 'Sub':
    case 'Div': {
      const [a, b] = [need(0), need(1)];
      const f = {
        Mul: (x: number, y: number) => x * y,
        Add: (x: number, y: number) => x + y,
        Sub: (x: number, y: number) => x - y,
        Div: (x: number, y: number) => (a.float || b.float ? x / y : Math.trunc(x / y)),
      }[t];
      const big = a.data.length >= b.data.length ? a : b;
      return c(
        Array.from(big.data, (_, i) =>
          f(a.data[a.data.length === 1 ? 0 : i], b.data[b.data.length === 1 ? 0 : i]),
        ),
        big.shape,
        a.float || b.float,
      );
    }
  }
  return fail(`${t} on constants is not supported (opset ${opset})`);
}

/** An ONNX classifier file as a Model. */
export function onnxModel(bytes: Uint8Array, source: string): Model {
  const imported = importOnnx(bytes, source);
  const notes = [];
  if (imported.batchNormFolded)
    notes.push(
      'BatchNorm appears folded into the convs (no BatchNormalization, conv biases, generated weight names): raw saliency differs by a per-filter factor; z-scores with statistics of this same file are unaffected',
    );
  if (imported.droppedSoftmax) notes.push('the final Softmax was dropped to obtain logits');
  if (!imported.arch.defaultClasses)
    throw new PssError(`${source}: the number of classes (output shape [N, K]) is not static`);
  return new Model(imported.arch, imported.arch.defaultClasses, imported.weights, source, {
    batchNormFolded: imported.batchNormFolded,
    notes,
  });
}
