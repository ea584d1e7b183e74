/** Fuzz targets for model files: PyTorch checkpoints (zip and legacy pickles) and ONNX models. */
import assert from 'node:assert/strict';
import { unzipSync, zipSync } from 'fflate';
import onnxProto from 'onnx-proto';
import { toOnnxModel } from '../../../src/graph/onnx.js';
import { describe, PyDict, readCheckpoint, stateDictTensors, TorchTensor } from '../../../src/io/pth.js';
import { Model } from '../../../src/models/model.js';
import { onnxModel } from '../../../src/models/onnx-import.js';
import { tinycnn } from '../../../src/models/tinycnn.js';
import { buildForward } from '../../../src/saliency/graph.js';
import { loadSkeleton } from '../../helpers/onnx.js';
import { innerMutations } from '../mutate.js';
import { onnxEdits } from '../onnx-edits.js';
import { file, filesIn, MiB, type Target } from './common.js';

// ---- PyTorch checkpoints -----------------------------------------------------------------------

/** Every tensor reachable from a checkpoint's value (cycles and shared objects visited once). */
function tensorsIn(root: unknown): TorchTensor[] {
  const seen = new Set<unknown>();
  const stack = [root];
  const out: TorchTensor[] = [];
  while (stack.length && seen.size < 1e5) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    seen.add(v);
    if (v instanceof TorchTensor) out.push(v);
    else if (v instanceof Map) for (const [k, x] of v) stack.push(k, x);
    else if (v instanceof Set || Array.isArray(v)) stack.push(...v);
  }
  return out;
}

const latin1 = (t: string) => Uint8Array.from(t, (c) => c.charCodeAt(0));
const PICKLE_OPCODES = [
  0x80, 0x95, 0x2e, 0x4e, 0x88, 0x4a, 0x4b, 0x4d, 0x8a, 0x8b, 0x58, 0x8c, 0x8d, 0x42, 0x8e, 0x28, 0x29, 0x74,
  0x85, 0x86, 0x87, 0x5d, 0x6c, 0x61, 0x65, 0x7d, 0x64, 0x73, 0x75, 0x8f, 0x90, 0x91, 0x30, 0x31, 0x32, 0x71,
  0x72, 0x94, 0x68, 0x6a, 0x63, 0x93, 0x52, 0x81, 0x92, 0x62, 0x51, 0x50, 0x49, 0x4c, 0x46, 0x47,
];
const PICKLE_TOKENS = [
  ...PICKLE_OPCODES.map((op) => Uint8Array.of(op)),
  ...[
    'ctorch._utils\n_rebuild_tensor_v2\n',
    'ccollections\nOrderedDict\n',
    'ctorch\nFloatStorage\n',
    'cos\nsystem\n',
    '\x8c\x07storage',
    '\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f',
  ].map(latin1),
];

/** A torch.save zip opened at its data.pkl, and rebuilt (stored, as torch writes it) around a new one. */
function openZip(zip: Uint8Array) {
  const files = unzipSync(zip);
  const pkl = Object.keys(files).find((n) => n.endsWith('/data.pkl'))!;
  return {
    inner: files[pkl],
    rebuild: (inner: Uint8Array) => zipSync({ ...files, [pkl]: inner }, { level: 0 }),
  };
}

const PTH_SEEDS = [...filesIn('test/fixtures/pth', /\.pth$/), ...filesIn('test/fuzz/seeds', /\.pth$/)];
const isZip = (b: Uint8Array) => b[0] === 0x50 && b[1] === 0x4b;

const pth: Target = {
  name: 'pth',
  seeds: PTH_SEEDS,
  // the pickle inside the zip, mutated: byte edits of the archive mostly stop at the zip reader
  structured: innerMutations(PTH_SEEDS.filter(isZip), openZip, PICKLE_TOKENS),
  tokens: [
    ...PICKLE_TOKENS,
    ...['PK\x03\x04', 'PK\x01\x02', 'PK\x05\x06', 'archive/data.pkl', 'archive/data/0'].map(latin1),
  ],
  async run(bytes) {
    const what = 'weights file x.pth';
    const root = readCheckpoint(bytes, what);
    describe(root);
    for (const t of tensorsIn(root)) {
      const b = t.bytes();
      assert.ok(
        t.numel === 0 ? b.length === 0 : b.length % t.numel === 0,
        `${b.length} bytes for ${t.numel}`,
      );
      if (t.dtype !== 'complex64' && t.dtype !== 'complex128') assert.equal(t.toFloat64().length, t.numel);
    }
    // what loadWeights does with it
    if (root instanceof PyDict)
      for (const t of stateDictTensors(root, what).values()) if (t.isFloating()) t.toFloat32();
    return root;
  },
  memoryBound: (n) => 32 * MiB + 64 * n,
};

