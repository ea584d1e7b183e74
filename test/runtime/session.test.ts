import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { grad } from '../../src/autodiff/grad.js';
import { Graph } from '../../src/graph/graph.js';
import { toOnnxParts } from '../../src/graph/onnx.js';
import * as op from '../../src/ops/index.js';
import { Runner, type WeightPlacement } from '../../src/runtime/session.js';
import { rng } from '../helpers/random.js';

describe('weights placement', () => {
  const r = rng(5);
  const w0 = r.normal(16 * 8 * 3 * 3); // 4.6 KB: large enough to be placed
  const x0 = r.normal(2 * 8 * 6 * 6);
  // A first-order input gradient, so the graph holds a folded constant (the adjoint kernel) too.
  const build = () => {
    const g = new Graph(op.OPS);
    const x = g.input('x', [2, 8, 6, 6]);
    const w = g.constant(w0, [16, 8, 3, 3]);
    const y = op.relu(op.conv(x, w, undefined, { pads: [1, 1, 1, 1] }));
    const [gx] = grad(op.reduceSum(op.mul(y, y), [0, 1, 2, 3]), [x]);
    return [
      { name: 'y', value: y },
      { name: 'gx', value: gx },
    ];
  };

  it('puts large constants inline, as external data, or as graph inputs', () => {
    const outputs = build();
    const inline = toOnnxParts(outputs);
    const external = toOnnxParts(outputs, { constants: 'initializers' });
    const inputs = toOnnxParts(outputs, { constants: 'inputs' });
    assert.deepEqual([inline.external.length, inline.inputs.length], [0, 0]);
    assert.deepEqual([external.external.length, external.inputs.length], [2, 0]); // w and its adjoint
    assert.deepEqual([inputs.external.length, inputs.inputs.length], [0, 2]);
    assert.ok(external.model.length < inline.model.length - 2 * w0.byteLength + 1000);
    assert.ok(
      external.external.some((c) => c.data === w0),
      'external data is the caller array, not a copy',
    );
  });

  it('gives the same results whichever way ONNX Runtime gets the weights', async () => {
    const results: Record<string, Record<string, Float32Array | Float64Array>> = {};
    for (const weights of ['initializers', 'inputs', 'mixed'] as WeightPlacement[]) {
      const runner = await Runner.create(build(), { threads: 1, weights });
      assert.deepEqual(
        runner.inputs.map((v) => v.inputName),
        ['x'],
        'weights fed by the runner are not inputs the caller feeds',
      );
      results[weights] = await runner.run({ x: x0 });
      await runner.release();
    }
    for (const k of ['y', 'gx']) {
      const ref = results.initializers[k];
      const scale = Math.max(...Array.from(ref, Math.abs));
      for (const w of ['inputs', 'mixed'])
        for (let i = 0; i < ref.length; i++)
          assert.ok(Math.abs(results[w][k][i] - ref[i]) <= 1e-5 * scale, `${w} ${k}[${i}]`);
    }
  });
});
