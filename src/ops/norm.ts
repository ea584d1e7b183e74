/** BatchNormalization in inference mode: a per-channel affine map with running statistics. */
import type { Value } from '../graph/graph.js';
import { add, div, mul, neg, reduceSum, reshape, sqrt, sub } from './builders.js';
import { fail, type OpTable } from './types.js';

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
      const perChannel = (v: Value) => reshape(v, [1, v.shape[0], ...x.shape.slice(2).map(() => 1)]);
      const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
      if (perSample[3] || perSample[4]) fail('running statistics have no per-sample gradient');
      if (perSample[1] || perSample[2]) {
        // Sum over space only: one row per sample.
        const spatial = axes.slice(1);
        const xhat = mul(sub(x, perChannel(mean)), perChannel(div(1, sqrt(add(variance, epsilon)))));
        return [
          mul(g, perChannel(div(scale, sqrt(add(variance, epsilon))))),
          perSample[1] ? reduceSum(mul(g, xhat), spatial) : null,
          perSample[2] ? reduceSum(g, spatial) : null,
          null,
          null,
        ];
      }
      const invStd = div(1, sqrt(add(variance, epsilon)));
      const centered = sub(x, perChannel(mean));
      const gSum = reduceSum(g, axes);
      const gCentered = reduceSum(mul(g, centered), axes);
      return [
        mul(g, perChannel(mul(scale, invStd))),
        mul(gCentered, invStd),
        gSum,
        neg(mul(gSum, mul(scale, invStd))),
        mul(gCentered, mul(scale, mul(-0.5, mul(invStd, mul(invStd, invStd))))),
      ];
    },
  },
} satisfies Partial<OpTable>;
