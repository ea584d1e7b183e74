/**
 * Normalisers: BatchNormalization in inference mode (a per-channel affine map with running
 * statistics), LayerNormalization and InstanceNormalization (statistics of the input itself),
 * and LRN (across channels). All ONNX's own operators, one kernel each in ONNX Runtime.
 */
import type { Value } from '../graph/graph.js';
import {
  add,
  conv,
  div,
  mul,
  neg,
  paramCotangent,
  reduceMean,
  reduceSum,
  reshape,
  sqrt,
  sub,
} from './builders.js';
import { pow } from './builders-nn.js';
import { broadcastsTo, fail, type OpTable, sameFloat } from './types.js';

/** Reshapes a per-channel vector [C] to broadcast against x [N, C, ...]. */
const perChannel = (v: Value, x: Value) => reshape(v, [1, v.shape[0], ...x.shape.slice(2).map(() => 1)]);

/**
 * The backward pass of y = xhat * scale + bias, xhat = (x - mean) / sqrt(var + eps) over
 * `axes`, recomputing the statistics from x: dx = (gs - mean(gs) - xhat mean(gs xhat)) / std,
 * gs = g * scale. Every piece a builder, so it differentiates again.
 */
function normalizedGrad(x: Value, g: Value, scale: Value, axes: readonly number[], epsilon: number) {
  const centered = sub(x, reduceMean(x, axes, true));
  const invStd = div(1, sqrt(add(reduceMean(mul(centered, centered), axes, true), epsilon)));
  const xhat = mul(centered, invStd);
  const gs = mul(g, scale);
  const dx = mul(
    invStd,
    sub(sub(gs, reduceMean(gs, axes, true)), mul(xhat, reduceMean(mul(gs, xhat), axes, true))),
  );
  return { dx, xhat };
}

/** The sum of v over `size` neighbouring channels, [c - lo, c + hi], as a Conv with a ones kernel. */
function channelWindowSum(v: Value, size: number, lo: number, hi: number): Value {
  const [n, c] = v.shape;
  const flat = reshape(v, [n, 1, c, v.size / (n * c)]);
  const ones = v.graph.cachedConstant(`lrn-ones:${v.dtype}:${size}`, () =>
    v.graph.constant(new Array<number>(size).fill(1), [1, 1, size, 1], v.dtype),
  );
  return reshape(conv(flat, ones, undefined, { pads: [lo, 0, hi, 0] }), v.shape);
}

