/**
 * ONNX inputs and outputs as files come: dynamic height and width (the graph is built for each
 * input's size), NHWC inputs (tf2onnx), several inputs or outputs (chosen by name, said in the
 * notes), and the endings Softmax, LogSoftmax and Sigmoid. Logits against ONNX Runtime running
 * the file itself.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { PssError } from '../../src/errors.js';
import { forwardRunner } from '../../src/jobs/forward.js';
import { deterministicInput, hashUniform } from '../../src/models/deterministic.js';
import type { Model } from '../../src/models/model.js';
import { onnxModel } from '../../src/models/onnx-import.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { assertParity, loadFixture, maxRelDiff } from '../helpers/fixtures.js';
import {
  convClassifier,
  hashedTensor as deterministic,
  loadSkeleton,
  type Node,
  onnxNode as node,
  onnxBytes,
} from '../helpers/onnx.js';

const body = convClassifier;
const input = (shape: readonly number[]) =>
  Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => 2 * hashUniform('io-input', i));

async function ortRun(
  bytes: Uint8Array,
  feeds: Record<string, [Float32Array, readonly number[]]>,
  out: string,
) {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const tensors = Object.fromEntries(
      Object.entries(feeds).map(([k, [d, s]]) => [k, new ort.Tensor('float32', d, [...s])]),
    );
    return (await session.run(tensors))[out].data as Float32Array;
  } finally {
    await session.release();
  }
}
async function logits(model: Model, data: Float32Array, shape: readonly [number, number, number, number]) {
  await using engine = new SaliencyEngine(model);
  const [r] = await engine.compute({ data, shape }, [0]);
  return r.logits;
}
const NCHW_TO_NHWC = (x: Float32Array, [, c, h, w]: readonly number[]) =>
  Float32Array.from({ length: x.length }, (_, i) => {
    const ch = i % c;
    const col = Math.floor(i / c) % w;
    const row = Math.floor(i / (c * w)) % h;
    const b = Math.floor(i / (c * w * h));
    return x[((b * c + ch) * h + row) * w + col];
  });
const notes = (m: Model) => (m.info.notes ?? []).join(' | ');

describe('ONNX inputs as they come', () => {
  it('dynamic height and width: the graph is built for each input size, and the notes say so', async () => {
    const bytes = onnxBytes({
      opset: 17,
      nodes: body('x'),
      deterministic,
      inputs: [{ name: 'x', dims: ['N', 3, 'H', 'W'] }],
      outputs: [{ name: 'y', dims: ['N', 10] }],
    });
    const model = onnxModel(bytes, 'dyn.onnx');
    assert.match(notes(model), /input size is dynamic \(HxW\)/);
    assert.equal(model.arch.dynamicSize, true);
    for (const shape of [
      [1, 3, 8, 8],
      [1, 3, 13, 21],
    ] as const) {
      const x = input(shape);
      const rel = maxRelDiff(await logits(model, x, shape), await ortRun(bytes, { x: [x, shape] }, 'y'));
      assert.ok(rel < 1e-6, `${shape}: ${rel}`);
    }
  });

  it('NHWC (tf2onnx): fed NCHW, transposed in the graph, the same logits', async () => {
    const nodes = [
      node('Transpose', ['x'], ['nchw'], [{ name: 'perm', ints: [0, 3, 1, 2], type: 7 }]),
      ...body('nchw'),
    ];
    const bytes = onnxBytes({ opset: 13, nodes, deterministic, inputs: [{ name: 'x', dims: [1, 8, 8, 3] }] });
    const model = onnxModel(bytes, 'nhwc.onnx');
    assert.match(notes(model), /is NHWC \(channels last\)/);
    assert.deepEqual(model.arch.inputShape, [3, 8, 8]);
    const shape = [1, 3, 8, 8] as const;
    const x = input(shape);
    const ref = await ortRun(bytes, { x: [NCHW_TO_NHWC(x, shape), [1, 8, 8, 3]] }, 'y');
    assert.ok(maxRelDiff(await logits(model, x, shape), ref) < 1e-6);
  });

  it('several inputs: unread ones named in the notes, a read one refused, the one to feed chosen by name', () => {
    const two = (nodes: Node[]) =>
      onnxBytes({
        opset: 13,
        nodes,
        deterministic,
        inputs: [
          { name: 'x', dims: [1, 3, 8, 8] },
          { name: 'mask', dims: [1, 3, 8, 8] },
        ],
      });
    const unread = onnxModel(two(body('x')), 'two.onnx');
    assert.match(
      notes(unread),
      /using input "x" \[1, 3, 8, 8\]; the graph never reads "mask" \[1, 3, 8, 8\]/,
    );
    const chosen = onnxModel(two(body('mask')), 'two.onnx', { inputName: 'mask' });
    assert.equal(chosen.layers.length, 1);
    assert.throws(
      () => onnxModel(two([node('Mul', ['x', 'mask'], ['xm']), ...body('xm')]), 'two.onnx'),
      (e: Error) =>
        e instanceof PssError &&
        /two\.onnx reads 2 inputs \("x" \[1, 3, 8, 8\], "mask" \[1, 3, 8, 8\]\); pss feeds one image \("x"\)/.test(
          e.message,
        ),
    );
    assert.throws(
      () => onnxModel(two(body('x')), 'two.onnx', { inputName: 'nope' }),
      /has no input "nope"; its inputs: "x"/,
    );
  });

  it('several outputs: the first of rank 2 by default (said in the notes), another by name', async () => {
    const nodes = [...body('x', 'y'), node('Identity', ['c'], ['features']), node('Neg', ['y'], ['negated'])];
    const bytes = onnxBytes({
      opset: 17,
      nodes,
      deterministic,
      outputs: [
        { name: 'features', dims: [1, 4, 8, 8] },
        { name: 'y', dims: [1, 10] },
        { name: 'negated', dims: [1, 10] },
      ],
    });
    const byDefault = onnxModel(bytes, 'multi.onnx');
    assert.match(
      notes(byDefault),
      /has 3 outputs .*: using "y" as class scores \(choose with --output-name\)/,
    );
    const shape = [1, 3, 8, 8] as const;
    const x = input(shape);
    const y = await logits(byDefault, x, shape);
    const negated = await logits(onnxModel(bytes, 'multi.onnx', { outputName: 'negated' }), x, shape);
    assert.deepEqual(
      Array.from(negated),
      Array.from(y, (v) => -v),
    );
    assert.ok(maxRelDiff(y, await ortRun(bytes, { x: [x, shape] }, 'y')) < 1e-6);
    assert.throws(
      () => onnxModel(bytes, 'multi.onnx', { outputName: 'features' }),
      /output "features" has 4 dimensions; pss needs class scores of shape \[N, classes\]/,
    );
  });

  it('a label beside the scores: the float scores are read, and what only the label needs is never imported', async () => {
    const nodes = [
      ...body('x', 'y'),
      // ArgMax and TopK are not differentiable, and the second input feeds only the label
      node('Add', ['y', 'bias'], ['shifted']),
      node('ArgMax', ['shifted'], ['label'], [{ name: 'axis', i: 1, type: 2 }]),
    ];
    const bytes = onnxBytes({
      opset: 17,
      nodes,
      deterministic,
      inputs: [
        { name: 'x', dims: [1, 3, 8, 8] },
        { name: 'bias', dims: [1, 10] },
      ],
      outputs: [
        { name: 'label', dims: [1, 1], elemType: 7 },
        { name: 'y', dims: [1, 10] },
      ],
    });
    const model = onnxModel(bytes, 'labelled.onnx');
    assert.match(notes(model), /has 2 outputs .*: using "y" as class scores/);
    assert.match(notes(model), /the graph never reads "bias"/);
    const shape = [1, 3, 8, 8] as const;
    const x = input(shape);
    const ref = await ortRun(bytes, { x: [x, shape], bias: [new Float32Array(10), [1, 10]] }, 'y');
    assert.ok(maxRelDiff(await logits(model, x, shape), ref) < 1e-6);
    assert.throws(
      () => onnxModel(bytes, 'labelled.onnx', { outputName: 'label' }),
      /^PssError: labelled\.onnx uses ONNX operators pss cannot differentiate: ArgMax$/,
    );
  });
});

/** IEEE half precision: the bits of a float (rounded to nearest even), and back. */
function halfBits(v: number): number {
  const f = new DataView(new ArrayBuffer(4));
  f.setFloat32(0, v);
  const x = f.getUint32(0);
  const sign = (x >>> 16) & 0x8000;
  const e = ((x >>> 23) & 0xff) - 127 + 15;
  if (e <= 0 || e >= 31) return sign; // the test's weights are in [-1, 1) and not tiny
  const m = x & 0x7fffff;
  let h = sign | (e << 10) | (m >>> 13);
  const rest = m & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
  return h;
}
const fromHalf = (h: number) =>
  (h & 0x8000 ? -1 : 1) * (1 + (h & 0x3ff) / 1024) * 2 ** (((h >> 10) & 0x1f) - 15);

