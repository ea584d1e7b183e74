/**
 * `pss inspect`: what pss sees of a model before running it — the bundled default, a built-in
 * without weights (its structure), an ONNX file with the choices made on import — as text and
 * JSON whose layer table is the saliency vector's; a file pss cannot run is one line naming
 * every unsupported operator.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertOneLine, pss, tempDir } from '../helpers/cli.js';
import { hashedTensor, onnxNode as node, onnxBytes } from '../helpers/onnx.js';

/** A classifier with an int64 label output (an ArgMax) before its scores; `extra` nodes lead from the conv to `pooled`. */
const labelled = (extra: ReturnType<typeof node>[] = [], pooled = 'c') =>
  onnxBytes({
    opset: 13,
    nodes: [
      node('Conv', ['x', 'w:4x3x3x3', 'b:4'], ['c'], [{ name: 'pads', ints: [1, 1, 1, 1], type: 7 }]),
      ...extra,
      node('GlobalAveragePool', [pooled], ['gap']),
      node('Flatten', ['gap'], ['flat']),
      node('Gemm', ['flat', 'fc:10x4', 'fcb:10'], ['scores'], [{ name: 'transB', i: 1, type: 2 }]),
      node('Softmax', ['scores'], ['y'], [{ name: 'axis', i: 1, type: 2 }]),
      node('ArgMax', ['y'], ['label'], [{ name: 'axis', i: 1, type: 2 }]),
    ],
    deterministic: hashedTensor,
    outputs: [
      { name: 'label', dims: [1, 1], elemType: 7 },
      { name: 'y', dims: [1, 10] },
    ],
  });

describe('pss inspect', () => {
  it('describes the bundled default: input, preprocessing, classes and the layer table', () => {
    const r = pss(['inspect']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^fashion-cnn: /);
    assert.match(r.stdout, /classes {6}10 \(T-shirt\/top, Trouser, Pullover, Dress, …\)/);
    assert.match(r.stdout, /units {8}filters: 224 filters in 5 layers/);
    assert.match(r.stdout, /\n {2}conv5 {2}filter {4}128 {6}96 {2}128×32×3×3/);
  });

  it('a built-in without weights: its structure, said in a note; the JSON layers tile the saliency vector', () => {
    const r = pss(['inspect', '--model', 'vit_b_16', '--json', '-']);
    assert.equal(r.code, 0, r.stderr);
    const d = JSON.parse(r.stdout);
    assert.equal(d.unitCounts, '768 filters, 56,296 neurons, 432 head units');
    assert.equal(d.units, 'all');
    let offset = 0;
    for (const l of d.layers) {
      assert.equal(l.offset, offset, l.name);
      offset += l.units;
    }
    assert.equal(offset, d.unitCount);
    assert.deepEqual(d.notes, ["no --weights: vit_b_16's structure, with placeholder weights"]);
    const filters = pss(['inspect', '--model', 'vit_b_16', '--units', 'filters', '--json', '-']);
    assert.equal(JSON.parse(filters.stdout).unitCount, 768);
  });

  it('an ONNX file: opset, the input fed, the scores read and how the graph ended, every choice in a note', () => {
    const dir = tempDir();
    const file = join(dir, 'labelled.onnx');
    writeFileSync(file, labelled());
    const out = join(dir, 'd.json');
    const r = pss(['inspect', '--model', file, '--json', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /onnx {9}opset 13; input "x" \(NCHW\), scores from "y" \(softmax\)/);
    assert.match(r.stdout, /Full description: .*d\.json/);
    const d = JSON.parse(readFileSync(out, 'utf8'));
    assert.deepEqual(d.onnx, { opset: 13, input: 'x', layout: 'NCHW', output: 'y', ending: 'softmax' });
    assert.ok(d.notes.some((n: string) => /has 2 outputs .*using "y" as class scores/.test(n)));
    assert.ok(d.notes.some((n: string) => /ends in Softmax/.test(n)));
  });

  it('has help with examples, and is listed among the commands', () => {
    const r = pss(['inspect', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /pss inspect --model my-classifier\.onnx/);
    assert.match(pss(['--help']).stdout, /\n {2}inspect {5}What pss sees of a model/);
  });

  it('a file pss cannot run: one line naming every unsupported operator on the way to the scores', () => {
    const dir = tempDir();
    const file = join(dir, 'custom.onnx');
    writeFileSync(
      file,
      labelled([node('Trilu', ['c'], ['t']), { ...node('Fancy', ['t'], ['f']), domain: 'com.example' }], 'f'),
    );
    assertOneLine(
      pss(['inspect', '--model', file]),
      /custom\.onnx uses ONNX operators pss cannot differentiate: Fancy \(domain com\.example\), Trilu$/,
    );
  });
});
