/**
 * Conv and ConvTranspose (NCHW, explicit pads as PyTorch does, never SAME) and their
 * backward rules. Both are bilinear and each other's transposes, so every rule is built
 * from Conv, ConvTranspose and data movement (the patch builders pooling reuses are in
 * builders.ts).
 */
import type { TypedData, Value } from '../graph/graph.js';
import type { ConvAttrs } from './attrs.js';
import {
  conv,
  convSize,
  convTranspose,
  extractPatches,
  matmul,
  reduceSum,
  reshape,
  slice,
  transpose,
  transposedSize,
} from './builders.js';
import { bilinear, type Cotangents, fail, type GradContext, type OpTable } from './types.js';

function checkCommon(x: Value, w: Value, b: Value | undefined, a: ConvAttrs, what: string): void {
  if (x.rank !== 4 || w.rank !== 4) fail(`${what} supports 2-D images only (NCHW input, 4-D weight)`);
  if (x.dtype !== w.dtype) fail('input and weight dtypes differ');
  for (const k of ['strides', 'dilations'] as const) {
    if (a[k].length !== 2 || a[k].some((v) => v < 1)) fail(`${k} must be two positive numbers`);
  }
  if (a.pads.length !== 4 || a.pads.some((v) => v < 0)) fail('pads must be four non-negative numbers');
  if (b && (b.rank !== 1 || b.dtype !== x.dtype)) fail('bias must be a vector of the input dtype');
}

/**
 * dL/dW of y = Conv(x, W) for cotangent dy, as [M, C/group, kh, kw] — or, per sample,
 * [N, M, C/group, kh, kw] without the sum over the batch. Three formulations, all built
 * from differentiable ops, picked by shape:
 *  - 1x1 kernels: one batched MatMul of dy and x flattened over space (per group);
 *  - small feature maps: im2col through a one-hot depthwise Conv, then a batched MatMul;
 *  - otherwise: Conv(x^T, dy^T) with stride and dilation swapped (the transposed-conv
 *    trick); per sample, the batch goes into the group dimension.
 */
export function convWeightGrad(
  x: Value,
  dy: Value,
  a: ConvAttrs,
  kernel: readonly number[],
  perSample = false,
): Value {
  const [n, c, h, w] = x.shape;
  const [, m, ho, wo] = dy.shape;
  const G = a.group;
  const [cg, mg] = [c / G, m / G];
  const [kh, kw] = kernel;
  const wshape = perSample ? [n, m, cg, kh, kw] : [m, cg, kh, kw];
  const finish = (v: Value) => reshape(perSample || n === 1 ? v : reduceSum(v, [0]), wshape);
  const form = weightGradForm(kernel, ho * wo, cg * kh * kw);

  if (form === 'matmul' || form === 'im2col') {
    // A strided or padded 1x1 conv reads x through the same exact one-hot patch conv.
    const direct = form === 'matmul' && a.strides.every((s) => s === 1) && a.pads.every((p) => p === 0);
    const cols = reshape(direct ? x : extractPatches(x, kernel, a), [n, G, cg * kh * kw, ho * wo]);
    const dym = reshape(dy, [n, G, mg, ho * wo]);
    return finish(matmul(dym, transpose(cols, [0, 1, 3, 2])));
  }
  const convTrick = (xt: Value, dyt: Value, groups: number) => {
    const full = conv(xt, dyt, undefined, {
      strides: a.dilations,
      dilations: a.strides,
      pads: a.pads,
      group: groups,
    });
    return transpose(slice(full, [0, 0], [kh, kw], [2, 3]), [1, 0, 2, 3]);
  };
  if (perSample) {
    const xt = reshape(transpose(reshape(x, [n, G, cg, h, w]), [2, 0, 1, 3, 4]), [cg, n * G, h, w]);
    return reshape(convTrick(xt, reshape(dy, [n * m, 1, ho, wo]), n * G), wshape);
  }
  const xt = reshape(transpose(reshape(x, [n, G, cg, h, w]), [2, 1, 0, 3, 4]), [cg, G * n, h, w]);
  return convTrick(xt, transpose(dy, [1, 0, 2, 3]), G);
}

