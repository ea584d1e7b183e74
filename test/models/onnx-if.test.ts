/**
 * If nodes whose condition is known at import (src/models/onnx/replay.ts): torch.onnx writes
 * them for a squeeze of a dimension it cannot see (Equal on a Shape, then Squeeze, else
 * Identity). The chosen branch runs in place — at the file's own opset, nested, reading the
 * outer scope — and gives what ONNX Runtime gives; a condition on the image's values, or an
 * unsupported operator inside a branch, is refused in one line.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PssError } from '../../src/errors.js';
import { hashUniform } from '../../src/models/deterministic.js';
import { onnxModel } from '../../src/models/onnx-import.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { maxRelDiff } from '../helpers/fixtures.js';
import { type Attr, hashedTensor, type Node, onnxNode as node, onnxBytes } from '../helpers/onnx.js';
import { CASE_SHAPE, ortLogits as ortCaseLogits } from '../helpers/onnx-case.js';

const ints = (name: string, v: number[]): Attr => ({ name, ints: v, type: 7 });
const int = (name: string, v: number): Attr => ({ name, i: v, type: 2 });
const output = (name: string) => ({ name, type: { tensorType: { elemType: 1 } } });
const graph = (name: string, nodes: Node[], out: string): Attr => ({
  name,
  type: 5,
  g: { name, node: nodes, output: [output(out)] },
});
const ifNode = (cond: string, out: string, then: [Node[], string], otherwise: [Node[], string]): Node =>
  node('If', [cond], [out], [graph('then_branch', ...then), graph('else_branch', ...otherwise)]);

/** Squeeze of H and W in the opset's own form (axes an attribute before 13, an input since). */
const squeeze = (opset: number, x: string, out: string): Node =>
  opset < 13 ? node('Squeeze', [x], [out], [ints('axes', [2, 3])]) : node('Squeeze', [x, 'hw'], [out]);

/**
 * conv → global pool → If(dimension `axis` of the pool's shape is 1) → Gemm. The then branch
 * squeezes H and W; the else branch flattens and doubles (a constant of the outer scope), so
 * the branch taken shows in the logits.
 */
function classifier(opset: number, axis: number, extra: { thenNodes?: Node[]; cond?: Node[] } = {}) {
  const then = extra.thenNodes ?? [squeeze(opset, 'gap', 'sq')];
  return onnxBytes({
    opset,
    nodes: [
      node('Conv', ['x', 'w:4x3x3x3', 'b:4'], ['c'], [ints('pads', [1, 1, 1, 1])]),
      node('GlobalAveragePool', ['c'], ['gap']),
      ...(extra.cond ?? [
        node('Shape', ['gap'], ['shape']),
        node('Gather', ['shape', 'axis'], ['dim'], [int('axis', 0)]),
        node('Equal', ['dim', 'one'], ['cond']),
      ]),
      ifNode(
        'cond',
        'feat',
        [then, then.at(-1)!.output![0]],
        [[node('Flatten', ['gap'], ['flat']), node('Mul', ['flat', 'two'], ['twice'])], 'twice'],
      ),
      node('Gemm', ['feat', 'fc:10x4', 'fcb:10'], ['y'], [int('transB', 1)]),
    ],
    constants: { axis: [axis], one: [1], hw: [2, 3], two: [2.5] },
    deterministic: hashedTensor,
  });
}

const SHAPE = CASE_SHAPE;
const X = Float32Array.from({ length: 3 * 64 }, (_, i) => hashUniform('if-input', i));

const ortLogits = (bytes: Uint8Array) => ortCaseLogits(bytes, X);

async function pss(bytes: Uint8Array) {
  await using engine = new SaliencyEngine(onnxModel(bytes, 'if.onnx'));
  const [r] = await engine.compute({ data: X, shape: SHAPE }, [3]);
  return r;
}

