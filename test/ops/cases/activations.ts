/** Rule cases of the activations, pointwise maths and comparisons (src/ops/activations.ts). */
import type { Value } from '../../../src/graph/graph.js';
import * as op from '../../../src/ops/index.js';
import { cube, inputs, type Table } from './inputs.js';

const { normal, uniform, away, distinct, avoiding, constant, r } = inputs(15);

/** a / b of fractional part in [0.15, 0.85]: away from Mod's jumps. */
function modOperands(n: number, negative: boolean) {
  const b = r.uniform(n, 0.7, 2).map((v, i) => (negative && i % 2 ? -v : v));
  const a = b.map((v) => v * (Math.floor(r.next() * 7) - 3 + 0.15 + 0.7 * r.next()));
  return [
    { shape: [n], data: a },
    { shape: [n], data: b },
  ];
}

export const activationCases: Table = {
  Tanh: [{ inputs: [normal(2, 5)], f: ([x]) => op.tanh(x) }],
  Erf: [{ inputs: [normal(2, 5)], f: ([x]) => op.erf(x) }],
  Softplus: [{ inputs: [normal(2, 5)], f: ([x]) => op.softplus(x) }],
  Floor: [
    { inputs: [avoiding([-2, -1, 0, 1, 2], 0.05, -2.5, 2.5, 9)], f: ([x]) => op.mul(cube(x), op.floor(x)) },
  ],
  HardSigmoid: [
    { inputs: [avoiding([-2.5, 2.5], 0.05, -3.5, 3.5, 3, 6)], f: ([x]) => cube(op.hardSigmoid(x)) },
    { inputs: [avoiding([-3, 3], 0.05, -4, 4, 12)], f: ([x]) => cube(op.hardSigmoid(x, 1 / 6, 0.5)) },
  ],
  HardSwish: [{ inputs: [avoiding([-3, 3], 0.05, -4.5, 4.5, 3, 8)], f: ([x]) => op.hardSwish(x) }],
  LeakyRelu: [{ inputs: [away(2, 8)], f: ([x]) => cube(op.leakyRelu(x, 0.1)) }],
  PRelu: [
    // one slope per channel, as torch exports nn.PReLU(C)
    { inputs: [away(2, 3, 2, 2), normal(3, 1, 1)], f: ([x, s]) => cube(op.prelu(x, s)) },
    { inputs: [away(2, 6), normal(1)], f: ([x, s]) => cube(op.prelu(x, s)) },
  ],
  Elu: [{ inputs: [away(2, 6)], f: ([x]) => op.elu(x, 1.3) }],
  Selu: [{ inputs: [away(2, 6)], f: ([x]) => op.selu(x) }],
  Pow: [
    { inputs: [uniform(0.5, 2, 2, 3), normal(3)], f: ([a, b]) => op.pow(a, b) },
    // a constant integer exponent on any sign, as ConvNeXt's and ViT's x^2
    { inputs: [normal(7)], f: ([x]) => op.pow(x, 3) },
    { inputs: [uniform(0.5, 2, 5)], f: ([x]) => op.pow(2, x) },
  ],
  Min: [
    { inputs: [distinct(0.1, 2, 4), distinct(0.1, 4), distinct(0.1, 2, 1)], f: (xs) => cube(op.min(...xs)) },
    { inputs: [away(2, 5)], f: ([x]) => cube(op.min(x, 0)) },
  ],
  Max: [
    { inputs: [distinct(0.1, 3, 1), distinct(0.1, 1, 4)], f: ([a, b]) => cube(op.max(a, b)) },
    { inputs: [away(2, 5)], f: ([x]) => cube(op.max(x, -0.05)) },
  ],
  Mod: [
    { inputs: modOperands(8, false), f: ([a, b]) => cube(op.mod(a, b, true)) },
    { inputs: modOperands(8, true), f: ([a, b]) => cube(op.mod(a, b, true)) },
  ],
  GreaterOrEqual: [
    { inputs: [distinct(0.1, 8)], f: ([x]) => op.mul(cube(x), op.mask(op.greaterOrEqual(x, 0.03), x)) },
  ],
  LessOrEqual: [
    { inputs: [distinct(0.1, 8)], f: ([x]) => op.mul(cube(x), op.mask(op.lessOrEqual(x, 0.03), x)) },
  ],
  Or: [
    {
      inputs: [distinct(0.1, 8)],
      f: ([x]) => op.mul(cube(x), op.mask(op.or(op.less(x, -0.23), op.greater(x, 0.23)), x)),
    },
  ],
};

/** Builders composed of other ops (no op of their own): their rules come from the parts. */
export const composedCases = [
  { name: 'gelu', inputs: [normal(2, 5)], f: ([x]: Value[]) => op.gelu(x) },
  { name: 'gelu tanh', inputs: [normal(2, 5)], f: ([x]: Value[]) => op.gelu(x, 'tanh') },
  {
    name: 'mod (Python sign rule)',
    inputs: modOperands(8, true),
    f: ([a, b]: Value[]) => cube(op.mod(a, b)),
  },
  {
    name: 'split',
    inputs: [normal(2, 7)],
    f: ([x]: Value[]) => {
      const [a, b, c] = op.split(x, 1, [2, 4, 1]);
      return op.concat([cube(b), op.mul(a, constant(x, 2, 2)), c], 1);
    },
  },
];