export type WeightGradForm = 'matmul' | 'im2col' | 'conv';
let forcedForm: WeightGradForm | undefined;
/** For benchmarks and tests: force one formulation of the conv weight gradient (undefined: by shape). */
export function forceWeightGradForm(form: WeightGradForm | undefined): void {
  forcedForm = form;
}
function weightGradForm(kernel: readonly number[], outPixels: number, patchLen: number): WeightGradForm {
  if (forcedForm && !(forcedForm === 'matmul' && kernel.some((k) => k !== 1))) return forcedForm;
  if (kernel.every((k) => k === 1)) return 'matmul';
  // The transposed-conv trick runs many tiny GEMMs when the feature map is small; im2col
  // then wins, and its patch tensor stays small in that regime. The thresholds are not from
  // a kept benchmark: compare the forms with `bench/profile.ts --form im2col|conv`.
  return outPixels <= 28 * 28 || patchLen * outPixels <= 1 << 21 ? 'im2col' : 'conv';
}

/**
 * dL/dx of y = Conv(x, W). With stride 1 it is itself a Conv — W transposed per group and
 * flipped, "full" padding — which ONNX Runtime runs much faster than ConvTranspose (its
 * blocked-layout kernels; see adjointKernel for the weight transform). Otherwise ConvTranspose.
 */
export function convInputGrad(g: Value, w: Value, a: ConvAttrs, inputShape: readonly number[]): Value {
  const [kh, kw] = w.shape.slice(2);
  const full = [kh, kw].map((k, i) => a.dilations[i] * (k - 1));
  const pads = [full[0] - a.pads[0], full[1] - a.pads[1], full[0] - a.pads[2], full[1] - a.pads[3]];
  if (a.strides.some((s) => s !== 1) || pads.some((p) => p < 0))
    return convTranspose(g, w, undefined, { ...a, outputShape: inputShape });
  return conv(g, adjointKernel(w, a.group), undefined, { pads, dilations: a.dilations, group: a.group });
}

/**
 * The kernel that makes a stride-1 Conv the adjoint of Conv(., w): in each group, in and out
 * channels swapped and the taps reversed. For a constant w (the usual case: model weights)
 * it is computed here once, with the reverse map as its VJP; the map is its own inverse,
 * so the adjoint of the adjoint is w itself.
 */
function adjointKernel(w: Value, G: number): Value {
  if (!w.data) return adjointKernelOps(w, G);
  return w.graph.foldConstant(
    w,
    `adjoint${G}`,
    () => w.graph.constant(adjointKernelData(w.data!, w.shape, G), adjointShape(w.shape, G)),
    (g) => adjointKernelOps(g, G),
    { involution: true },
  );
}

function adjointShape([m, cg, kh, kw]: readonly number[], G: number): number[] {
  return [G * cg, m / G, kh, kw];
}

function adjointKernelOps(w: Value, G: number): Value {
  const [m, cg, kh, kw] = w.shape;
  const wt = reshape(
    transpose(reshape(w, [G, m / G, cg, kh, kw]), [0, 2, 1, 3, 4]),
    adjointShape(w.shape, G),
  );
  return flipSpatial(wt);
}

function adjointKernelData(src: TypedData, [m, cg, kh, kw]: readonly number[], G: number): TypedData {
  if (!(src instanceof Float32Array || src instanceof Float64Array))
    throw new Error('conv weights must be float32 or float64');
  const out = src instanceof Float32Array ? new Float32Array(src.length) : new Float64Array(src.length);
  const mg = m / G;
  for (let gi = 0; gi < G; gi++)
    for (let o = 0; o < mg; o++)
      for (let c = 0; c < cg; c++) {
        const from = ((gi * mg + o) * cg + c) * kh * kw;
        const to = ((gi * cg + c) * mg + o) * kh * kw;
        for (let t = 0; t < kh * kw; t++) out[to + kh * kw - 1 - t] = src[from + t];
      }
  return out;
}