describe('a half-precision file', () => {
  it('float16 weights and Casts around the ops: computed in float32, as the same weights in a float32 file', async () => {
    const rounded = (name: string) => {
      const t = deterministic(name);
      return { dims: t.dims, values: t.values.map((v) => fromHalf(halfBits(v))) };
    };
    const float32 = onnxBytes({ opset: 17, nodes: body('x'), deterministic: rounded });
    const nodes = [
      node('Cast', ['x'], ['x16'], [{ name: 'to', i: 10, type: 2 }]),
      ...body('x16', 'y16'),
      node('Cast', ['y16'], ['y'], [{ name: 'to', i: 1, type: 2 }]),
    ];
    const { onnx } = (await import('onnx-proto')).default;
    const half = onnx.ModelProto.decode(onnxBytes({ opset: 17, nodes, deterministic }));
    for (const t of half.graph!.initializer!) {
      const bits = Uint16Array.from(t.floatData!, halfBits);
      Object.assign(t, { dataType: 10, floatData: [], rawData: new Uint8Array(bits.buffer) });
    }
    const float16 = onnx.ModelProto.encode(half).finish();
    const shape = [1, 3, 8, 8] as const;
    const x = input(shape);
    const model = onnxModel(float16, 'half.onnx');
    await using engine = new SaliencyEngine(model);
    await using reference = new SaliencyEngine(onnxModel(float32, 'single.onnx'));
    const [[r], [ref]] = [
      await engine.compute({ data: x, shape }, [2]),
      await reference.compute({ data: x, shape }, [2]),
    ];
    assert.ok(maxRelDiff(r.logits, await ortRun(float32, { x: [x, shape] }, 'y')) < 1e-6);
    assert.deepEqual(r.logits, ref.logits);
    assert.deepEqual(r.saliency, ref.saliency);
    // ONNX Runtime runs the file itself in float16: the same logits to half precision
    assert.ok(maxRelDiff(r.logits, await ortRun(float16, { x: [x, shape] }, 'y')) < 1e-2);
  });
});

