/**
 * Bad input, as a careful user would try it: every case runs the real `pss` bin in an empty
 * folder and must give exit 1 (or the signal's code), ONE line `pss: ...` that names the
 * problem, no stack, and no file written — the folder stays empty.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import onnxProto from 'onnx-proto';
import sharp from 'sharp';
import { serializeNpy } from '../../src/io/npy.js';
import { parseSafeTensors, serializeSafeTensors, type TensorToWrite } from '../../src/io/safetensors.js';
import { serializeStats } from '../../src/stats/file.js';
import { RunningStats } from '../../src/stats/welford.js';
import { assertOneLine, type PssRun, pss, tempDir } from '../helpers/cli.js';
import { writeShardFaults } from '../helpers/shard-fixtures.js';

const fx = tempDir();
const f = (name: string) => join(fx, name);
// Absolute: every case runs in an empty folder of its own.
const repo = (p: string) => join(process.cwd(), p);
const TINY_WEIGHTS = repo('examples/tinycnn-deterministic.safetensors');
const TINY_INPUT = repo('examples/tinycnn-input.npy');
const EXAMPLE = repo('examples/fashion/shirt-as-tshirt-5806.png');
const FASHION_STATS = repo('models/fashion-cnn.stats.safetensors');

/** A float32 tensor as a safetensors file of TinyCNN's weights, with one tensor edited. */
function tinyWeights(name: string, edit: (t: Record<string, TensorToWrite>) => void) {
  const st = parseSafeTensors(new Uint8Array(readFileSync(TINY_WEIGHTS)));
  const tensors: Record<string, TensorToWrite> = {};
  for (const [k, t] of st.tensors)
    tensors[k] = {
      dtype: 'F32',
      shape: t.shape,
      data: new Float32Array(t.bytes.slice().buffer),
    };
  edit(tensors);
  writeFileSync(f(name), serializeSafeTensors(tensors));
}

/** Statistics like the bundled model's (same metadata) for `filters` filters, with an edit to the mean. */
function statsFile(
  name: string,
  meta: { model: string; filters: number },
  edit?: (mean: Float64Array) => void,
) {
  const bundled = parseSafeTensors(new Uint8Array(readFileSync(FASHION_STATS))).metadata;
  const acc = new RunningStats(meta.filters);
  for (let i = 0; i < 4; i++) acc.push(Array.from({ length: meta.filters }, (_, j) => (i + 1) * (j + 1)));
  edit?.(acc.mean);
  const bytes = serializeStats({
    acc,
    meta: {
      model: meta.model,
      weightsHash: 'unknown',
      aggregation: 'filter',
      filters: meta.filters,
      preprocessing: bundled.preprocessing,
      dataset: 'test',
      skipped: 0,
    },
  });
  writeFileSync(f(name), bytes);
}

/** A small ONNX model: `nodes` over input x [1,1,8,8], output y of `outDims`. */
function onnxFile(
  name: string,
  nodes: { opType: string; input: string[]; output: string[]; domain?: string }[],
  outDims: number[],
  inits: { name: string; dims: number[]; values?: number[]; raw?: Uint8Array }[] = [],
  channels = 1,
  size = 8,
) {
  const { onnx } = onnxProto;
  const vi = (n: string, dims: number[]) => ({
    name: n,
    type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  });
  const bytes = onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'g',
      node: nodes,
      input: [vi('x', [1, channels, size, size])],
      output: [vi('y', outDims)],
      initializer: inits.map((t) => ({
        name: t.name,
        dims: t.dims,
        dataType: 1,
        ...(t.raw
          ? { rawData: t.raw }
          : { floatData: t.values ?? new Array(t.dims.reduce((a, b) => a * b, 1)).fill(0.1) }),
      })),
    },
  }).finish();
  writeFileSync(f(name), bytes);
}

const conv = { opType: 'Conv', input: ['x', 'w'], output: ['c'] };
const convWeight = { name: 'w', dims: [4, 1, 3, 3] };

