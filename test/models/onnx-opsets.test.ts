/**
 * Older opsets read as the newest (src/models/onnx/opsets.ts): small classifiers written in
 * the attribute-style forms of opsets 7 to 12 (BatchNormalization's spatial, Upsample, Pad,
 * Clip, Slice, Squeeze/Unsqueeze, Reduce*, Split and Dropout attributes, Resize 10, Softmax's
 * 2-D coercion) give what ONNX Runtime gives running the same file in its own opset.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PssError } from '../../src/errors.js';
import { hashUniform } from '../../src/models/deterministic.js';
import { OPSET_CHANGES } from '../../src/models/onnx/opsets.js';
import { onnxModel } from '../../src/models/onnx-import.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { maxRelDiff } from '../helpers/fixtures.js';
import { type Attr, type Node, onnxBytes } from '../helpers/onnx.js';
import { ortLogits } from '../helpers/onnx-case.js';

const ints = (name: string, v: number[]): Attr => ({ name, ints: v, type: 7 });
const int = (name: string, v: number): Attr => ({ name, i: v, type: 2 });
const flt = (name: string, v: number): Attr => ({ name, f: v, type: 1 });
const floats = (name: string, v: number[]): Attr => ({ name, floats: v, type: 6 });
const str = (name: string, v: string): Attr => ({ name, s: new TextEncoder().encode(v), type: 3 });
const node = (opType: string, input: string[], output: string[], ...attribute: Attr[]): Node => ({
  opType,
  input,
  output,
  attribute,
});

/** The head every case ends with: global mean, flatten, Gemm to 10 classes. */
const head = (x: string, channels: number): Node[] => [
  node('GlobalAveragePool', [x], ['gap']),
  node('Flatten', ['gap'], ['flat']),
  node('Gemm', ['flat', `fc:${10}x${channels}`, 'fcb:10'], ['y'], int('transB', 1)),
];
const conv = (x: string, out: string, c = 4): Node =>
  node('Conv', [x, `w:${c}x3x3x3`, `b:${c}`], [out], ints('pads', [1, 1, 1, 1]));

const CASES: { name: string; opset: number; nodes: Node[]; constants?: Record<string, number[]> }[] = [
  {
    name: 'BatchNormalization spatial, Upsample scales attribute, Pad attributes, Dropout ratio',
    opset: 7,
    nodes: [
      conv('x', 'c'),
      node(
        'BatchNormalization',
        ['c', 'g:4', 'be:4', 'mu:4', 'var:4'],
        ['bn'],
        flt('epsilon', 1e-3),
        int('spatial', 1),
      ),
      node('Relu', ['bn'], ['r']),
      node('Upsample', ['r'], ['u'], str('mode', 'nearest'), floats('scales', [1, 1, 2, 2])),
      node('Pad', ['u'], ['p'], ints('pads', [0, 0, 1, 2, 0, 0, 2, 1]), flt('value', 0.25)),
      node('MaxPool', ['p'], ['m'], ints('kernel_shape', [3, 3]), ints('strides', [2, 2])),
      node('Dropout', ['m'], ['d'], flt('ratio', 0.3)),
      ...head('d', 4),
    ],
  },
  {
    name: 'Clip, Slice, Squeeze, Unsqueeze and ReduceSum attributes; Upsample scales input (linear)',
    opset: 9,
    nodes: [
      conv('x', 'c'),
      node('Clip', ['c'], ['cl'], flt('min', -0.2), flt('max', 0.3)),
      node('Upsample', ['cl', 'scales'], ['u'], str('mode', 'linear')),
      node('Slice', ['u'], ['s'], ints('axes', [2, 3]), ints('starts', [1, 2]), ints('ends', [15, -1])),
      node('Unsqueeze', ['s'], ['us'], ints('axes', [0])),
      node('Squeeze', ['us'], ['sq'], ints('axes', [0])),
      node('ReduceSum', ['sq'], ['rs'], ints('axes', [3]), int('keepdims', 1)),
      node('Mul', ['sq', 'rs'], ['mul']),
      ...head('mul', 4),
    ],
    constants: { scales: [1, 1, 2, 2] },
  },
  {
    name: 'Resize 10 (asymmetric linear), Slice inputs, ReduceMean axes attribute',
    opset: 10,
    nodes: [
      conv('x', 'c'),
      node('Resize', ['c', 'scales'], ['u'], str('mode', 'linear')),
      node('Slice', ['u', 'starts', 'ends', 'axes'], ['s']),
      node('ReduceMean', ['s'], ['rm'], ints('axes', [1]), int('keepdims', 1)),
      node('Sub', ['s', 'rm'], ['sub']),
      ...head('sub', 4),
    ],
    constants: { scales: [1, 1, 1.5, 2], starts: [0, 1], ends: [11, 15], axes: [2, 3] },
  },
  {
    name: 'Split sizes attribute, Softmax of a 4-D tensor coerced to 2-D at axis 1, Clip inputs',
    opset: 11,
    nodes: [
      conv('x', 'c', 6),
      node('Split', ['c'], ['s1', 's2'], int('axis', 1), ints('split', [2, 4])),
      node('Softmax', ['s2'], ['sm'], int('axis', 1)),
      node('Clip', ['s1', 'lo', 'hi'], ['cl']),
      node('ReduceMax', ['cl'], ['mx'], ints('axes', [1]), int('keepdims', 1)),
      node('Mul', ['sm', 'mx'], ['mul']),
      ...head('mul', 4),
    ],
    constants: { lo: [-0.1], hi: [0.2] },
  },
  {
    name: 'LogSoftmax coerced to 2-D at axis 2, Dropout with its mask output',
    opset: 12,
    nodes: [
      conv('x', 'c'),
      node('LogSoftmax', ['c'], ['ls'], int('axis', 2)),
      node('Dropout', ['ls'], ['d', 'mask']),
      ...head('d', 4),
    ],
  },
];

