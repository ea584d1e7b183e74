/**
 * The rewrites around ONNX Runtime's WebGPU kernel bugs (src/runtime/webgpu-forms.ts) are the
 * same maps: checked on the CPU, so they hold wherever the suite runs. Their effect on the
 * WebGPU provider itself is checked in webgpu-kernels.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Graph, type Value } from '../../src/graph/graph.js';
import * as op from '../../src/ops/index.js';
import { convPadding, convTransposePadding, forWebGpu } from '../../src/runtime/webgpu-forms.js';
import { maxRelDiff } from '../helpers/fixtures.js';
import { rng } from '../helpers/random.js';
import { runGraph } from './webgpu-env.js';

describe('which nodes the WebGPU provider gets wrong', () => {
  it('Conv: groups of 4 or more output channels that its channel vectors straddle', () => {
    assert.equal(convPadding(36, 4), 12); // 9 per group in vectors of 4 (patch extraction, 3x3)
    assert.equal(convPadding(20, 4), 8);
    assert.equal(convPadding(12, 2), 8); // 6 per group in vectors of 4
    assert.equal(convPadding(18, 2), 12); // 9 per group in vectors of 2
    for (const [m, g] of [
      [16, 4], // 4 per group
      [32, 4], // 8 per group
      [12, 4], // 3 per group: scalar path
      [32, 32], // depthwise
      [9, 1], // one group
      [15, 3], // 15 channels: scalar vectors
    ])
      assert.equal(convPadding(m, g), undefined, `${m} channels in ${g} groups`);
  });
  it('ConvTranspose: one output and an even number, 4 or more, of input channels per group', () => {
    assert.equal(convTransposePadding(32, 1, 8), 2); // the adjoint of 2x2 patch extraction
    assert.equal(convTransposePadding(48, 1, 8), 2);
    assert.equal(convTransposePadding(288, 1, 32), undefined); // 9 per group: read as scalars
    assert.equal(convTransposePadding(40, 1, 8), undefined);
    assert.equal(convTransposePadding(4, 1, 1), undefined);
    assert.equal(convTransposePadding(8, 1, 8), undefined);
    assert.equal(convTransposePadding(32, 4, 8), undefined);
  });
});

describe('the rewritten graph computes the same numbers (CPU)', () => {
  const r = rng(11);
  const data = (shape: readonly number[]) => Float32Array.from(r.normal(shape.reduce((a, b) => a * b, 1)));
  // Constants a graph builds in: the same numbers each time it is built.
  const fixed = (shape: readonly number[]) =>
    Float32Array.from(rng(shape[0]).normal(shape.reduce((a, b) => a * b, 1)));
  const cases: [string, number[][], (g: Graph, x: Value[]) => Value][] = [
    [
      'a grouped Conv with a constant weight and bias (4 groups of 9)',
      [[2, 4, 9, 9]],
      (g, [x]) =>
        op.conv(x, g.constant(fixed([36, 1, 3, 3]), [36, 1, 3, 3]), g.constant(fixed([36]), [36]), {
          pads: [2, 1, 0, 2],
          dilations: [2, 1],
          strides: [1, 2],
          group: 4,
        }),
    ],
    [
      'a grouped Conv whose weight and bias are computed (2 groups of 6)',
      [[1, 6, 7, 7], [12, 3, 3, 3], [12]],
      (_, [x, w, b]) =>
        op.relu(op.conv(op.relu(x), op.mul(w, 2), op.mul(b, 3), { pads: [1, 1, 1, 1], group: 2 })),
    ],
    [
      'patch extraction (3x3, stride 2)',
      [[2, 4, 11, 11]],
      (_, [x]) => op.extractPatches(x, [3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] }),
    ],
    [
      'its adjoint, a grouped ConvTranspose with output padding, and a computed weight',
      [[1, 32, 5, 5], [32, 1, 3, 3], [8]],
      (_, [x, w, b]) =>
        op.convTranspose(x, op.mul(w, 1.5), b, {
          strides: [2, 2],
          pads: [1, 1, 1, 1],
          group: 8,
          outputShape: [10, 10],
        }),
    ],
  ];
  for (const [name, shapes, build] of cases) {
    it(name, async () => {
      const feeds = shapes.map(data);
      let rewritten = 0;
      const plain = await runGraph(shapes, build, feeds, 'cpu');
      const forms = await runGraph(
        shapes,
        (g, x) => {
          const [out] = forWebGpu([{ name: 'y', value: build(g, x) }]);
          rewritten = g.nodes.filter((n) => n.op === 'Slice').length;
          return [out];
        },
        feeds,
        'cpu',
      );
      assert.ok(rewritten >= 1, 'the case is one the rewrite handles');
      assert.equal(forms.y.length, plain.y.length);
      assert.ok(maxRelDiff(forms.y, plain.y) <= 1e-6, `max rel diff ${maxRelDiff(forms.y, plain.y)}`);
    });
  }

  it('leaves a graph without such nodes as it is', () => {
    const g = new Graph(op.OPS);
    const x = g.input('x', [1, 8, 6, 6]);
    const dw = op.conv(x, g.constant(data([8, 1, 3, 3]), [8, 1, 3, 3]), undefined, {
      pads: [1, 1, 1, 1],
      group: 8,
    });
    const y = op.conv(dw, g.constant(data([16, 8, 1, 1]), [16, 8, 1, 1]));
    const before = g.nodes.length;
    const [out] = forWebGpu([{ name: 'y', value: y }]);
    assert.equal(out.value, y);
    assert.equal(g.nodes.length, before);
  });
});
