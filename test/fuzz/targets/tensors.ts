/** Fuzz targets for tensor files: .npy, safetensors, and statistics files (safetensors or the authors' .pth). */
import assert from 'node:assert/strict';
import { parseNpy, serializeNpy } from '../../../src/io/npy.js';
import { isTorchCheckpoint } from '../../../src/io/pth.js';
import { parseSafeTensors, serializeSafeTensors, toFloat32, toFloat64 } from '../../../src/io/safetensors.js';
import { authorsStats } from '../../../src/stats/authors.js';
import { parseStats, serializeStats } from '../../../src/stats/file.js';
import { RunningStats } from '../../../src/stats/welford.js';
import { file, filesIn, MiB, numel, type Target } from './common.js';

// ---- .npy --------------------------------------------------------------------------------------

/** The same array with a version 2 or 3 preamble (a 4-byte header length). */
function npyVersion(v1: Uint8Array, version: 2 | 3): Uint8Array {
  const headerLen = new DataView(v1.buffer, v1.byteOffset).getUint16(8, true);
  const out = new Uint8Array(v1.length + 2);
  out.set(v1.subarray(0, 8));
  out[6] = version;
  new DataView(out.buffer).setUint32(8, headerLen, true);
  out.set(v1.subarray(10), 12);
  return out;
}

const npy: Target = {
  name: 'npy',
  seeds: [
    file('examples/tinycnn-input.npy'),
    serializeNpy(Float32Array.from([1, -2, 3.5, 0, Number.NaN, 6]), [2, 3]),
    serializeNpy(new Float32Array(0), [0, 3]),
    serializeNpy(Float32Array.from([7]), []),
    serializeNpy(Float32Array.from([7]), [1, 1]),
    npyVersion(serializeNpy(Float32Array.from([1, 2, 3, 4, 5]), [5]), 2),
    npyVersion(serializeNpy(Float32Array.from([1, 2]), [1, 2]), 3),
  ],
  magic: Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]),
  tokens: [
    "'descr'",
    "'<f4'",
    "'>f4'",
    "'<f8'",
    "'fortran_order'",
    'True',
    'False',
    "'shape'",
    '()',
    '(0,)',
    '(1,)',
    ', ',
    '{',
    '}',
    '(',
    ')',
    "'",
    '\n',
  ],
  async run(bytes) {
    const a = parseNpy(bytes, 'input x.npy');
    assert.ok(
      a.shape.every((d) => Number.isSafeInteger(d) && d >= 0),
      `shape [${a.shape}]`,
    );
    assert.equal(a.data.length, numel(a.shape));
    return a;
  },
  memoryBound: (n) => 16 * MiB + 4 * n,
};

// ---- safetensors -------------------------------------------------------------------------------

/** A safetensors file of every dtype pss reads, an empty tensor and a scalar (header by hand). */
function everyDtype(): Uint8Array {
  const entries: [string, string, number[], number][] = [
    ['f16', 'F16', [2, 2], 2],
    ['bf16', 'BF16', [3], 2],
    ['u8', 'U8', [4], 1],
    ['bool', 'BOOL', [2], 1],
    ['i32', 'I32', [1, 2], 4],
    ['i64', 'I64', [], 8],
    ['empty', 'F32', [0, 5], 4],
  ];
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', note: 'fuzz seed' } };
  let at = 0;
  for (const [name, dtype, shape, item] of entries) {
    const size = numel(shape) * item;
    header[name] = { dtype, shape, data_offsets: [at, at + size] };
    at += size;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + at);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  for (let i = 8 + json.length; i < out.length; i++) out[i] = (i * 37) & 0xff;
  return out;
}

const SAFETENSORS_TOKENS = [
  '"dtype"',
  '"shape"',
  '"data_offsets"',
  '"__metadata__"',
  '"F32"',
  '"F16"',
  '"BF16"',
  '"F64"',
  '"I64"',
  '"I32"',
  '"U8"',
  '"BOOL"',
  '"toString"',
  'null',
  '[0,0]',
  '[]',
  '{}',
  '[',
  ']',
  '{',
  '}',
  ',',
  ':',
  '"',
  '\\n',
];

const safetensors: Target = {
  name: 'safetensors',
  seeds: [
    ...['deterministic_check', 'stats', 'input_saliency_tinycnn', 'fashion-cnn'].map((n) =>
      file(`test/fixtures/${n}.safetensors`),
    ),
    file('test/fixtures/pth/small.safetensors'),
    file('test/fixtures/fashion-cnn-stats-before-tails.safetensors'),
    serializeSafeTensors(
      {
        w: { dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
        d: { dtype: 'F64', shape: [2], data: Float64Array.from([0.5, -1]) },
        n: { dtype: 'I64', shape: [1], data: BigInt64Array.from([7n]) },
      },
      { k: 'v' },
    ),
    everyDtype(),
  ],
  tokens: SAFETENSORS_TOKENS,
  async run(bytes) {
    const st = parseSafeTensors(bytes, 'weights file x.safetensors');
    for (const v of Object.values(st.metadata)) assert.equal(typeof v, 'string');
    for (const t of st.tensors.values()) {
      const n = numel(t.shape);
      if (['F32', 'F64', 'F16', 'BF16'].includes(t.dtype)) assert.equal(toFloat32(t).length, n);
      if (t.dtype !== 'U8' && t.dtype !== 'BOOL' && t.dtype !== 'I32') assert.equal(toFloat64(t).length, n);
    }
    return st;
  },
  memoryBound: (n) => 16 * MiB + 12 * n,
};

// ---- statistics files --------------------------------------------------------------------------

const stats: Target = {
  name: 'stats',
  seeds: [
    file('test/fixtures/stats.safetensors'),
    file('test/fixtures/fashion-cnn-stats-before-tails.safetensors'),
    serializeStats({
      acc: RunningStats.from(3, Float64Array.from([1, 2]), Float64Array.from([0.5, 0.25])),
      meta: {
        model: 'tinycnn',
        weightsHash: 'unknown',
        aggregation: 'filter-abs-mean',
        filters: 2,
        preprocessing: '{"resize":32,"mean":[0.5],"std":[0.5],"input":[1,28,28]}',
        dataset: 'd',
        skipped: 0,
        position: 3,
        batch: 4,
      },
    }),
    ...filesIn('test/fuzz/seeds', /^authors_.*\.pth$/),
  ],
  tokens: [...SAFETENSORS_TOKENS, '"format"', '"pss-stats/1"', '"count"', '"mean"', '"m2"', '"std"'],
  async run(bytes) {
    const path = 'resnet50.stats';
    // readAnyStats, from bytes
    return isTorchCheckpoint(bytes) ? authorsStats(bytes, path) : parseStats(bytes, path);
  },
  memoryBound: (n) => 32 * MiB + 64 * n,
};

export { npy, safetensors, stats };