before(async () => {
  chmodSync(fx, 0o755); // readable by the other user of the bad-disk cases
  const npy = (name: string, shape: number[], edit?: (d: Float32Array) => void) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.1);
    edit?.(data);
    writeFileSync(f(name), serializeNpy(data, shape));
  };
  npy('ok.npy', [1, 28, 28]);
  npy('1x1.npy', [1, 1]);
  npy('1x0x28.npy', [1, 0, 28]);
  npy('3ch.npy', [3, 28, 28]);
  npy('32x32.npy', [1, 32, 32]);
  npy('8x8.npy', [1, 8, 8]);
  npy('nan.npy', [1, 28, 28], (d) => {
    d[100] = Number.NaN;
  });
  npy('inf.npy', [1, 28, 28], (d) => {
    d[5] = Number.POSITIVE_INFINITY;
  });
  npy('batch2.npy', [2, 1, 28, 28]);
  const okNpy = readFileSync(f('ok.npy'));
  writeFileSync(f('truncated.npy'), okNpy.subarray(0, okNpy.length - 10));
  writeFileSync(f('i32.npy'), Buffer.from(okNpy.toString('latin1').replace("'<f4'", "'<i4'"), 'latin1'));
  // a float64 header over float32 data: too few bytes
  writeFileSync(
    f('short-f64.npy'),
    Buffer.from(okNpy.toString('latin1').replace("'<f4'", "'<f8'"), 'latin1'),
  );
  writeFileSync(f('empty.png'), '');
  writeFileSync(f('text.png'), 'this is not an image\n');
  const png = readFileSync(EXAMPLE);
  writeFileSync(f('truncated.png'), png.subarray(0, 60));
  writeFileSync(
    f('wide.png'),
    await sharp({ create: { width: 16000, height: 1, channels: 3, background: '#808080' } })
      .png()
      .toBuffer(),
  );
  mkdirSync(f('dir.png'));
  execFileSync('mkfifo', [f('fifo')]);
  mkdirSync(f('out-with-fifo'));
  execFileSync('mkfifo', [f('out-with-fifo/heatmap.png')]);
  // A sparse 3 GiB file: no disk used, but far over any size pss reads.
  const fd = openSync(f('huge.safetensors'), 'w');
  closeSync(fd);
  execFileSync('truncate', ['-s', '3G', f('huge.safetensors')]);

  tinyWeights('nan-weights.safetensors', (t) => {
    (t['conv1.weight'].data as Float32Array)[7] = Number.NaN;
  });
  tinyWeights('inf-weights.safetensors', (t) => {
    (t['fc.bias'].data as Float32Array)[2] = Number.NEGATIVE_INFINITY;
  });
  tinyWeights('missing-tensor.safetensors', (t) => {
    delete t['conv2.weight'];
  });
  tinyWeights('wrong-shape.safetensors', (t) => {
    t['fc.bias'] = { dtype: 'F32', shape: [11], data: new Float32Array(11) };
  });
  writeFileSync(
    f('corrupt.safetensors'),
    Buffer.concat([Buffer.from([255, 255, 255, 255, 0, 0, 0, 0]), Buffer.alloc(64)]),
  );
  // Two tensors claiming the same bytes.
  const header = JSON.stringify({
    a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    b: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
  });
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  writeFileSync(f('overlap.safetensors'), Buffer.concat([len, Buffer.from(header), Buffer.alloc(8)]));

  statsFile('tinycnn-stats.safetensors', { model: 'tinycnn', filters: 192 });
  statsFile('nan-stats.safetensors', { model: 'fashion-cnn', filters: 224 }, (m) => {
    m[3] = Number.NaN;
  });
  // A statistics file whose mean is shorter than its filter count.
  const short = parseSafeTensors(readFileSync(f('tinycnn-stats.safetensors')));
  const vec = (k: string, n?: number) => {
    const t = short.tensors.get(k)!;
    const d = new Float64Array(t.bytes.slice().buffer);
    return { dtype: 'F64' as const, shape: [n ?? d.length], data: n ? d.subarray(0, n) : d };
  };
  writeFileSync(
    f('short-stats.safetensors'),
    serializeSafeTensors(
      { mean: vec('mean', 100), std: vec('std'), m2: vec('m2') },
      { ...short.metadata, model: 'fashion-cnn', filters: '224' },
    ),
  );
  writeFileSync(f('weights-as-stats.safetensors'), readFileSync(TINY_WEIGHTS));

  onnxFile('no-conv.onnx', [{ opType: 'Flatten', input: ['x'], output: ['y'] }], [1, 64]);
  onnxFile('not-logits.onnx', [{ ...conv, output: ['y'] }], [1, 4, 6, 6], [convWeight]);
  onnxFile(
    'unsupported.onnx',
    [
      conv,
      { opType: 'Flatten', input: ['c'], output: ['f'] },
      { opType: 'Hardmax', input: ['f'], output: ['y'] },
    ],
    [1, 144],
    [convWeight],
  );
  onnxFile(
    'custom-domain.onnx',
    [
      conv,
      { opType: 'Flatten', input: ['c'], output: ['f'] },
      { opType: 'FancyOp', input: ['f'], output: ['y'], domain: 'com.example' },
    ],
    [1, 144],
    [convWeight],
  );
  onnxFile(
    'short-initializer.onnx',
    [conv, { opType: 'Flatten', input: ['c'], output: ['y'] }],
    [1, 144],
    [{ name: 'w', dims: [4, 1, 3, 3], raw: new Uint8Array(16) }],
  );
  onnxFile(
    'nan-initializer.onnx',
    [conv, { opType: 'Flatten', input: ['c'], output: ['y'] }],
    [1, 144],
    [{ name: 'w', dims: [4, 1, 3, 3], values: [Number.NaN, ...new Array(35).fill(0.1)] }],
  );
  // An RGB classifier at 224×224: ImageNet preprocessing assumed (resize the shorter side to 256, crop).
  onnxFile(
    'rgb-classifier.onnx',
    [
      conv,
      { opType: 'GlobalAveragePool', input: ['c'], output: ['p'] },
      { opType: 'Flatten', input: ['p'], output: ['y'] },
    ],
    [1, 4],
    [{ name: 'w', dims: [4, 3, 3, 3] }],
    3,
    224,
  );
  onnxFile(
    'pool-no-kernel.onnx',
    [
      conv,
      { opType: 'MaxPool', input: ['c'], output: ['p'] },
      { opType: 'Flatten', input: ['p'], output: ['y'] },
    ],
    [1, 144],
    [convWeight],
  );
  onnxFile(
    'negative-classes.onnx',
    [conv, { opType: 'Flatten', input: ['c'], output: ['y'] }],
    [1, -3],
    [convWeight],
  );
  // Two convs sharing one weight: valid, one layer of saliency.
  onnxFile(
    'shared-weight.onnx',
    [
      { opType: 'Conv', input: ['x', 'w'], output: ['c'] },
      { opType: 'Conv', input: ['c', 'w'], output: ['d'] },
      { opType: 'Flatten', input: ['d'], output: ['y'] },
    ],
    [1, 16],
    [{ name: 'w', dims: [1, 1, 3, 3] }],
  );
  writeFileSync(f('garbage.onnx'), Buffer.from('definitely not protobuf \x00\xff\xfe'.repeat(20), 'latin1'));

  // Fashion-MNIST IDX files: a valid label file, an image file cut short inside the gzip stream.
  const images = Buffer.alloc(16 + 3 * 28 * 28);
  images.writeUInt32BE(2051, 0);
  images.writeUInt32BE(3, 4);
  images.writeUInt32BE(28, 8);
  images.writeUInt32BE(28, 12);
  const gz = gzipSync(images);
  writeFileSync(f('cut-images-idx3-ubyte.gz'), gz.subarray(0, gz.length - 20));
  const labels = Buffer.alloc(8 + 3);
  labels.writeUInt32BE(2049, 0);
  labels.writeUInt32BE(3, 4);
  writeFileSync(f('cut-labels-idx1-ubyte.gz'), gzipSync(labels));
  writeFileSync(f('empty.csv'), 'path,label\n');
  writeFileSync(f('bad-label.csv'), `path,label\n${EXAMPLE},eleven\n`);
  writeFileSync(f('a-file'), 'x');
  writeShardFaults(fx);
});

