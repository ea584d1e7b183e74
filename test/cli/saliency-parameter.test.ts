/**
 * pss saliency --aggregation parameter on a model whose data holds more than the samples on
 * axis 0 where it meets a parameter (an exported ViT's attention on [tokens·batch, C], Swin's
 * windows): no rule keeps a batch's samples apart there (grad() refuses it), but one image's
 * gradient is the batch's, so the CLI's one image gets |gradient| of every parameter.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { grad } from '../../src/autodiff/grad.js';
import { serializeNpy } from '../../src/io/npy.js';
import { hashUniform } from '../../src/models/deterministic.js';
import type { Model } from '../../src/models/model.js';
import { onnxModel } from '../../src/models/onnx-import.js';
import * as op from '../../src/ops/index.js';
import { Runner } from '../../src/runtime/session.js';
import { buildForward, crossEntropy, FEED, oneHot } from '../../src/saliency/graph.js';
import { pss, tempDir } from '../helpers/cli.js';
import { maxRelDiff } from '../helpers/fixtures.js';
import { hashedTensor as deterministic, onnxNode as node, onnxBytes } from '../helpers/onnx.js';

const ints = (name: string, values: number[]) => ({ name, ints: values, type: 7 });
const pads = ints('pads', [1, 1, 1, 1]);

// The conv's output flattened to 4 rows of 64 before a MatMul: rows that are not samples.
const rowsNotSamples = onnxBytes({
  opset: 17,
  deterministic,
  constants: { rows: [4, 64] },
  nodes: [
    node('Conv', ['x', 'w:4x3x3x3', 'b:4'], ['c'], [pads]),
    node('Reshape', ['c', 'rows'], ['rs']),
    node('MatMul', ['rs', 'fc:64x10'], ['m']),
    node('ReduceMean', ['m'], ['y'], [ints('axes', [0]), { name: 'keepdims', i: 1, type: 2 }]),
  ],
});

/** |d loss / d parameter| of one image, every parameter flattened in order: a plain gradient. */
async function plainParameterGradient(
  model: Model,
  data: Float32Array,
  shape: readonly number[],
  label: number,
): Promise<Float32Array> {
  const { graph, net, logits } = buildForward(model, shape);
  const onehot = graph.input(FEED.onehot, [1, model.numClasses]);
  const loss = op.reduceSum(crossEntropy(logits, onehot), [0]);
  const params = model.params.filter((p) => !p.buffer);
  const grads = grad(
    loss,
    params.map((p) => net.value(p.name)),
  );
  const flat = op.concat(
    grads.map((g) => op.reshape(op.abs(g), [1, -1])),
    1,
  );
  const runner = await Runner.create([{ name: 'saliency', value: flat }]);
  try {
    const feeds = { [FEED.input]: data, [FEED.onehot]: oneHot([label], model.numClasses) };
    return Float32Array.from((await runner.run(feeds)).saliency);
  } finally {
    await runner.release();
  }
}

describe('pss saliency --aggregation parameter', () => {
  const dir = tempDir();
  after(() => rmSync(dir, { recursive: true, force: true }));
  const path = (name: string) => join(dir, name);
  const image = Float32Array.from({ length: 3 * 8 * 8 }, (_, i) => hashUniform('cli-parameter', i));
  writeFileSync(path('x.npy'), serializeNpy(image, [1, 3, 8, 8]));
  const saliency = (model: string, ...extra: string[]) =>
    pss(['saliency', '--model', path(model), '--input', path('x.npy'), '--label', '1', ...extra]);

  it('one image: |gradient| of every parameter, as a plain gradient gives it', async () => {
    writeFileSync(path('rows.onnx'), rowsNotSamples);
    const r = saliency('rows.onnx', '--aggregation', 'parameter', '--json', path('rows.json'));
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(readFileSync(path('rows.json'), 'utf8'));
    const plain = await plainParameterGradient(
      onnxModel(rowsNotSamples, 'rows.onnx'),
      image,
      [1, 3, 8, 8],
      1,
    );
    assert.equal(plain.length, 108 + 4 + 640);
    assert.equal(out.saliency.length, plain.length);
    const d = maxRelDiff(out.saliency, plain);
    assert.ok(d < 1e-5, `max rel diff ${d}`);
  });
});
