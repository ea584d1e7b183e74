/**
 * Operators of the newer opsets and rarer activations (src/models/onnx/operators.ts):
 * GroupNormalization in its opset-18 form (scale and bias per group) and its opset-21 form
 * (per channel), Mish (18), Celu (12) and Softsign. Each small graph gives the logits ONNX
 * Runtime gives running the same file, and its gradients pass finite differences to second
 * order (test/helpers/onnx-case.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PssError } from '../../src/errors.js';
import { onnxModel } from '../../src/models/onnx-import.js';
import { type Attr, type Node, onnxNode } from '../helpers/onnx.js';
import { caseBytes, checkCase, type OnnxCase } from '../helpers/onnx-case.js';

const int = (name: string, v: number): Attr => ({ name, i: v, type: 2 });
const flt = (name: string, v: number): Attr => ({ name, f: v, type: 1 });
const node = (opType: string, input: string[], output: string[], ...attribute: Attr[]) =>
  onnxNode(opType, input, output, attribute);
/** The image conv to 6 channels, `body` on it ("c" → "out"), then flattened to the scores. */
const around = (...body: Node[]): Node[] => [
  node('Conv', ['x', 'w:6x3x3x3', 'b:6'], ['c'], { name: 'pads', ints: [1, 1, 1, 1], type: 7 }),
  ...body,
  node('Flatten', ['out'], ['y']),
];

const CASES: OnnxCase[] = [
  {
    name: 'GroupNormalization, opset 18: scale and bias per group (3 groups of 2 channels)',
    opset: 18,
    nodes: around(
      node('GroupNormalization', ['c', 'gs:3', 'gb:3'], ['out'], int('num_groups', 3), flt('epsilon', 1e-3)),
    ),
  },
  {
    name: 'GroupNormalization, opset 21: scale and bias per channel (2 groups of 3)',
    opset: 21,
    nodes: around(node('GroupNormalization', ['c', 'gs:6', 'gb:6'], ['out'], int('num_groups', 2))),
  },
  {
    name: 'GroupNormalization, opset 21: one group per channel (as InstanceNormalization)',
    opset: 21,
    nodes: around(node('GroupNormalization', ['c', 'gs:6', 'gb:6'], ['out'], int('num_groups', 6))),
  },
  { name: 'Mish (opset 18)', opset: 18, nodes: around(node('Mish', ['c'], ['out'])) },
  { name: 'Celu, alpha 0.7', nodes: around(node('Celu', ['c'], ['out'], flt('alpha', 0.7))) },
  { name: 'Softsign', nodes: around(node('Softsign', ['c'], ['out'])) },
];

describe('ONNX operators of the newer opsets, and rarer activations', () => {
  for (const c of CASES)
    it(c.name, async (t) => {
      const { rel } = await checkCase(c);
      t.diagnostic(`max rel diff of the logits against ONNX Runtime ${rel.toExponential(2)}`);
    });

  it('refuses channels that do not split into the groups, in one line', () => {
    const c = {
      name: '',
      opset: 21,
      nodes: around(node('GroupNormalization', ['c', 'gs:6', 'gb:6'], ['out'], int('num_groups', 4))),
    };
    assert.throws(
      () => onnxModel(caseBytes(c), 'gn.onnx'),
      (e: Error) =>
        e instanceof PssError &&
        /^gn\.onnx: node "out" \(GroupNormalization\): 6 channels do not split into num_groups = 4 groups$/.test(
          e.message,
        ),
    );
  });
});