describe('a file fixed to a batch of one', () => {
  it('is said in a note, and every batch runs one image at a time: the same results as each image alone', async () => {
    const nodes = [
      node('Conv', ['x', 'w:4x3x3x3', 'b:4'], ['c'], [{ name: 'pads', ints: [1, 1, 1, 1], type: 7 }]),
      // a reshape to a constant [1, …] — as torch.onnx writes view(1, -1) or attention exported at batch 1
      node('Reshape', ['c', 'one_row'], ['flat']),
      node('Gemm', ['flat', 'fc:10x256', 'fcb:10'], ['y'], [{ name: 'transB', i: 1, type: 2 }]),
    ];
    const bytes = onnxBytes({ opset: 17, nodes, deterministic, constants: { one_row: [1, 256] } });
    const model = onnxModel(bytes, 'one.onnx');
    assert.equal(model.arch.maxBatch, 1);
    assert.match(notes(model), /fixes a batch of one image in its shapes .*one image at a time/);
    assert.equal(
      onnxModel(onnxBytes({ opset: 17, nodes: body('x'), deterministic }), 'any.onnx').arch.maxBatch,
      undefined,
    );

    const shape = [1, 3, 8, 8] as const;
    const images = [0, 1, 2].map((k) => Float32Array.from(input(shape), (v, i) => v * Math.cos(k + i)));
    await using engine = new SaliencyEngine(model);
    const together = await engine.compute(
      { data: Float32Array.from(images.flatMap((x) => [...x])), shape: [3, 3, 8, 8] },
      [1, 4, 7],
    );
    for (const [k, x] of images.entries()) {
      const [alone] = await engine.compute({ data: x, shape }, [[1, 4, 7][k]]);
      assert.deepEqual(together[k].saliency, alone.saliency);
      assert.deepEqual(together[k].logits, alone.logits);
    }
    const forward = forwardRunner(engine, 8);
    assert.equal(forward.batch, 1);
    const logits = await forward.logits(Float32Array.from(images.flatMap((x) => [...x])));
    assert.deepEqual(logits.subarray(10, 20), together[1].logits);
  });
});

