/**
 * Structured mutations of ONNX models: byte-level edits of a protobuf mostly break its wire
 * format and stop at the decoder, so these edit the decoded model — initializer dims, data
 * types, raw_data against the typed fields, external data, names, operator types, the graph's
 * inputs and outputs — and encode it again, so the importer's own checks are what gets tested.
 */
import fc from 'fast-check';
import onnxProto from 'onnx-proto';
import { EXTREME_INTS } from './mutate.js';

const { onnx } = onnxProto;
type Model = onnxProto.onnx.ModelProto;

type Edit =
  | { kind: 'dim'; tensor: number; dim: number; value: number }
  | { kind: 'rank'; tensor: number; add: boolean }
  | { kind: 'dataType'; tensor: number; value: number }
  | { kind: 'raw'; tensor: number; keep: number; extra: number }
  | { kind: 'typed'; tensor: number; count: number; keepRaw: boolean }
  | { kind: 'external'; tensor: number; how: 'location' | 'entries' }
  | { kind: 'tensorName'; tensor: number; name: string }
  | { kind: 'opType'; node: number; value: string }
  | { kind: 'inputs'; node: number; keep: number }
  | { kind: 'graph' }
  | { kind: 'opset'; value: number }
  | { kind: 'io'; output: boolean; dim: number; value: number }
  | { kind: 'constant'; dims: number[]; values: number };

const index = fc.nat({ max: 1 << 16 });
const extreme = fc.constantFrom(...EXTREME_INTS, 2 ** 40, -7);
const names = fc.constantFrom('', 'x', 'a\nb', 'conv.weight', 'fc.weight', 'shape', 'y', '\u0000');
const opTypes = fc.constantFrom('', 'Conv', 'Foo', 'a\nb', 'Constant', 'Reshape', 'Softmax', 'Gemm', 'If');

export const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('dim' as const), tensor: index, dim: index, value: extreme }),
  fc.record({ kind: fc.constant('rank' as const), tensor: index, add: fc.boolean() }),
  fc.record({
    kind: fc.constant('dataType' as const),
    tensor: index,
    value: fc.constantFrom(0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 16, 1000),
  }),
  fc.record({
    kind: fc.constant('raw' as const),
    tensor: index,
    keep: fc.nat({ max: 4096 }),
    extra: fc.nat({ max: 9 }),
  }),
  fc.record({
    kind: fc.constant('typed' as const),
    tensor: index,
    count: fc.nat({ max: 64 }),
    keepRaw: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('external' as const),
    tensor: index,
    how: fc.constantFrom('location' as const, 'entries' as const),
  }),
  fc.record({ kind: fc.constant('tensorName' as const), tensor: index, name: names }),
  fc.record({ kind: fc.constant('opType' as const), node: index, value: opTypes }),
  fc.record({ kind: fc.constant('inputs' as const), node: index, keep: fc.nat({ max: 3 }) }),
  fc.record({ kind: fc.constant('graph' as const) }),
  fc.record({ kind: fc.constant('opset' as const), value: extreme }),
  fc.record({
    kind: fc.constant('io' as const),
    output: fc.boolean(),
    dim: fc.nat({ max: 4 }),
    value: extreme,
  }),
  fc.record({
    kind: fc.constant('constant' as const),
    dims: fc.array(extreme, { maxLength: 3 }),
    values: fc.nat({ max: 8 }),
  }),
);

export function apply(model: Model, e: Edit): void {
  const graph = model.graph;
  const inits = graph?.initializer ?? [];
  const nodes = graph?.node ?? [];
  const t = 'tensor' in e && inits.length ? inits[e.tensor % inits.length] : undefined;
  switch (e.kind) {
    case 'dim':
      if (t?.dims?.length) t.dims[e.dim % t.dims.length] = e.value;
      return;
    case 'rank':
      if (t) t.dims = e.add ? [...(t.dims ?? []), 1] : (t.dims ?? []).slice(0, -1);
      return;
    case 'dataType':
      if (t) t.dataType = e.value;
      return;
    case 'raw':
      if (t?.rawData)
        t.rawData = Uint8Array.from([...t.rawData.subarray(0, e.keep), ...new Array(e.extra).fill(7)]);
      return;
    case 'typed':
      if (!t) return;
      t.floatData = Array.from({ length: e.count }, (_, i) => i / 2);
      t.int64Data = e.count % 2 ? Array.from({ length: e.count }, (_, i) => i) : [];
      if (!e.keepRaw) t.rawData = new Uint8Array(0);
      return;
    case 'external':
      if (!t) return;
      if (e.how === 'location') t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      else t.externalData = [{ key: 'location', value: 'weights.bin' }];
      return;
    case 'tensorName':
      if (t) t.name = e.name;
      return;
    case 'opType':
      if (nodes.length) nodes[e.node % nodes.length].opType = e.value;
      return;
    case 'inputs':
      if (nodes.length) {
        const n = nodes[e.node % nodes.length];
        n.input = (n.input ?? []).slice(0, e.keep);
      }
      return;
    case 'graph':
      model.graph = null;
      return;
    case 'opset':
      for (const o of model.opsetImport ?? []) o.version = e.value;
      return;
    case 'io': {
      const vi = (e.output ? graph?.output : graph?.input)?.[0];
      const dims = vi?.type?.tensorType?.shape?.dim;
      if (dims?.length) dims[e.dim % dims.length] = { dimValue: e.value };
      return;
    }
    case 'constant':
      if (!graph || !nodes.length) return;
      nodes.unshift(
        onnx.NodeProto.create({
          opType: 'Constant',
          output: [nodes[0].input?.[1] ?? 'k'],
          attribute: [
            {
              name: 'value',
              type: 4,
              t: { dims: e.dims, dataType: 1, floatData: Array.from({ length: e.values }, (_, i) => i) },
            },
          ],
        }),
      );
      return;
  }
}

/** 1–4 edits of a decoded seed, encoded again. */
export function onnxEdits(seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.nat({ max: seeds.length - 1 }), fc.array(edit, { minLength: 1, maxLength: 4 }))
    .map(([s, edits]) => {
      const model = onnx.ModelProto.decode(seeds[s]);
      for (const e of edits) apply(model, e);
      return onnx.ModelProto.encode(model).finish();
    });
}