// ---- ONNX --------------------------------------------------------------------------------------

/** A small classifier written with onnx-proto: initializers as raw_data, float_data and int64_data. */
function handmadeOnnx(): Uint8Array {
  const { onnx } = onnxProto;
  const vi = (name: string, dims: number[]) => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  });
  const w = Float32Array.from({ length: 2 * 3 * 3 * 3 }, (_, i) => Math.sin(i));
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'g',
      node: [
        {
          opType: 'Conv',
          input: ['x', 'conv.weight', 'conv.bias'],
          output: ['c'],
          name: '/conv/Conv',
          attribute: [{ name: 'pads', ints: [1, 1, 1, 1], type: 7 }],
        },
        { opType: 'Relu', input: ['c'], output: ['r'] },
        { opType: 'GlobalAveragePool', input: ['r'], output: ['p'] },
        { opType: 'Reshape', input: ['p', 'shape'], output: ['f'] },
        {
          opType: 'Gemm',
          input: ['f', 'fc.weight', 'fc.bias'],
          output: ['y'],
          attribute: [{ name: 'transB', i: 1, type: 2 }],
        },
      ],
      initializer: [
        { name: 'conv.weight', dims: [2, 3, 3, 3], dataType: 1, rawData: new Uint8Array(w.buffer) },
        { name: 'conv.bias', dims: [2], dataType: 1, floatData: [0.1, -0.1] },
        { name: 'shape', dims: [2], dataType: 7, int64Data: [1, 2] },
        { name: 'fc.weight', dims: [4, 2], dataType: 1, floatData: [1, 2, 3, 4, 5, 6, 7, 8] },
        { name: 'fc.bias', dims: [4], dataType: 11, doubleData: [0, 1, 2, 3] },
      ],
      input: [vi('x', [1, 3, 8, 8])],
      output: [vi('y', [1, 4])],
    },
  }).finish();
}

function tinycnnOnnx(): Uint8Array {
  const { logits } = buildForward(Model.deterministic(tinycnn), [1, 3, 29, 29]);
  return toOnnxModel([{ name: 'logits', value: logits }]);
}

const ONNX_SEEDS = [
  handmadeOnnx(),
  tinycnnOnnx(),
  file('test/fixtures/onnx/resnet18-folded.skeleton.onnx'),
  // exports with If branches (LocalResponseNorm, a squeeze), 3-D and ceil-mode pools, Conv1d,
  // DepthToSpace and ConvTranspose
  loadSkeleton('test/fixtures/onnx-patterns/norms_cnn-op13.skeleton.onnx.gz'),
  loadSkeleton('test/fixtures/onnx-patterns/eca-op17.skeleton.onnx.gz'),
  loadSkeleton('test/fixtures/onnx-patterns/resnet_d-op13.skeleton.onnx.gz'),
];
const onnx: Target = {
  name: 'onnx',
  seeds: ONNX_SEEDS,
  structured: onnxEdits(ONNX_SEEDS),
  tokens: [
    // protobuf keys (ModelProto.graph, GraphProto.node/initializer/input/output, TensorProto fields)
    ...[0x08, 0x10, 0x12, 0x1a, 0x22, 0x2a, 0x32, 0x3a, 0x42, 0x4a, 0x52, 0x62, 0x6a, 0x72, 0x7a, 0x0a].map(
      (k) => Uint8Array.of(k),
    ),
    Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
    Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x10),
    Uint8Array.of(0x0f),
    'Conv',
    'Constant',
    'Reshape',
    'Softmax',
    'If',
    'then_branch',
    'else_branch',
    'ceil_mode',
  ],
  async run(bytes) {
    const m = onnxModel(bytes, 'model x.onnx');
    assert.ok(m.unitCount >= 0);
    return m.unitCount;
  },
  memoryBound: (n) => 64 * MiB + 48 * n,
};

export { onnx, pth };