describe('ONNX endings: Softmax, LogSoftmax and Sigmoid', () => {
  const shape = [1, 3, 8, 8] as const;
  const x = input(shape);
  const ending = (op: string, classes = 10) =>
    onnxBytes({
      opset: 13,
      nodes: [...body('x', 'scores', classes), node(op, ['scores'], ['y'])],
      deterministic,
      outputs: [{ name: 'y', dims: [1, classes] }],
    });
  // the scores before the ending, from ONNX Runtime on the same file cut before it
  const scores = (classes = 10) =>
    ortRun(
      onnxBytes({
        opset: 13,
        nodes: body('x', 'y', classes),
        deterministic,
        outputs: [{ name: 'y', dims: [1, classes] }],
      }),
      { x: [x, shape] },
      'y',
    );

  it('Softmax: the scores before it are the logits', async () => {
    const m = onnxModel(ending('Softmax'), 'softmax.onnx');
    assert.match(notes(m), /ends in Softmax: pss uses the scores before it as logits/);
    assert.ok(maxRelDiff(await logits(m, x, shape), await scores()) < 1e-6);
  });
  it('LogSoftmax: kept, its log-probabilities are the logits', async () => {
    const bytes = ending('LogSoftmax');
    const m = onnxModel(bytes, 'logsoftmax.onnx');
    assert.match(notes(m), /ends in LogSoftmax: pss uses its log-probabilities as logits/);
    assert.ok(maxRelDiff(await logits(m, x, shape), await ortRun(bytes, { x: [x, shape] }, 'y')) < 1e-6);
  });
  it('Sigmoid: the scores before it; one score z reads as two classes [0, z]', async () => {
    const many = onnxModel(ending('Sigmoid'), 'sigmoid.onnx');
    assert.match(notes(many), /ends in Sigmoid \(independent scores per class\)/);
    assert.ok(maxRelDiff(await logits(many, x, shape), await scores()) < 1e-6);
    const one = onnxModel(ending('Sigmoid', 1), 'binary.onnx');
    assert.equal(one.numClasses, 2);
    assert.match(notes(one), /Sigmoid on one score z: pss reads it as two classes/);
    const [z] = await scores(1);
    const l = await logits(one, x, shape);
    assert.equal(l[0], 0);
    assert.ok(Math.abs(l[1] - z) <= 1e-6 * Math.abs(z));
  });
});

describe('a MobileNetV3 as paddle2onnx ships it: opset 9, dynamic height and width, a Softmax output', () => {
  // torch.onnx's export of the parity suite's MobileNetV3 with those three traits
  const bytes = loadSkeleton('test/fixtures/onnx/mobilenet_v3_small-op9-dynamic.skeleton.onnx.gz');
  const model = onnxModel(bytes, 'mobilenet_v3_small-dynamic.onnx');

  it('reads it, says so, and gives PyTorch float64 logits at 32x32', async (t) => {
    assert.match(notes(model), /ends in Softmax: pss uses the scores before it as logits/);
    assert.match(notes(model), /input size is dynamic \(HxW\)/);
    const fx = loadFixture('onnx/mobilenet_v3_small');
    const shape = [1, 3, 32, 32] as const;
    assertParity(
      t,
      'logits',
      await logits(model, deterministicInput('input', shape), shape),
      fx.reference('logits'),
    );
  });

  it('takes other sizes: softmax of its logits is what ONNX Runtime gives running the file', async () => {
    for (const shape of [
      [1, 3, 48, 40],
      [2, 3, 64, 64],
    ] as const) {
      const x = input(shape);
      await using engine = new SaliencyEngine(model);
      const rows = await engine.compute({ data: x, shape }, [0, 1].slice(0, shape[0]));
      const ref = await ortRun(bytes, { input: [x, shape] }, 'probabilities');
      rows.forEach((r, b) => {
        const max = Math.max(...r.logits);
        const e = Array.from(r.logits, (v) => Math.exp(v - max));
        const sum = e.reduce((a, v) => a + v, 0);
        const rel = maxRelDiff(
          e.map((v) => v / sum),
          ref.subarray(b * 1000, (b + 1) * 1000),
        );
        assert.ok(rel < 1e-5, `${shape} row ${b}: ${rel}`);
      });
    }
  });
});