describe('ONNX If with a condition known at import', () => {
  for (const opset of [11, 13, 17])
    for (const [axis, taken] of [
      [2, 'then'],
      [1, 'else'],
    ] as const)
      it(`opset ${opset}: the ${taken} branch, as ONNX Runtime runs it`, async (t) => {
        const bytes = classifier(opset, axis);
        const r = await pss(bytes);
        const rel = maxRelDiff(r.logits, await ortLogits(bytes));
        t.diagnostic(`logits against ONNX Runtime: max rel diff ${rel.toExponential(2)}`);
        assert.ok(rel < 1e-5, `max rel diff ${rel}`);
        // the branches differ by a factor of 2.5 on the features: the other one would be far off
        const other = await ortLogits(classifier(opset, axis === 2 ? 1 : 2));
        assert.ok(maxRelDiff(r.logits, other) > 0.1);
        assert.equal(r.saliency.length, 4);
        assert.ok(r.saliency.every((v) => v > 0));
      });

  it('the branch taken gives the saliency of the same graph written without the If', async () => {
    const inlined = onnxBytes({
      opset: 13,
      nodes: [
        node('Conv', ['x', 'w:4x3x3x3', 'b:4'], ['c'], [ints('pads', [1, 1, 1, 1])]),
        node('GlobalAveragePool', ['c'], ['gap']),
        node('Squeeze', ['gap', 'hw'], ['feat']),
        node('Gemm', ['feat', 'fc:10x4', 'fcb:10'], ['y'], [int('transB', 1)]),
      ],
      constants: { hw: [2, 3] },
      deterministic: hashedTensor,
    });
    const [a, b] = [await pss(classifier(13, 2)), await pss(inlined)];
    assert.deepEqual(a.saliency, b.saliency);
    assert.deepEqual(a.logits, b.logits);
  });

  it('an If inside a branch, and a branch with its own Constant', async () => {
    const nested = classifier(13, 2, {
      thenNodes: [
        node(
          'Constant',
          [],
          ['axes'],
          [{ name: 'value', type: 4, t: { dims: [2], dataType: 7, int64Data: [2, 3] } }],
        ),
        ifNode(
          'cond',
          'inner',
          [[node('Squeeze', ['gap', 'axes'], ['sq'])], 'sq'],
          [[node('Flatten', ['gap'], ['f2'])], 'f2'],
        ),
      ],
    });
    const r = await pss(nested);
    assert.ok(maxRelDiff(r.logits, await ortLogits(nested)) < 1e-5);
  });

  it('a conv only in the branch not taken: its filters are units, with zero saliency', async () => {
    const bytes = classifier(13, 1, {
      thenNodes: [node('Conv', ['gap', 'w2:4x4x1x1'], ['c2']), squeeze(13, 'c2', 'sq')],
    });
    const r = await pss(bytes);
    assert.ok(maxRelDiff(r.logits, await ortLogits(bytes)) < 1e-5);
    assert.equal(r.saliency.length, 8);
    assert.ok(r.saliency.slice(0, 4).every((v) => v > 0));
    assert.deepEqual([...r.saliency.slice(4)], [0, 0, 0, 0]);
  });

  it('refuses a condition on the image in one line', () => {
    const bytes = classifier(13, 2, {
      cond: [
        node('ReduceMax', ['gap'], ['m'], [int('keepdims', 0)]),
        node('Greater', ['m', 'two'], ['cond']),
      ],
    });
    assert.throws(
      () => onnxModel(bytes, 'data-if.onnx'),
      (e: Error) =>
        e instanceof PssError &&
        /^data-if\.onnx: node "feat" \(If\): its condition depends on the image/.test(e.message) &&
        !e.message.includes('\n'),
    );
  });

  it('names an unsupported operator inside a branch', () => {
    const bytes = classifier(13, 2, { thenNodes: [node('NonMaxSuppression', ['gap'], ['sq'])] });
    assert.throws(
      () => onnxModel(bytes, 'nms.onnx'),
      /^PssError: nms\.onnx uses ONNX operators pss cannot differentiate: NonMaxSuppression$/,
    );
  });
});