/** Deterministic values for initializers named "key:DxD..." (shape in the name). */
const deterministic = (name: string) => {
  const dims = name.split(':')[1].split('x').map(Number);
  const n = dims.reduce((a, b) => a * b, 1);
  const positive = /^(var|g):/.test(name);
  return {
    dims,
    values: Array.from({ length: n }, (_, i) => {
      const u = hashUniform(name, i);
      return positive ? 1 + 0.5 * u : u;
    }),
  };
};

describe('ONNX opsets 7 to 12 read through the one table of per-opset changes', () => {
  for (const c of CASES) {
    it(`opset ${c.opset}: ${c.name}`, async (t) => {
      const bytes = onnxBytes({ opset: c.opset, nodes: c.nodes, constants: c.constants, deterministic });
      const model = onnxModel(bytes, `opset${c.opset}.onnx`);
      const shape = [1, 3, 8, 8] as const;
      const x = Float32Array.from({ length: 3 * 64 }, (_, i) => 2 * hashUniform('opset-input', i));
      await using engine = new SaliencyEngine(model);
      const [r] = await engine.compute({ data: x, shape }, [3]);
      const ref = await ortLogits(bytes, x);
      const rel = maxRelDiff(r.logits, ref);
      t.diagnostic(
        `logits against ONNX Runtime running opset ${c.opset}: max rel diff ${rel.toExponential(2)}`,
      );
      // both float32; the same ops in another order differ by a few roundings
      assert.ok(rel < 1e-5, `max rel diff ${rel}`);
      assert.ok(r.saliency.some((v) => v > 0));
    });
  }

  it('the table names each change once per operator and opset', () => {
    const keys = OPSET_CHANGES.map((ch) => `${ch.op}@${ch.since}`);
    assert.equal(new Set(keys).size, keys.length);
    for (const ch of OPSET_CHANGES)
      assert.ok(ch.since >= 7 && ch.since <= 21 && ch.change.length > 10, ch.op);
  });

  it('refuses opsets outside 7 to 21 in one line', () => {
    for (const opset of [6, 22])
      assert.throws(
        () =>
          onnxModel(
            onnxBytes({ opset, nodes: [conv('x', 'c'), ...head('c', 4)], deterministic }),
            'old.onnx',
          ),
        (e: Error) =>
          e instanceof PssError &&
          !e.message.includes('\n') &&
          new RegExp(`old\\.onnx uses opset ${opset}; pss reads opsets 7 to 21`).test(e.message),
      );
  });
});
