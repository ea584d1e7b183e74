/**
 * pss saliency --aggregation parameter where per-sample gradients cannot be kept apart: a
 * model whose data holds more than the samples on axis 0 where it meets a parameter (an
 * exported ViT's attention on [tokens·batch, C], Swin's windows) is refused in one line.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { serializeNpy } from '../../src/io/npy.js';
import { hashUniform } from '../../src/models/deterministic.js';
import { pss, tempDir } from '../helpers/cli.js';
import { type Node, onnxBytes } from '../helpers/onnx.js';

const deterministic = (name: string) => {
  const dims = name.split(':')[1].split('x').map(Number);
  return {
    dims,
    values: Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => hashUniform(name, i)),
  };
};
const node = (
  opType: string,
  input: string[],
  output: string[],
  attribute: Node['attribute'] = [],
): Node => ({
  opType,
  input,
  output,
  attribute,
});
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

describe('pss saliency --aggregation parameter', () => {
  const dir = tempDir();
  after(() => rmSync(dir, { recursive: true, force: true }));
  const path = (name: string) => join(dir, name);
  const image = Float32Array.from({ length: 3 * 8 * 8 }, (_, i) => hashUniform('cli-parameter', i));
  writeFileSync(path('x.npy'), serializeNpy(image, [1, 3, 8, 8]));
  const saliency = (model: string, ...extra: string[]) =>
    pss(['saliency', '--model', path(model), '--input', path('x.npy'), '--label', '1', ...extra]);

  it('refuses in one line where the data has more than the samples on axis 0', () => {
    writeFileSync(path('rows.onnx'), rowsNotSamples);
    const r = saliency('rows.onnx', '--aggregation', 'parameter');
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /^pss: [^\n]*\n$/);
    assert.match(
      r.stderr,
      /MatMul: per-sample gradients of a parameter as its input 1 where the data's axis 0 is not the samples \(4 rows for a batch of 1\)/,
    );
    assert.equal(saliency('rows.onnx').code, 0, 'filter saliency needs no per-sample rows there');
  });
});
