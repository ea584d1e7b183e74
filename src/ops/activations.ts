/**
 * Activations and pointwise maths, each ONNX's own operator (one kernel in ONNX Runtime),
 * with its backward rule. Piecewise rules multiply by masks from comparisons, which have
 * zero derivative, so each rule is linear in g and differentiates again. At a kink the
 * rules take PyTorch's side (noted per op).
 */
import type { Value } from '../graph/graph.js';
import {
  add,
  and,
  div,
  equal,
  exp,
  greater,
  greaterOrEqual,
  less,
  log,
  mask,
  mul,
  neg,
  paramCotangent,
  sigmoid,
  sub,
  unbroadcast,
  where,
} from './builders.js';
import { floor, hardSigmoid, pow } from './builders-nn.js';
import {
  broadcasting,
  broadcastShapes,
  broadcastsTo,
  type Cotangents,
  FLOATS,
  fail,
  type GradContext,
  type OpTable,
  pointwise,
  sameFloat,
  zeroGrad,
} from './types.js';

/** 1 where x > 0, else 0, in x's dtype. */
const positive = (x: Value) => mask(greater(x, 0), x);
const inside = (x: Value, lo: number, hi: number) => mask(and(greater(x, lo), less(x, hi)), x);

/** Min and Max: the cotangent goes to the inputs equal to the output, split equally at ties. */
function extremum({ x, y, g }: GradContext<unknown>): Cotangents {
  const hits = x.map((v) => mask(equal(v, y), y));
  const share = div(
    g,
    hits.reduce((s, h) => add(s, h)),
  );
  return x.map((v, i) => unbroadcast(mul(share, hits[i]), v.shape));
}

/** Rounds toward zero, through Floor (derivative zero). */
const trunc = (z: Value) => where(less(z, 0), neg(floor(neg(z))), floor(z));

export const activationOps = {
  Tanh: pointwise(({ y, g }) => [mul(g, sub(1, mul(y, y)))]),
  Erf: pointwise(({ x: [x], g }) => [mul(g, mul(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI)))]),
  Softplus: pointwise(({ x: [x], g }) => [mul(g, sigmoid(x))]),
  Floor: pointwise(zeroGrad),
  // alpha inside the ramp (0 < y < 1), 0 on the flats and, as PyTorch, at the corners.
  HardSigmoid: {
    ...pointwise<'HardSigmoid'>(({ y, g, attrs: { alpha } }) => [mul(g, mul(inside(y, 0, 1), alpha))]),
    attrs: { alpha: 'float', beta: 'float' },
  },
  // d/dx x h(x) = h(x) + x/6 on [-3, 3), h = hardSigmoid(., 1/6, 1/2): PyTorch's x/3 + 1/2
  // on [-3, 3) (so -1/2 at -3, 1 at 3), 0 below, 1 above.
  HardSwish: pointwise(({ x: [x], g }) => {
    const ramp = mask(and(greaterOrEqual(x, -3), less(x, 3)), x);
    return [mul(g, add(hardSigmoid(x, 1 / 6, 0.5), mul(x, mul(ramp, 1 / 6))))];
  }),
  // alpha at 0, as PyTorch.
  LeakyRelu: {
    ...pointwise<'LeakyRelu'>(({ x: [x], g, attrs: { alpha } }) => [
      mul(g, add(mul(positive(x), 1 - alpha), alpha)),
    ]),
    attrs: { alpha: 'float' },
  },
  // Slope at 0, as PyTorch; the slope's cotangent is g x where x <= 0.
  PRelu: {
    infer: ([x, slope]) => {
      const dtype = sameFloat([x, slope]);
      if (!broadcastsTo(slope.shape, x.shape))
        fail(`slope [${slope.shape}] does not broadcast to the input [${x.shape}]`);
      return { shape: x.shape, dtype };
    },
    grad: ({ x: [x, slope], g, perSample }) => {
      const pos = positive(x);
      const neg = sub(1, pos);
      return [
        mul(g, add(pos, mul(neg, slope))),
        paramCotangent(mul(g, mul(x, neg)), slope.shape, perSample[1]),
      ];
    },
  },
  // y + alpha = alpha e^x below 0; 1 at and above 0 (PyTorch: x > 0 ? 1 : alpha e^x, so its 0 is alpha).
  Elu: {
    ...pointwise<'Elu'>(({ x: [x], y, g, attrs: { alpha } }) => {
      const pos = positive(x);
      return [mul(g, add(pos, mul(sub(1, pos), add(y, alpha))))];
    }),
    attrs: { alpha: 'float' },
  },
  Selu: {
    ...pointwise<'Selu'>(({ x: [x], y, g, attrs: { alpha, gamma } }) => {
      const pos = positive(x);
      return [mul(g, add(mul(pos, gamma), mul(sub(1, pos), add(y, alpha * gamma))))];
    }),
    attrs: { alpha: 'float', gamma: 'float' },
  },
  // PyTorch's rules: b a^(b-1) (0 where b = 0), and a^b log a (0 where a = 0 and b >= 0).
  Pow: broadcasting(({ x: [a, b], y, g }) => [
    unbroadcast(mul(g, where(equal(b, 0), 0, mul(b, pow(a, sub(b, 1))))), a.shape),
    unbroadcast(mul(g, where(and(equal(a, 0), greaterOrEqual(b, 0)), 0, mul(y, log(a)))), b.shape),
  ]),
  Min: broadcasting(extremum),
  Max: broadcasting(extremum),
  Mod: {
    infer: ([a, b], { fmod }) => {
      if (a.dtype !== b.dtype) fail(`input dtypes differ: ${a.dtype}, ${b.dtype}`);
      if (a.dtype === 'bool') fail('expects numbers');
      if (FLOATS.includes(a.dtype) && fmod !== 1)
        fail('floats need fmod = 1 (mod() composes the other sign rule)');
      return { shape: broadcastShapes(a.shape, b.shape), dtype: a.dtype };
    },
    attrs: { fmod: 'int' },
    // fmod(a, b) = a - b trunc(a / b), trunc piecewise constant.
    grad: ({ x: [a, b], g }) =>
      FLOATS.includes(a.dtype)
        ? [unbroadcast(g, a.shape), unbroadcast(neg(mul(g, trunc(div(a, b)))), b.shape)]
        : [null, null],
  },
} satisfies Partial<OpTable>;