interface Case {
  /** What the user did. */
  name: string;
  args: () => string[];
  /** What the one line must say. */
  error: RegExp;
  env?: PssRun['env'];
  skip?: () => string | false;
}

const tiny = () => ['--model', 'tinycnn', '--weights', TINY_WEIGHTS, '--input', TINY_INPUT, '--label', '3'];
const fashion = (...more: string[]) => ['saliency', '--input', f('ok.npy'), '--label', '1', ...more];

const CASES: Case[] = [
  // Flags and words
  {
    name: 'an unknown option close to a real one',
    args: () => fashion('--stat', 'x'),
    error: /unknown option --stat \(did you mean --stats\?\)/,
  },
  {
    name: 'an option that is not there, with a prefix of one',
    args: () => ['explain', '--boost-factor', '5'],
    error: /unknown option --boost-factor \(did you mean --boost\?\)/,
  },
  { name: 'a stray word', args: () => ['explain', 'shark.jpg'], error: /unexpected argument "shark.jpg"/ },
  {
    name: 'a flag name without its dashes',
    args: () => ['explain', 'label', '3'],
    error: /did you mean --label\?/,
  },
  {
    name: 'an unknown command',
    args: () => ['explian'],
    error: /unknown command "explian".*did you mean explain\?/,
  },
  { name: 'no command', args: () => ['--model', 'resnet50'], error: /no command given; commands: saliency/ },
  {
    name: 'a flag given twice',
    args: () => ['explain', '--k', '3', '--k', '4'],
    error: /--k is given more than once/,
  },
  {
    name: 'a flag without its value',
    args: () => ['saliency', '--input', f('ok.npy'), '--label'],
    error: /--label needs a value/,
  },
  {
    name: 'a flag followed by another flag',
    args: () => ['saliency', '--label', '--input', f('ok.npy')],
    error: /--label needs a value \(got the option --input\)/,
  },
  {
    name: 'an empty label',
    args: () => ['saliency', '--input', f('ok.npy'), '--label', ''],
    error: /--label is empty/,
  },
  {
    name: 'an empty path',
    args: () => ['saliency', '--input', '', '--label', '1'],
    error: /--input is empty/,
  },
  {
    name: 'an enum value that is not an option',
    args: () => fashion('--aggregation', 'filtr'),
    error: /--aggregation must be one of .*did you mean filter\?/,
  },
  { name: 'a value for a switch', args: () => ['explain', '--random=3'], error: /--random is a switch/ },
  { name: 'k = 0', args: () => ['explain', '--k', '0'], error: /--k must be an integer >= 1, got "0"/ },
  {
    name: 'k not an integer',
    args: () => ['explain', '--k', '2.5'],
    error: /--k must be an integer >= 1, got "2.5"/,
  },
  {
    name: 'boost NaN',
    args: () => ['explain', '--boost', 'NaN'],
    error: /--boost must be a number >= 0, got "NaN"/,
  },
  {
    name: 'boost Infinity',
    args: () => ['explain', '--boost', 'Infinity'],
    error: /--boost must be a number >= 0, got "Infinity"/,
  },
  {
    name: 'boost negative',
    args: () => ['explain', '--boost', '-3'],
    error: /--boost must be a number >= 0, got "-3"/,
  },
  {
    name: 'boost 1 (an empty map)',
    args: () => ['explain', '--boost', '1'],
    error: /--boost 1 .*gradient is zero/,
  },
  {
    name: 'noise above 1',
    args: () => ['explain', '--noise-percent', '2'],
    error: /--noise-percent must be a number between 0 and 1, got "2"/,
  },
  { name: 'zero threads', args: () => fashion('--threads', '0'), error: /--threads must be an integer >= 1/ },
  {
    name: 'a device that does not exist',
    args: () => fashion('--device', 'tpu'),
    error: /--device must be one of cpu, webgpu, got "tpu"/,
  },
  {
    name: '--filters with --random',
    args: () => ['explain', '--filters', 'conv1:0', '--random'],
    error: /--filters and --random are alternatives/,
  },
  {
    name: '--filters naming no layer',
    args: () => ['explain', '--filters', 'conv9:1'],
    error: /--filters: "conv9:1" is not layer:index/,
  },
  {
    name: '--filters past the last filter',
    args: () => ['explain', '--filters', 'conv1:999'],
    error: /conv1 has filters 0\.\.\d+, not 999/,
  },
  {
    name: 'a negative --top',
    args: () => fashion('--top', '-1'),
    error: /--top must be an integer >= 0, got "-1"/,
  },
  {
    name: 'an unknown model, close to a real one',
    args: () => ['saliency', '--model', 'resnet5', '--input', f('ok.npy'), '--label', '1'],
    error: /unknown model "resnet5"/,
  },
  {
    name: 'tv: for a model the Hub does not have',
    args: () => ['saliency', '--model', 'tinycnn', '--input', TINY_INPUT, '--label', '1'],
    error: /--weights is required for tinycnn: a \.safetensors or \.pth file or an https URL$/,
  },
  {
    name: '--shard past its count',
    args: () => ['stats', '--data', f('empty.csv'), '--out', 'o.safetensors', '--shard', '5/4'],
    error: /--shard must look like i\/n with 0 <= i < n, got "5\/4"/,
  },
  // Paths that are not regular files
  {
    name: 'a missing image',
    args: () => ['saliency', '--image', f('nope.png'), '--label', '1'],
    error: /image file not found: .*nope\.png/,
  },
  {
    name: 'a directory as the image',
    args: () => ['saliency', '--image', f('dir.png'), '--label', '1'],
    error: /image file is a directory/,
  },
  {
    name: '/dev/zero as the image',
    args: () => ['saliency', '--image', '/dev/zero', '--label', '1'],
    error: /image file \/dev\/zero is a device, not a regular file/,
  },
  {
    name: '/dev/zero as the input',
    args: () => ['saliency', '--input', '/dev/zero', '--label', '1'],
    error: /input file \/dev\/zero is a device/,
  },
  {
    name: 'a FIFO as the input',
    args: () => ['saliency', '--input', f('fifo'), '--label', '1'],
    error: /is a FIFO \(named pipe\), not a regular file/,
  },
  {
    name: '/dev/zero as weights',
    args: () => [
      'saliency',
      ...tiny().slice(0, 2),
      '--weights',
      '/dev/zero',
      '--input',
      TINY_INPUT,
      '--label',
      '1',
    ],
    error: /weights file \/dev\/zero is a device/,
  },
  {
    // written by a rename, it would be replaced by a file (as root, /dev/full or /dev/stdout too)
    name: '--json onto a FIFO',
    args: () => fashion('--json', f('fifo')),
    error:
      /fifo is a FIFO \(named pipe\); pss writes its outputs to regular files \(for standard output, give - where the flag takes it\)$/,
  },
  {
    name: 'explain into a folder where one of its files is a FIFO',
    args: () => ['explain', '--out-dir', f('out-with-fifo')],
    error: /out-with-fifo\/heatmap\.png is a FIFO \(named pipe\); pss writes its outputs to regular files/,
  },
  {
    name: 'pss inspect --json onto a directory',
    args: () => ['inspect', '--json', f('')],
    error: /is a directory; pss writes its outputs to regular files/,
  },
  {
    name: 'a FIFO as statistics',
    args: () => fashion('--stats', f('fifo')),
    error: /statistics file .*fifo is a FIFO/,
  },
  {
    name: 'a 3 GiB weights file',
    args: () => [
      'saliency',
      '--model',
      'tinycnn',
      '--weights',
      f('huge.safetensors'),
      '--input',
      TINY_INPUT,
      '--label',
      '1',
    ],
    error: /is 3\.0 GiB; pss reads weights files of up to 2\.0 GiB/,
  },
  {
    name: 'a missing ONNX model',
    args: () => ['saliency', '--model', f('nope.onnx'), '--input', f('ok.npy'), '--label', '1'],
    error: /ONNX model not found/,
  },
  // Images
  {
    name: 'an empty image file',
    args: () => ['saliency', '--image', f('empty.png'), '--label', '1'],
    error: /is empty/,
  },
  {
    name: 'a text file as the image',
    args: () => ['saliency', '--image', f('text.png'), '--label', '1'],
    error: /text\.png/,
  },
  {
    name: 'a truncated PNG',
    args: () => ['saliency', '--image', f('truncated.png'), '--label', '1'],
    error: /truncated\.png/,
  },
  {
    name: 'a 1x16000 PNG whose resize would need gigabytes',
    args: () => ['saliency', '--model', f('rgb-classifier.onnx'), '--image', f('wide.png'), '--label', '1'],
    error: /is 16000×1 pixels; resizing its shorter side to 256 would make it 4096000×256/,
  },
  // .npy inputs
  {
    name: 'a 1x1 .npy',
    args: () => ['saliency', '--input', f('1x1.npy'), '--label', '1'],
    error: /has shape \[1, 1\]; expected/,
  },
  {
    name: 'a 1x0x28 .npy',
    args: () => ['saliency', '--input', f('1x0x28.npy'), '--label', '1'],
    error: /empty shape/,
  },
  {
    name: 'a .npy with 3 channels for a 1-channel model',
    args: () => ['saliency', '--input', f('3ch.npy'), '--label', '1'],
    error: /has shape \[3, 28, 28\]; expected \[1, H, W\]/,
  },
  {
    name: 'a .npy with a batch of 2',
    args: () => ['saliency', '--input', f('batch2.npy'), '--label', '1'],
    error: /has shape \[2, 1, 28, 28\]/,
  },
  {
    name: 'a .npy holding NaN',
    args: () => ['saliency', '--input', f('nan.npy'), '--label', '1'],
    error: /holds NaN at index \[0, 3, 16\]/,
  },
  {
    name: 'a .npy holding Infinity',
    args: () => ['explain', '--input', f('inf.npy'), '--label', '1'],
    error: /holds Infinity at index \[0, 0, 5\]/,
  },
  {
    name: 'a truncated .npy',
    args: () => ['saliency', '--input', f('truncated.npy'), '--label', '1'],
    error: /data bytes/,
  },
  {
    name: 'an int32 .npy',
    args: () => ['saliency', '--input', f('i32.npy'), '--label', '1'],
    error: /dtype "<i4" is not supported; pss reads floating-point arrays/,
  },
  {
    name: 'a float64 .npy header over too few bytes',
    args: () => ['saliency', '--input', f('short-f64.npy'), '--label', '1'],
    error: /holds 3136 data bytes; shape \[1, 28, 28\] of float64 needs 6272/,
  },
  {
    name: 'a PNG given as --input',
    args: () => ['saliency', '--input', EXAMPLE, '--label', '1'],
    error: /not a NumPy \.npy file/,
  },
  // Weights
  {
    name: 'weights holding NaN',
    args: () => [
      'saliency',
      '--model',
      'tinycnn',
      '--weights',
      f('nan-weights.safetensors'),
      '--input',
      TINY_INPUT,
      '--label',
      '1',
    ],
    error: /tensor "conv1\.weight" holds NaN at index \[0, 0, 2, 1\]/,
  },
  {
    name: 'weights holding -Infinity',
    args: () => [
      'saliency',
      '--model',
      'tinycnn',
      '--weights',
      f('inf-weights.safetensors'),
      '--input',
      TINY_INPUT,
      '--label',
      '1',
    ],
    error: /tensor "fc\.bias" holds -Infinity at index 2/,
  },
  {
    name: 'weights missing a tensor',
    args: () => [
      'saliency',
      '--model',
      'tinycnn',
      '--weights',
      f('missing-tensor.safetensors'),
      '--input',
      TINY_INPUT,
      '--label',
      '1',
    ],
    error: /lacks 1 tinycnn tensor\(s\): "conv2\.weight"/,
  },
  {
    name: 'weights with a wrong shape',
    args: () => [
      'saliency',
      '--model',
      'tinycnn',
      '--weights',
      f('wrong-shape.safetensors'),
      '--input',
      TINY_INPUT,
      '--label',
      '1',
    ],
    error: /"fc\.bias" .* has shape \[11\]; tinycnn expects \[10\]/,
  },
  {
    name: 'a corrupt safetensors header',
    args: () => [
      'saliency',
      '--model',
      'tinycnn',
      '--weights',
      f('corrupt.safetensors'),
      '--input',
      TINY_INPUT,
      '--label',
      '1',
    ],
    error: /not a valid safetensors file/,
  },
  {
    name: 'safetensors tensors sharing bytes',
    args: () => [
      'saliency',
      '--model',
      'tinycnn',
      '--weights',
      f('overlap.safetensors'),
      '--input',
      TINY_INPUT,
      '--label',
      '1',
    ],
    error: /overlap/,
  },
  {
    name: 'a pickle that would run code',
    args: () => [
      'saliency',
      '--model',
      'tinycnn',
      '--weights',
      repo('test/fixtures/pth/evil_proto4.pth'),
      '--input',
      TINY_INPUT,
      '--label',
      '1',
    ],
    error: /refusing to load/,
  },
  // Statistics
  {
    name: 'statistics of another model',
    args: () => fashion('--stats', f('tinycnn-stats.safetensors')),
    error: /statistics for 192 filters; fashion-cnn has 224/,
  },
  {
    name: 'statistics with a short mean',
    args: () => fashion('--stats', f('short-stats.safetensors')),
    error: /mean/,
  },
  {
    name: 'statistics holding NaN',
    args: () => fashion('--stats', f('nan-stats.safetensors')),
    error: /NaN/,
  },
  {
    name: 'statistics of another aggregation',
    args: () => fashion('--aggregation', 'signed', '--stats', FASHION_STATS),
    error: /holds filter statistics; this run uses --aggregation signed/,
  },
  {
    name: 'a weights file given as statistics',
    args: () => fashion('--stats', f('weights-as-stats.safetensors')),
    error: /is not a pss statistics file/,
  },
  {
    name: 'stats merge of one file',
    args: () => ['stats', 'merge', FASHION_STATS, '--out', 'm.safetensors'],
    error: /at least two/,
  },
  {
    name: 'stats merge of a file with itself',
    args: () => ['stats', 'merge', FASHION_STATS, FASHION_STATS, '--out', 'm.safetensors'],
    error: /twice|more than once|same/,
  },
  // Clusters: --shard auto, shard directories (test/helpers/shard-fixtures.ts)
  {
    name: '--shard auto outside a cluster job',
    args: () => ['stats', '--data', f('empty.csv'), '--out', 'o.safetensors', '--shard', 'auto'],
    env: { JOB_COMPLETION_INDEX: undefined, SLURM_ARRAY_TASK_ID: undefined },
    error:
      /--shard auto needs a Kubernetes Indexed Job \(JOB_COMPLETION_INDEX, with --shards n or PSS_SHARDS\) or a Slurm array \(SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_COUNT\); none of them is set/,
  },
  {
    name: '--shard auto in a Kubernetes pod whose manifest does not give the count',
    args: () => ['prune', '--data', f('empty.csv'), '--out-dir', 'shards', '--shard', 'auto'],
    env: { JOB_COMPLETION_INDEX: '3', PSS_SHARDS: undefined, SLURM_ARRAY_TASK_ID: undefined },
    error:
      /JOB_COMPLETION_INDEX is 3, but the number of shards is unknown .*give --shards n or set PSS_SHARDS/,
  },
  {
    name: '--shard auto in a Slurm array that is a list, not a range',
    args: () => ['stats', '--data', f('empty.csv'), '--out-dir', 'shards', '--shard', 'auto'],
    env: {
      SLURM_ARRAY_TASK_ID: '5',
      SLURM_ARRAY_TASK_MIN: '1',
      SLURM_ARRAY_TASK_MAX: '9',
      SLURM_ARRAY_TASK_COUNT: '3',
      JOB_COMPLETION_INDEX: undefined,
    },
    error: /SLURM_ARRAY_TASK_ID=5, .*the array is not a range A-B/,
  },
  {
    name: '--out-dir without a shard',
    args: () => ['stats', '--data', f('empty.csv'), '--out-dir', 'shards'],
    error: /--out-dir writes one shard's output, named by its index: give --shard i\/n or --shard auto/,
  },
  {
    name: 'stats merge of a shard directory with a shard missing',
    args: () => ['stats', 'merge', f('stats-missing'), '--out', 'm.safetensors'],
    error:
      /stats-missing is missing shard 1 of 3 \(stats-00001-of-00003\.safetensors\); shard 1 has a checkpoint or lock there/,
  },
  {
    name: 'stats merge of a shard directory with a shard there twice',
    args: () => ['stats', 'merge', f('stats-twice'), '--out', 'm.safetensors'],
    error:
      /shard 1 of 3 is in .*stats-twice twice: stats-00001-of-00003\.safetensors and stats-1-of-3\.safetensors/,
  },
  {
    name: "stats merge of a shard directory with a shard under another shard's name",
    args: () => ['stats', 'merge', f('stats-renamed'), '--out', 'm.safetensors'],
    error: /stats-00002-of-00003\.safetensors is named shard 2\/3 but holds shard 1\/3/,
  },
  {
    name: 'stats merge of a shard directory with a shard of another run',
    args: () => ['stats', 'merge', f('stats-foreign'), '--out', 'm.safetensors'],
    error:
      /stats-00002-of-00003\.safetensors differs from .* in dataset: idx:other .*: a shard of another run/,
  },
  {
    name: 'stats merge of a shard directory with the shards of two splits',
    args: () => ['stats', 'merge', f('stats-splits'), '--out', 'm.safetensors'],
    error: /mixes shards of 2 different splits/,
  },
  {
    name: 'stats merge of a directory without shards',
    args: () => ['stats', 'merge', f('stats-empty'), '--out', 'm.safetensors'],
    error: /holds no shard files \(named like stats-00000-of-00004\.safetensors\)/,
  },
  {
    name: 'prune merge with a shard missing',
    args: () => ['prune', 'merge', f('prune-missing'), '--out', 'merged'],
    error: /prune-missing is missing shard 2 of 3 \(prune-00002-of-00003\)/,
  },
  {
    name: 'prune merge with a shard of another run',
    args: () => ['prune', 'merge', f('prune-foreign'), '--out', 'merged'],
    error:
      /prune-00001-of-00003 is from a run with seed = 7, and .*prune-00000-of-00003 with 0: a shard of another run/,
  },
  {
    name: 'prune merge with an unfinished shard',
    args: () => ['prune', 'merge', f('prune-unfinished'), '--out', 'merged'],
    error:
      /shard 2\/3 \(.*\) has not finished: it has no summary\.json; rerun shard 2\/3 with the same command and --resume/,
  },
  // ONNX models
  {
    name: 'an ONNX model with no conv',
    args: () => ['saliency', '--model', f('no-conv.onnx'), '--input', f('ok.npy'), '--label', '1'],
    error: /has no convolution/,
  },
  {
    name: 'an ONNX model whose output is not class scores',
    args: () => ['saliency', '--model', f('not-logits.onnx'), '--input', f('ok.npy'), '--label', '1'],
    error: /output "y" has 4 dimensions; pss needs class scores/,
  },
  {
    name: 'an ONNX operator pss cannot differentiate',
    args: () => ['saliency', '--model', f('unsupported.onnx'), '--input', f('ok.npy'), '--label', '1'],
    error: /Hardmax/,
  },
  {
    name: 'an ONNX operator of a custom domain',
    args: () => ['saliency', '--model', f('custom-domain.onnx'), '--input', f('ok.npy'), '--label', '1'],
    error: /com\.example/,
  },
  {
    name: 'an ONNX initializer shorter than its dims',
    args: () => ['saliency', '--model', f('short-initializer.onnx'), '--input', f('ok.npy'), '--label', '1'],
    error: /"w"/,
  },
  {
    name: 'an ONNX initializer holding NaN',
    args: () => ['saliency', '--model', f('nan-initializer.onnx'), '--input', f('ok.npy'), '--label', '1'],
    error: /NaN/,
  },
  {
    name: 'an ONNX pooling without its kernel_shape',
    args: () => ['saliency', '--model', f('pool-no-kernel.onnx'), '--input', f('ok.npy'), '--label', '1'],
    error: /MaxPool has no kernel_shape/,
  },
  {
    name: 'an ONNX output claiming -3 classes',
    args: () => ['saliency', '--model', f('negative-classes.onnx'), '--input', f('ok.npy'), '--label', '1'],
    error: /claims -3 classes/,
  },
  {
    name: 'bytes that are not ONNX',
    args: () => ['saliency', '--model', f('garbage.onnx'), '--input', f('ok.npy'), '--label', '1'],
    error: /is not a valid ONNX model/,
  },
  {
    name: '--weights with an ONNX model',
    args: () => [
      'saliency',
      '--model',
      f('no-conv.onnx'),
      '--weights',
      TINY_WEIGHTS,
      '--input',
      f('ok.npy'),
      '--label',
      '1',
    ],
    error: /--weights applies to built-in models/,
  },
  // Labels
  {
    name: 'a label out of range',
    args: () => ['saliency', '--input', f('ok.npy'), '--label', '10'],
    error: /label 10 is out of range|classes 0\.\.9/,
  },
  {
    name: 'a negative label',
    args: () => ['saliency', '--input', f('ok.npy'), '--label', '-1'],
    error: /-1/,
  },
  {
    name: 'a class name the model does not have',
    args: () => ['saliency', '--input', f('ok.npy'), '--label', 'giraffe'],
    error: /giraffe/,
  },
  // Data
  {
    name: 'a missing dataset',
    args: () => ['stats', '--data', f('nope'), '--out', 'o.safetensors'],
    error: /nope/,
  },
  {
    name: 'a gzipped IDX file cut short',
    args: () => ['stats', '--data', f('cut-images-idx3-ubyte.gz'), '--out', 'o.safetensors'],
    error: /cut-images-idx3-ubyte\.gz/,
  },
  {
    name: 'an empty CSV list',
    args: () => ['stats', '--data', f('empty.csv'), '--out', 'o.safetensors'],
    error: /empty\.csv/,
  },
  // Outputs that cannot be written
  {
    name: '--json under a path that is a file',
    args: () => fashion('--json', join(f('a-file'), 'out.json')),
    error: /cannot write into .*a-file: a part of the path is a file, not a directory/,
  },
  {
    name: '--out-dir that is a file',
    args: () => ['explain', '--out-dir', f('a-file')],
    error: /cannot write .*a-file/,
  },
  // Sizes and owners
  {
    name: 'an input of another size than its statistics',
    args: () => ['saliency', '--input', f('32x32.npy'), '--label', '1'],
    error: /was computed on 28x28 inputs; this input is 32x32/,
  },
  {
    name: 'an output another run holds (its lock names it)',
    args: () => {
      const owner = {
        pid: process.pid,
        host: hostname(),
        since: new Date().toISOString(),
        command: 'pss stats',
        label: 'pss stats',
        token: 't',
      };
      writeFileSync(`${f('held.safetensors')}.lock`, `${JSON.stringify(owner)}\n`);
      return ['stats', '--data', f('empty.csv'), '--out', f('held.safetensors')];
    },
    error: /held\.safetensors is in use by pss stats \(pid \d+ on /,
  },
  // Devices
  {
    name: '--device webgpu with no adapter',
    args: () => fashion('--device', 'webgpu'),
    env: { VK_ICD_FILENAMES: '/nonexistent/icd.json', VK_DRIVER_FILES: '/nonexistent/icd.json' },
    error:
      /--device webgpu: no WebGPU adapter was found\. .*VK_ICD_FILENAMES=\/usr\/lib\/chromium\/vk_swiftshader_icd\.json/,
  },
];

describe('bad input: one line, exit 1, no stack, nothing written', () => {
  it(`covers at least 60 cases (${CASES.length})`, () => {
    assert.ok(CASES.length >= 60);
  });
  for (const c of CASES) {
    it(c.name, (t) => {
      const reason = c.skip?.();
      if (reason) return t.skip(reason);
      const cwd = tempDir();
      const r = pss(c.args(), { cwd, env: c.env });
      assertOneLine(r, c.error);
      assert.deepEqual(readdirSync(cwd), [], 'no file written');
      assert.deepEqual(
        readdirSync(fx).filter((n) => n.includes('.tmp-')),
        [],
        'no temporary file left',
      );
    });
  }

  it('leaves the FIFOs outputs were refused on FIFOs', () => {
    assert.ok(statSync(f('fifo')).isFIFO());
    assert.ok(statSync(f('out-with-fifo/heatmap.png')).isFIFO());
  });
});

describe('odd but valid input works', () => {
  it('an ONNX model whose two convs share one weight: one layer, its gradient summed over both uses', () => {
    const r = pss(
      [
        'saliency',
        '--model',
        f('shared-weight.onnx'),
        '--input',
        f('8x8.npy'),
        '--label',
        '1',
        '--json',
        '-',
      ],
      { cwd: tempDir() },
    );
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { layers: { filters: number }[] };
    assert.deepEqual(
      out.layers.map((l) => l.filters),
      [1],
    );
  });
});

/**
 * Outputs on a full, read-only or forbidden disk. Needs root (to mount small tmpfs file
 * systems and to run pss as another user); skipped with the reason otherwise.
 */
describe('bad disks: one line naming the errno, and the old output left whole', () => {
  const root = tempDir();
  const full = join(root, 'full');
  const readOnly = join(root, 'ro');
  let reason: string | false = false;
  before(() => {
    chmodSync(root, 0o755);
    try {
      for (const [dir, opts] of [
        [full, 'size=64k'],
        [readOnly, 'size=64k'],
      ] as const) {
        mkdirSync(dir);
        execFileSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', dir], { stdio: 'ignore' });
      }
      execFileSync('mount', ['-o', 'remount,ro', readOnly], { stdio: 'ignore' });
    } catch {
      reason = 'needs root and mount(8) to make a full and a read-only file system';
    }
  });
  after(() => {
    for (const dir of [full, readOnly]) spawnSync('umount', [dir]);
  });
  /** Fills what is left of a file system. */
  const fillDisk = (dir: string) => {
    try {
      for (let i = 0; ; i++) writeFileSync(join(dir, `fill-${i}`), Buffer.alloc(4096));
    } catch {}
  };
  const asNobody = (args: string[], cwd: string) =>
    spawnSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, repo('bin/pss.mjs'), ...args],
      {
        encoding: 'utf8',
        cwd,
        env: { ...process.env, NO_COLOR: '1' },
      },
    );

  it('explain into a folder on a full disk: ENOSPC, and the previous report stays whole', (t) => {
    if (reason) return t.skip(reason);
    const out = join(full, 'explain');
    mkdirSync(out, { recursive: true });
    const old = ['report.json', 'heatmap.png', 'gradcam.png'];
    for (const name of old) writeFileSync(join(out, name), `old ${name}`);
    // Leave a few KB: the first small file fits, the PNGs do not.
    writeFileSync(join(full, 'filler'), Buffer.alloc(64 * 1024 - 3 * 4096 - 8192));
    t.after(() => fillDisk(full));
    const r = pss(['explain', '--out-dir', out], { cwd: tempDir() });
    assertOneLine(
      r,
      /cannot write .*explain: no space left on the device \(ENOSPC\); free some space or write elsewhere/,
    );
    assert.deepEqual(readdirSync(out).sort(), [...old].sort(), 'only the old files');
    for (const name of old) assert.equal(readFileSync(join(out, name), 'utf8'), `old ${name}`);
    assert.deepEqual(readdirSync(full).sort(), ['explain', 'filler'], 'no staging folder left');
  });

  it('--json on a full disk: ENOSPC', (t) => {
    if (reason) return t.skip(reason);
    const r = pss(fashion('--json', join(full, 'big', 'out.json')), { cwd: tempDir() });
    assertOneLine(r, /no space left on the device \(ENOSPC\)/);
  });

  it('statistics onto a read-only file system: EROFS before any work', (t) => {
    if (reason) return t.skip(reason);
    const r = pss(
      [
        'stats',
        '--data',
        repo('test/fixtures/stats-images'),
        '--model',
        'tinycnn',
        '--weights',
        TINY_WEIGHTS,
        '--out',
        join(readOnly, 'o.safetensors'),
      ],
      { cwd: tempDir() },
    );
    assertOneLine(r, /o\.safetensors.*: read-only file system \(EROFS\)/);
  });

  it('a folder the user may not write to: EACCES', (t) => {
    if (reason) return t.skip(reason);
    const locked = join(root, 'locked');
    mkdirSync(locked, { mode: 0o755 });
    const r = asNobody(['explain', '--out-dir', join(locked, 'out')], '/');
    assertOneLine(
      { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr },
      /permission denied \(EACCES\)/,
    );
    assert.deepEqual(readdirSync(locked), []);
  });

  it("replacing another user's file in a sticky folder: EPERM", (t) => {
    if (reason) return t.skip(reason);
    const sticky = join(root, 'sticky');
    mkdirSync(sticky);
    execFileSync('chmod', ['1777', sticky]);
    writeFileSync(join(sticky, 'out.json'), 'root owns this');
    const r = asNobody(fashion('--json', join(sticky, 'out.json')), '/');
    assertOneLine(
      { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr },
      /operation not permitted \(EPERM\)/,
    );
    assert.equal(readFileSync(join(sticky, 'out.json'), 'utf8'), 'root owns this');
    assert.deepEqual(readdirSync(sticky), ['out.json'], 'no temporary file left');
  });

  it('a path through a broken symbolic link: ENOENT', () => {
    const cwd = tempDir();
    symlinkSync('/nonexistent/folder', join(cwd, 'gone'));
    const r = pss(fashion('--json', join(cwd, 'gone', 'out.json')), { cwd });
    assertOneLine(r, /a folder on the path does not exist \(a broken symbolic link\?\) \(ENOENT\)/);
  });
});
