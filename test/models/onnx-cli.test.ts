/**
 * ONNX files as a user runs them through the CLI: the input and output pss chose are in the
 * notes and --input-name / --output-name choose others; a dynamic-size model takes the size of
 * --input; files pss cannot use are one line, exit 1 (every unsupported operator listed, other
 * domains named, a model that is not a classifier refused with the reason).
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { serializeNpy } from '../../src/io/npy.js';
import { hashUniform } from '../../src/models/deterministic.js';
import { pss, tempDir } from '../helpers/cli.js';
import { convClassifier, type Node, onnxBytes } from '../helpers/onnx.js';

const deterministic = (name: string) => {
  const dims = name.split(':')[1].split('x').map(Number);
  return {
    dims,
    values: Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => hashUniform(name, i)),
  };
};
const node = (opType: string, input: string[], output: string[], extra: Partial<Node> = {}): Node => ({
  opType,
  input,
  output,
  ...extra,
});
const body = (x: string, y = 'y') => convClassifier(x, y);
const npy = (shape: number[]) =>
  serializeNpy(
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => hashUniform('cli', i)),
    shape,
  );

describe('ONNX models through the CLI', () => {
  const dir = tempDir();
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, bytes: Uint8Array) => {
    writeFileSync(join(dir, name), bytes);
    return join(dir, name);
  };
  writeFileSync(join(dir, 'x8.npy'), npy([1, 3, 8, 8]));
  writeFileSync(join(dir, 'x13.npy'), npy([1, 3, 13, 21]));
  const saliency = (model: string, input: string, ...extra: string[]) =>
    pss(['saliency', '--model', model, '--input', join(dir, input), '--label', '1', ...extra]);
  const refused = (r: ReturnType<typeof pss>, pattern: RegExp) => {
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /^pss: [^\n]*\n$/);
    assert.match(r.stderr, pattern);
  };

  it('several inputs and outputs: the choice is in the notes, and the flags choose others', () => {
    const model = file(
      'two.onnx',
      onnxBytes({
        opset: 13,
        nodes: [
          ...body('image', 'logits'),
          node('Identity', ['c'], ['features']),
          node('Neg', ['logits'], ['negated']),
        ],
        deterministic,
        inputs: [
          { name: 'image', dims: [1, 3, 8, 8] },
          { name: 'unused', dims: [1, 3, 8, 8] },
        ],
        outputs: [
          { name: 'features', dims: [1, 4, 8, 8] },
          { name: 'logits', dims: [1, 10] },
          { name: 'negated', dims: [1, 10] },
        ],
      }),
    );
    const plain = saliency(model, 'x8.npy');
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /using input "image" \[1, 3, 8, 8\]; the graph never reads "unused"/);
    assert.match(plain.stdout, /using "logits" as class scores \(choose with --output-name\)/);
    const other = saliency(model, 'x8.npy', '--output-name', 'negated');
    assert.equal(other.code, 0, other.stderr);
    assert.notEqual(/loss (\d+\.\d+)/.exec(other.stdout)?.[1], /loss (\d+\.\d+)/.exec(plain.stdout)?.[1]);
    refused(saliency(model, 'x8.npy', '--output-name', 'features'), /output "features" has 4 dimensions/);
    refused(saliency(model, 'x8.npy', '--input-name', 'nope'), /has no input "nope"; its inputs: "image"/);
    refused(
      pss(['saliency', '--input', join(dir, 'x8.npy'), '--label', '1', '--input-name', 'image']),
      /--input-name and --output-name choose among an ONNX file's inputs/,
    );
  });

  it('a dynamic height and width take the size of --input', () => {
    const model = file(
      'dynamic.onnx',
      onnxBytes({
        opset: 17,
        nodes: body('x'),
        deterministic,
        inputs: [{ name: 'x', dims: ['N', 3, 'H', 'W'] }],
        outputs: [{ name: 'y', dims: ['N', 10] }],
      }),
    );
    for (const input of ['x8.npy', 'x13.npy']) {
      const r = saliency(model, input);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /the input size is dynamic/);
    }
  });

  it('files pss cannot use: one line, exit 1', () => {
    const unsupported = file(
      'unsupported.onnx',
      onnxBytes({
        opset: 17,
        nodes: [
          ...body('x', 's'),
          node('Hardmax', ['s'], ['h']),
          node('NonMaxSuppression', ['h'], ['n']),
          node('FancyOp', ['n'], ['f'], { domain: 'com.example' }),
          node('Hardmax', ['f'], ['y']),
        ],
        deterministic,
      }),
    );
    refused(
      saliency(unsupported, 'x8.npy'),
      /unsupported\.onnx uses ONNX operators pss cannot differentiate: FancyOp \(domain com\.example\), Hardmax, NonMaxSuppression$/m,
    );
    const detector = file(
      'features.onnx',
      onnxBytes({
        opset: 13,
        nodes: body('x').slice(0, 2),
        deterministic,
        outputs: [{ name: 'r', dims: [1, 4, 8, 8] }],
      }),
    );
    refused(
      saliency(detector, 'x8.npy'),
      /output "r" has 4 dimensions; pss needs class scores .*is this an image classifier/,
    );
    const noConv = file(
      'no-conv.onnx',
      onnxBytes({
        opset: 13,
        nodes: [
          node('GlobalAveragePool', ['x'], ['gap']),
          node('Flatten', ['gap'], ['flat']),
          node('Gemm', ['flat', 'fc:10x3', 'fcb:10'], ['y'], {
            attribute: [{ name: 'transB', i: 1, type: 2 }],
          }),
        ],
        deterministic,
      }),
    );
    refused(
      saliency(noConv, 'x8.npy'),
      /has no convolution with constant weights: pss ranks convolution filters/,
    );
  });
});
