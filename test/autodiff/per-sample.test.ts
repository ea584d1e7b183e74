/**
 * Per-sample gradients of parameters that reach the data through parameter-only ops (a
 * transposed linear weight, a reshaped kernel, a scaled bias, an unsqueezed scale): the
 * ops' batched rules, against each sample's gradient alone and finite differences.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { grad } from '../../src/autodiff/grad.js';
import { Graph, type Value } from '../../src/graph/graph.js';
import * as op from '../../src/ops/index.js';
import { OPS, UnsupportedOpError } from '../../src/ops/index.js';
import { checkGrads, checkPerSample, type PerSampleCase } from '../helpers/gradcheck.js';
import { cube, inputs } from '../ops/cases/inputs.js';

const { r, normal, uniform, constant } = inputs(29);
/** A graph constant with the same values in each graph f builds (the batch's and each sample's). */
const fixed = (shape: number[]) => {
  const data = r.normal(shape.reduce((a, b) => a * b, 1));
  return (like: Value) => like.graph.constant(data, shape);
};
const [scale4, divisor] = [fixed([4]), fixed([1, 6])];

/** Batches of 3; inputs[0] is the data. */
const cases: PerSampleCase[] = [
  {
    name: 'Transpose → MatMul (Net.linear on tokens: x Wᵀ + b)',
    inputs: [normal(3, 2, 4), normal(5, 4), normal(5)],
    params: [1, 2],
    f: ([x, w, b]) => cube(op.add(op.matmul(x, op.transpose(w, [1, 0])), b)),
  },
  {
    name: 'Reshape → Conv (a kernel stored flat)',
    inputs: [normal(3, 2, 5, 5), normal(4 * 2 * 3 * 3)],
    params: [1],
    f: ([x, w]) => cube(op.conv(x, op.reshape(w, [4, 2, 3, 3]), undefined, { pads: [1, 1, 1, 1] })),
  },
  {
    name: 'Mul by a constant → Add (a scaled bias)',
    inputs: [normal(3, 2, 4), normal(4)],
    params: [1],
    f: ([x, b]) => cube(op.add(x, op.mul(b, scale4(x)))),
  },
  {
    name: 'Unsqueeze (Reshape) → Mul (a channel scale [C] as [C, 1, 1]), through Cast and Exp',
    inputs: [normal(3, 4, 2, 2), uniform(-0.5, 0.5, 4)],
    params: [1],
    f: ([x, s]) => {
      const scale = op.exp(op.cast(op.cast(op.reshape(s, [4, 1, 1]), 'float64'), 'float32'));
      return cube(op.mul(x, scale));
    },
  },
  {
    name: 'Expand without the batch, Div, Sub, Neg, Flatten (a broadcast table)',
    inputs: [normal(3, 2, 6), uniform(0.5, 2, 2, 3), normal(6)],
    params: [1, 2],
    f: ([x, t, b]) => {
      const table = op.expand(op.div(op.flatten(t, 0), divisor(x)), [2, 6]);
      return cube(op.sub(x, op.add(table, op.neg(b))));
    },
  },
  {
    name: "Gather → Reshape → Transpose → Add (Swin's relative position bias, rows gathered twice)",
    inputs: [normal(3, 2, 4, 4), normal(5, 2)],
    params: [1],
    f: ([x, table]) => {
      const index = { data: Array.from({ length: 16 }, (_, i) => (i * 7) % 5), shape: [16] };
      const bias = op.transpose(op.reshape(op.gather(table, index, 0), [4, 4, 2]), [2, 0, 1]);
      return cube(op.add(x, bias));
    },
  },
  {
    name: 'a parameter used directly and through Transpose (cotangents of both kinds summed)',
    inputs: [normal(3, 4), normal(4, 4)],
    params: [1],
    f: ([x, w]) => cube(op.matmul(op.matmul(x, w), op.transpose(w, [1, 0]))),
  },
];

describe('per-sample gradients through parameter-only ops', () => {
  for (const c of cases) it(c.name, () => checkPerSample(c));

  // d/dx of a function of the per-sample gradients (explain's second order), and once more.
  for (const c of cases)
    it(`${c.name}: the input gradient of its per-sample gradients, against finite differences`, () =>
      checkGrads({
        name: c.name,
        inputs: c.inputs,
        wrt: [0],
        f: (xs) => {
          const out = c.f(xs);
          const y = op.reduceSum(
            op.mul(out, constant(out, ...out.shape)),
            out.shape.map((_, i) => i),
          );
          const batch = xs[0].shape[0];
          const gs = grad(
            y,
            c.params.map((i) => xs[i]),
            { perSampleBatch: batch },
          );
          return op.concat(
            gs.map((g) => op.reshape(g, [batch, -1])),
            1,
          );
        },
      }));
});

describe('per-sample gradients that no rule keeps apart are refused, naming the op', () => {
  const graph = (x: number[]) => {
    const g = new Graph(OPS);
    return { x: g.input('x', x), w: g.input('w', [5, 4]) };
  };
  const sum = (v: Value) =>
    op.reduceSum(
      v,
      v.shape.map((_, i) => i),
    );
  it('a parameter-only op without a batched rule (Tile)', () => {
    const { x, w } = graph([3, 5, 4]);
    const y = sum(op.mul(x, op.emit(w.graph, 'Tile', [w], { repeats: [1, 1] })));
    assert.throws(
      () => grad(y, [w], { perSampleBatch: 3 }),
      (e) =>
        e instanceof UnsupportedOpError &&
        /^Tile: per-sample gradients of a parameter passing/.test(e.message),
    );
  });
  it("a rule that takes no per-sample operand there (MatMul's left side)", () => {
    const { x, w } = graph([3, 4, 2]);
    const y = sum(op.matmul(op.mul(w, 2), x));
    assert.throws(
      () => grad(y, [w], { perSampleBatch: 3 }),
      (e) =>
        e instanceof UnsupportedOpError &&
        /^MatMul: per-sample gradients of a parameter as its input 0/.test(e.message),
    );
  });
  it('a parameter meeting data whose axis 0 is more than the samples (tokens flattened with them)', () => {
    const { x, w } = graph([3, 5, 4]);
    const y = sum(op.matmul(op.reshape(x, [15, 4]), op.transpose(w, [1, 0])));
    assert.throws(
      () => grad(y, [w], { perSampleBatch: 3 }),
      (e) =>
        e instanceof UnsupportedOpError &&
        /^MatMul: .* input 1 where the data's axis 0 is not the samples \(15 rows for a batch of 3\)/.test(
          e.message,
        ),
    );
  });
});
