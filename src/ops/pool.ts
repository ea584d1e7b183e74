/**
 * Pooling. Backward rules avoid MaxPool's Indices output (refused by ONNX Runtime's WebGPU
 * provider, and its scatter-add is slow on CPU): windows are read as patches through a
 * one-hot depthwise Conv and written back through its transpose.
 */
import type { Value, ValueType } from '../graph/graph.js';
import type { PoolAttrs } from './attrs.js';
import {
  type ConvOptions,
  cast,
  convTranspose,
  cumSum,
  equal,
  expand,
  extractPatches,
  foldPatches,
  mask,
  mul,
  reshape,
} from './builders.js';
import { fail, linear, type OpTable } from './types.js';

const asConv = (a: PoolAttrs): ConvOptions => ({ strides: a.strides, pads: a.pads });

function poolInfer(x: Value, a: PoolAttrs): ValueType {
  if (x.rank !== 4) fail('pooling supports NCHW inputs only');
  const out = [0, 1].map((i) => {
    const k = a.kernel_shape[i];
    if (a.pads[i] >= k || a.pads[i + 2] >= k) fail('pads must be smaller than the kernel');
    return Math.floor((x.shape[2 + i] + a.pads[i] + a.pads[i + 2] - k) / a.strides[i]) + 1;
  });
  if (out.some((d) => d < 1)) fail('the window does not fit the padded input');
  return { shape: [x.shape[0], x.shape[1], ...out], dtype: x.dtype };
}

/**
 * For each window position, 1 at the offsets that are real (not padding): [1, 1, kk, Ho, Wo].
 * Also the count of real entries per window, for count_include_pad = 0.
 */
function windowValidity(x: Value, a: PoolAttrs, outShape: readonly number[]) {
  const [kh, kw] = a.kernel_shape;
  const [ho, wo] = outShape;
  const [h, w] = x.shape.slice(2);
  const valid = new Float32Array(kh * kw * ho * wo);
  const counts = new Float32Array(ho * wo);
  for (let u = 0; u < kh; u++)
    for (let v = 0; v < kw; v++)
      for (let i = 0; i < ho; i++)
        for (let j = 0; j < wo; j++) {
          const r = i * a.strides[0] + u - a.pads[0];
          const c = j * a.strides[1] + v - a.pads[1];
          if (r >= 0 && r < h && c >= 0 && c < w) {
            valid[((u * kw + v) * ho + i) * wo + j] = 1;
            counts[i * wo + j] += 1;
          }
        }
  return { valid, counts };
}

const key = (a: PoolAttrs, x: Value) =>
  `${x.shape.slice(2)}:${a.kernel_shape}:${a.strides}:${a.pads}:${x.dtype}`;

export const poolOps = {
  MaxPool: {
    infer: ([x], a) => poolInfer(x, a),
    attrs: { kernel_shape: 'ints', strides: 'ints', pads: 'ints' },
    // Gradient to the first maximum of each window in row-major order (PyTorch's tie rule).
    // The mask is piecewise constant, so the rule is linear in g and differentiable again.
    grad: ({ x: [x], y, g, attrs: a }) => {
      const [n, c, ho, wo] = y.shape;
      const kk = a.kernel_shape[0] * a.kernel_shape[1];
      const validity = x.graph.cachedConstant(`valid:${key(a, x)}`, () =>
        x.graph.constant(windowValidity(x, a, [ho, wo]).valid, [1, 1, kk, ho, wo]),
      );
      const patches = reshape(extractPatches(x, a.kernel_shape, asConv(a)), [n, c, kk, ho, wo]);
      const isMax = mul(mask(equal(patches, reshape(y, [n, c, 1, ho, wo])), x), cast(validity, x.dtype));
      const first = mul(isMax, mask(equal(cumSum(isMax, 2, { exclusive: true }), 0), x));
      const routed = reshape(mul(first, reshape(g, [n, c, 1, ho, wo])), [n, c * kk, ho, wo]);
      return [foldPatches(routed, a.kernel_shape, asConv(a), x.shape.slice(2))];
    },
  },
  AveragePool: {
    infer: ([x], a) => poolInfer(x, a),
    attrs: { kernel_shape: 'ints', strides: 'ints', pads: 'ints', count_include_pad: 'int' },
    // A depthwise ConvTranspose with a constant kernel; without count_include_pad each
    // window divides by its own number of real entries.
    grad: ({ x: [x], y, g, attrs: a }) => {
      const [kh, kw] = a.kernel_shape;
      const c = x.shape[1];
      const includePad = a.count_include_pad !== 0;
      const scaled = includePad
        ? mul(g, 1 / (kh * kw))
        : mul(
            g,
            x.graph.cachedConstant(`invcount:${key(a, x)}`, () => {
              const { counts } = windowValidity(x, a, y.shape.slice(2));
              return x.graph.constant(
                counts.map((k) => 1 / k),
                [1, 1, ...y.shape.slice(2)],
              );
            }),
          );
      const ones = x.graph.cachedConstant(`ones:${c}:${kh}x${kw}`, () =>
        x.graph.constant(new Float32Array(c * kh * kw).fill(1), [c, 1, kh, kw]),
      );
      return [
        convTranspose(scaled, ones, undefined, { ...asConv(a), group: c, outputShape: x.shape.slice(2) }),
      ];
    },
  },
  // Gradient to the first maximum in row-major order, as MaxPool (and PyTorch's adaptive max pooling).
  GlobalMaxPool: {
    infer: ([x]) => {
      if (x.rank !== 4) fail('GlobalMaxPool supports NCHW inputs only');
      return { shape: [x.shape[0], x.shape[1], 1, 1], dtype: x.dtype };
    },
    grad: ({ x: [x], y, g }) => {
      const [n, c, h, w] = x.shape;
      const isMax = reshape(mask(equal(x, y), x), [n, c, h * w]);
      const first = mul(isMax, mask(equal(cumSum(isMax, 2, { exclusive: true }), 0), x));
      return [mul(reshape(first, x.shape), g)];
    },
  },
  GlobalAveragePool: {
    infer: ([x]) => {
      if (x.rank !== 4) fail('GlobalAveragePool supports NCHW inputs only');
      return { shape: [x.shape[0], x.shape[1], 1, 1], dtype: x.dtype };
    },
    grad: linear((g, [x]) => [expand(mul(g, 1 / (x[2] * x[3])), x)]),
  },
} satisfies Partial<OpTable>;