export const normOps = {
  BatchNormalization: {
    infer: ([x, ...stats]) => {
      if (x.rank < 2) fail('input must have a channel axis');
      const c = x.shape[1];
      if (stats.length !== 4 || stats.some((s) => s.rank !== 1 || s.shape[0] !== c))
        fail(`scale, bias, mean and variance must be vectors of ${c} channels`);
      return { shape: x.shape, dtype: x.dtype };
    },
    attrs: { epsilon: 'float' },
    // y = (x - mean) / sqrt(var + eps) * scale + bias, every piece a graph value so the
    // rule differentiates again (e.g. d/dscale of the input gradient).
    grad: ({ x: [x, scale, , mean, variance], g, attrs: { epsilon }, perSample }) => {
      const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
      if (perSample[3] || perSample[4]) fail('running statistics have no per-sample gradient');
      if (perSample[1] || perSample[2]) {
        // Sum over space only: one row per sample.
        const spatial = axes.slice(1);
        const xhat = mul(sub(x, perChannel(mean, x)), perChannel(div(1, sqrt(add(variance, epsilon))), x));
        return [
          mul(g, perChannel(div(scale, sqrt(add(variance, epsilon))), x)),
          perSample[1] ? reduceSum(mul(g, xhat), spatial) : null,
          perSample[2] ? reduceSum(g, spatial) : null,
          null,
          null,
        ];
      }
      const invStd = div(1, sqrt(add(variance, epsilon)));
      const centered = sub(x, perChannel(mean, x));
      const gSum = reduceSum(g, axes);
      const gCentered = reduceSum(mul(g, centered), axes);
      return [
        mul(g, perChannel(mul(scale, invStd), x)),
        mul(gCentered, invStd),
        gSum,
        neg(mul(gSum, mul(scale, invStd))),
        mul(gCentered, mul(scale, mul(-0.5, mul(invStd, mul(invStd, invStd))))),
      ];
    },
  },
  LayerNormalization: {
    infer: ([x, scale, bias], { axis }) => {
      const dtype = sameFloat(bias ? [x, scale, bias] : [x, scale]);
      if (axis < 0 || axis >= x.rank) fail(`axis ${axis} out of range for rank ${x.rank}`);
      const normalized = x.shape.slice(axis);
      for (const p of bias ? [scale, bias] : [scale])
        if (!broadcastsTo(p.shape, normalized))
          fail(`scale and bias must broadcast to the normalised axes [${normalized}]`);
      return { shape: x.shape, dtype };
    },
    attrs: { axis: 'int', epsilon: 'float' },
    grad: ({ x: [x, scale, bias], g, attrs: { axis, epsilon }, perSample }) => {
      const axes = x.shape.map((_, i) => i).filter((i) => i >= axis);
      const { dx, xhat } = normalizedGrad(x, g, scale, axes, epsilon);
      return [
        dx,
        paramCotangent(mul(g, xhat), scale.shape, perSample[1]),
        ...(bias ? [paramCotangent(g, bias.shape, perSample[2])] : []),
      ];
    },
  },
  InstanceNormalization: {
    infer: ([x, scale, bias]) => {
      const dtype = sameFloat([x, scale, bias]);
      if (x.rank < 3) fail('input must be [N, C, ...] with at least one spatial axis');
      if ([scale, bias].some((p) => p.rank !== 1 || p.shape[0] !== x.shape[1]))
        fail(`scale and bias must be vectors of ${x.shape[1]} channels`);
      return { shape: x.shape, dtype };
    },
    attrs: { epsilon: 'float' },
    grad: ({ x: [x, scale], g, attrs: { epsilon }, perSample }) => {
      const axes = x.shape.map((_, i) => i).filter((i) => i >= 2);
      const { dx, xhat } = normalizedGrad(x, g, perChannel(scale, x), axes, epsilon);
      const channels = (v: Value, ps: boolean) =>
        reshape(paramCotangent(v, perChannel(scale, x).shape.slice(1), ps), ps ? [x.shape[0], -1] : [-1]);
      return [dx, channels(mul(g, xhat), perSample[1]), channels(g, perSample[2])];
    },
  },
  // y = x s^-beta, s = bias + alpha/size * (window sum of x²) over channels [c - lo, c + hi];
  // the window sum's adjoint is the window sum over [c - hi, c + lo].
  LRN: {
    infer: ([x], { size }) => {
      const dtype = sameFloat([x]);
      if (x.rank !== 4) fail('LRN runs on NCHW inputs only (as ONNX Runtime)');
      if (!Number.isInteger(size) || size < 1 || size % 2 !== 1) fail('size must be a positive odd integer');
      return { shape: x.shape, dtype };
    },
    attrs: { size: 'int', alpha: 'float', beta: 'float', bias: 'float' },
    grad: ({ x: [x], g, attrs: { size, alpha, beta, bias } }) => {
      const [lo, hi] = [Math.floor((size - 1) / 2), Math.ceil((size - 1) / 2)];
      const s = add(mul(channelWindowSum(mul(x, x), size, lo, hi), alpha / size), bias);
      const p = pow(s, -beta);
      const back = channelWindowSum(div(mul(g, mul(x, p)), s), size, hi, lo);
      return [sub(mul(g, p), mul(x, mul(back, (2 * alpha * beta) / size)))];
    },
  },
} satisfies Partial<OpTable>;