/** Reverses the last two axes, as products with constant exchange matrices (differentiable). */
function flipSpatial(w: Value): Value {
  const exchange = (k: number) =>
    w.graph.cachedConstant(`exchange:${w.dtype}:${k}`, () => {
      const j = new Float32Array(k * k);
      for (let i = 0; i < k; i++) j[i * k + (k - 1 - i)] = 1;
      return w.graph.constant(w.dtype === 'float32' ? j : Float64Array.from(j), [k, k]);
    });
  const [kh, kw] = w.shape.slice(2);
  const rows = kh > 1 ? matmul(exchange(kh), w) : w;
  return kw > 1 ? matmul(rows, exchange(kw)) : rows;
}

/** The bias's cotangent, the third input's (none without a bias). */
const biasGrad = ({ x: [, , b], g, perSample }: GradContext<unknown>): Cotangents =>
  b ? [reduceSum(g, perSample[2] ? [2, 3] : [0, 2, 3])] : [];

export const convOps = {
  Conv: {
    infer: ([x, w, b], a) => {
      checkCommon(x, w, b, a, 'Conv');
      const [, c] = x.shape;
      const [m, cg, kh, kw] = w.shape;
      if (c % a.group || m % a.group || cg !== c / a.group)
        fail(`weight [${w.shape}] does not fit ${c} input channels in ${a.group} groups`);
      if (b && b.shape[0] !== m) fail(`bias has ${b.shape[0]} entries for ${m} output channels`);
      const out = [convSize(x.shape[2], kh, a, 0), convSize(x.shape[3], kw, a, 1)];
      if (out.some((d) => d < 1)) fail('the kernel does not fit the padded input');
      return { shape: [x.shape[0], m, ...out], dtype: x.dtype };
    },
    attrs: { strides: 'ints', pads: 'ints', dilations: 'ints', group: 'int' },
    grad: bilinear(
      (g, w, x, { attrs }) => convInputGrad(g, w, attrs, x.slice(2)),
      (g, x, w, { attrs, perSample }) => convWeightGrad(x, g, attrs, w.slice(2), perSample[1]),
      biasGrad,
    ),
  },
  ConvTranspose: {
    infer: ([x, w, b], a) => {
      checkCommon(x, w, b, a, 'ConvTranspose');
      const op = a.output_padding;
      const [, c] = x.shape;
      const [cw, mg, kh, kw] = w.shape;
      if (cw !== c || c % a.group)
        fail(`weight [${w.shape}] does not fit ${c} input channels in ${a.group} groups`);
      if (op.some((v, i) => v < 0 || v >= Math.max(a.strides[i], a.dilations[i])))
        fail(`output_padding [${op}] must be below the stride or dilation`);
      const out = [transposedSize(x.shape[2], kh, a, 0, op[0]), transposedSize(x.shape[3], kw, a, 1, op[1])];
      return { shape: [x.shape[0], mg * a.group, ...out], dtype: x.dtype };
    },
    attrs: { strides: 'ints', pads: 'ints', dilations: 'ints', group: 'int', output_padding: 'ints' },
    // ConvTranspose(x, W) is the adjoint of Conv(., W): <ConvT(x, W), g> = <x, Conv(g, W)>.
    grad: bilinear(
      (g, w, _, { attrs }) => conv(g, w, undefined, attrs),
      (g, x, w, { attrs, perSample }) => convWeightGrad(g, x, attrs, w.slice(2), perSample[1]),
      biasGrad,
    ),
  },
} satisfies Partial<OpTable>;
