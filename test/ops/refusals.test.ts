/**
 * What the new ops refuse, and how: configurations a model file may ask for that pss does not
 * build are UnsupportedOpErrors (PssErrors: one line, naming the op and the configuration);
 * misuses of a builder are GraphErrors naming the node.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PssError } from '../../src/errors.js';
import { Graph, GraphError, type Value } from '../../src/graph/graph.js';
import * as op from '../../src/ops/index.js';
import { OPS, UnsupportedOpError } from '../../src/ops/index.js';

const graph = () => new Graph(OPS);
const input = (...shape: number[]) => graph().input('x', shape);

function refuses(build: () => unknown, message: RegExp) {
  assert.throws(build, (e: unknown) => {
    assert.ok(e instanceof UnsupportedOpError && e instanceof PssError, `not an UnsupportedOpError: ${e}`);
    assert.match(e.message, message);
    assert.doesNotMatch(e.message, /\n/);
    return true;
  });
}

describe('unsupported configurations are one-line UnsupportedOpErrors', () => {
  const pair = (a: number[], b: number[]): [Value, Value] => {
    const g = graph();
    return [g.input('a', a), g.input('b', b)];
  };
  it('einsum: diagonals, three operands, mismatched or missing indices, bad terms', () => {
    refuses(() => op.einsum('ii->i', input(3, 3)), /Einsum "ii->i": operand 0 repeats an index/);
    const g = graph();
    const [a, b, c] = ['a', 'b', 'c'].map((n) => g.input(n, [2, 2]));
    refuses(() => op.einsum('ij,jk,kl->il', a, b, c), /only one or two operands/);
    refuses(() => op.einsum('ij,jk->ik', ...pair([2, 3], [4, 5])), /index j is 3 and 4 long/);
    refuses(() => op.einsum('ij->k', input(2, 3)), /output index k is in no operand/);
    refuses(() => op.einsum('ij->i->j', input(2, 3)), /more than one "->"/);
    refuses(() => op.einsum('ijk->i', input(2, 3)), /operand 0 has rank 2, its term "ijk"/);
    refuses(() => op.einsum('i1->i', input(2, 3)), /is not a term of letters/);
    refuses(() => op.einsum('ij,jk->ik', input(2, 3)), /2 operands written, 1 given/);
  });
  it('resize: cubic, crop-and-resize, other rounding names, three axes at once', () => {
    const x = input(1, 2, 4, 4);
    const as = <T>(v: string) => v as T;
    refuses(
      () => op.resize(x, { mode: as('cubic'), scales: [1, 1, 2, 2] }),
      /Resize: mode cubic is not supported/,
    );
    refuses(
      () => op.resize(x, { coordinateTransformationMode: as('tf_crop_and_resize'), scales: [1, 1, 2, 2] }),
      /coordinate_transformation_mode tf_crop_and_resize/,
    );
    refuses(() => op.resize(x, { nearestMode: as('simple'), scales: [1, 1, 2, 2] }), /nearest_mode simple/);
    refuses(() => op.resize(x, { sizes: [1, 4, 8, 8] }), /Resize: resizing 3 axes is not supported/);
  });
  it('lrn: even sizes and inputs that are not NCHW', () => {
    refuses(() => op.lrn(input(1, 4, 2, 2), 4), /LRN: an even size \(4\)/);
    refuses(() => op.lrn(input(1, 4, 2), 3), /LRN: an input of rank 3/);
  });
});

describe('misuses are GraphErrors naming the node', () => {
  const misuse = (build: () => unknown, message: RegExp) =>
    assert.throws(build, (e: unknown) => e instanceof GraphError && message.test(e.message));
  const ix = (data: number[], shape: number[]) => ({ data, shape });
  it('indices out of range, or written twice where the last write would win', () => {
    misuse(
      () => op.gather(input(3, 4), ix([4], [1]), 1),
      /Gather node #\d+ .*index 4 out of range for a dimension of 4/,
    );
    misuse(() => op.gatherND(input(3, 4), ix([3, 0], [1, 2])), /index 3 out of range/);
    const g = graph();
    const [d, u] = [g.input('d', [3, 2]), g.input('u', [2, 2])];
    misuse(
      () => op.scatterND(d, ix([1, 1], [2, 1]), u),
      /ScatterND with reduction none writes position \[1\] twice/,
    );
    assert.doesNotThrow(() => op.scatterND(d, ix([1, 1], [2, 1]), u, 'add'));
    const v = g.input('v', [1, 2]);
    misuse(() => op.scatterElements(d, ix([0, 0], [1, 2]), v, 1), /writes position \[0,0\] twice/);
  });
  it('indices that are not constants, shapes that do not fit', () => {
    const g = graph();
    const x = g.input('x', [3, 4]);
    misuse(() => op.gather(x, g.input('i', [2], 'int64')), /indices must be an int64 constant/);
    misuse(
      () => op.prelu(x, g.input('s', [3, 1, 1])),
      /slope \[3,1,1\] does not broadcast to the input \[3,4\]/,
    );
    misuse(() => op.layerNorm(x, g.input('w', [3]), undefined, 1), /scale and bias must broadcast/);
    misuse(() => op.tile(x, [2]), /repeats must be 2 positive integers/);
    misuse(() => op.emit(g, 'Mod', [x, x], { fmod: 0 }), /floats need fmod = 1/);
  });
});
