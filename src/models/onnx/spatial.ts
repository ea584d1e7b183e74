/**
 * Spatial attributes and layouts for the conv and pool rules: ONNX pads with auto_pad resolved
 * (Conv and pools, and ConvTranspose's own rule), and N-d windows run as pss's 2-D ops — a 1-D
 * window on a unit axis, extra axes whose window does nothing (kernel 1, stride 1, no pads)
 * folded into the channels. pss's conv and pool ops are 2-D (NCHW) only.
 */
import type { Value } from '../../graph/graph.js';
import * as op from '../../ops/index.js';
import { ints, string } from './decode.js';
import type { ReplayContext } from './rule.js';
import { sizeOf } from './tensor.js';

const filled = (length: number, v: number) => new Array<number>(length).fill(v);

/** An attribute of one entry per spatial axis (strides, dilations...), `dflt` on every axis when absent. */
export const perAxis = (c: ReplayContext, name: string, axes: number, dflt: number): number[] =>
  ints(c.node, name, filled(axes, dflt))!;

/** Begin and end pads of each axis ([b0, b1.., e0, e1..]) that split `total` as auto_pad says. */
function splitPads(totals: readonly number[], extraAtEnd: boolean): number[] {
  const small = totals.map((t) => Math.floor(t / 2));
  return extraAtEnd
    ? [...small, ...totals.map((t, i) => t - small[i])]
    : [...totals.map((t, i) => t - small[i]), ...small];
}

/** Conv and pool pads, with auto_pad SAME_UPPER/SAME_LOWER/VALID resolved on the static input size. */
export function explicitPads(
  c: ReplayContext,
  spatial: readonly number[],
  kernel: readonly number[],
): number[] {
  const r = spatial.length;
  const autoPad = string(c.node, 'auto_pad', 'NOTSET');
  if (autoPad === 'NOTSET') return ints(c.node, 'pads', filled(2 * r, 0))!;
  if (autoPad === 'VALID') return filled(2 * r, 0);
  if (autoPad !== 'SAME_UPPER' && autoPad !== 'SAME_LOWER') c.fail(`unknown auto_pad ${autoPad}`);
  const strides = perAxis(c, 'strides', r, 1);
  const dilations = perAxis(c, 'dilations', r, 1);
  const totals = spatial.map((n, i) => {
    const out = Math.ceil(n / strides[i]);
    return Math.max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - n);
  });
  return splitPads(totals, autoPad === 'SAME_UPPER');
}

/**
 * ConvTranspose's pads: given (NOTSET), none (VALID), or from the output size — output_shape
 * when given, else input × stride for SAME_* — with the total split as the ONNX spec says
 * (SAME_UPPER: the odd one at the end; otherwise at the start).
 */
export function transposedPads(
  c: ReplayContext,
  spatial: readonly number[],
  kernel: readonly number[],
  a: { strides: readonly number[]; dilations: readonly number[]; outputPadding: readonly number[] },
): number[] {
  const r = spatial.length;
  const autoPad = string(c.node, 'auto_pad', 'NOTSET');
  if (!['NOTSET', 'VALID', 'SAME_UPPER', 'SAME_LOWER'].includes(autoPad))
    c.fail(`unknown auto_pad ${autoPad}`);
  // output_shape may list N and C too; its last entries are the spatial ones
  const given = ints(c.node, 'output_shape')?.slice(-r);
  if (!given && autoPad === 'VALID') return filled(2 * r, 0);
  if (!given && autoPad === 'NOTSET') return ints(c.node, 'pads', filled(2 * r, 0))!;
  const out = given ?? spatial.map((n, i) => n * a.strides[i]);
  const totals = spatial.map(
    (n, i) => a.strides[i] * (n - 1) + a.outputPadding[i] + (kernel[i] - 1) * a.dilations[i] + 1 - out[i],
  );
  if (totals.some((t) => t < 0))
    c.fail(`output_shape [${out}] is larger than the full transposed convolution of [${spatial}]`);
  return splitPads(totals, autoPad === 'SAME_UPPER');
}

/** A window over the spatial axes: its kernel, strides and [begins..., ends...] pads, one entry per axis. */
export interface Window {
  kernel: readonly number[];
  strides: readonly number[];
  pads: readonly number[];
}

/**
 * `f`, a 2-D pool, run on x [N, C, ...spatial] with 1, 3 or more spatial axes. The
 * axes the window does nothing on (kernel 1, stride 1, no pads) move next to the channels and
 * fold into them; the others (1 or 2; a unit axis added for 1) are the 2-D op's. Undefined when
 * more than 2 axes are windowed.
 */
export function asTwoD(x: Value, w: Window, f: (x: Value, w: Window) => Value): Value | undefined {
  const r = w.kernel.length;
  if (r === 2) return f(x, w);
  const axes = w.kernel.map((_, i) => i);
  const windowed = axes.filter((i) => w.kernel[i] !== 1 || w.strides[i] !== 1 || w.pads[i] || w.pads[i + r]);
  if (windowed.length > 2) return undefined;
  const folded = axes.filter((i) => !windowed.includes(i));
  const [n, c, ...spatial] = x.shape;
  const perm = [0, 1, ...folded.map((i) => i + 2), ...windowed.map((i) => i + 2)];
  const units = filled(2 - windowed.length, 1);
  const pick = (v: readonly number[], fill: number) => [
    ...units.map(() => fill),
    ...windowed.map((i) => v[i]),
  ];
  const inner = op.reshape(op.transpose(x, perm), [
    n,
    c * folded.reduce((p, i) => p * spatial[i], 1),
    ...pick(spatial, 1),
  ]);
  const y = f(inner, {
    kernel: pick(w.kernel, 1),
    strides: pick(w.strides, 1),
    pads: [...pick(w.pads, 0), ...pick(w.pads.slice(r), 0)],
  });
  const outer = op.reshape(y, [n, c, ...folded.map((i) => spatial[i]), ...y.shape.slice(2 + units.length)]);
  return op.transpose(outer, inverse(perm));
}

const inverse = (perm: readonly number[]) => perm.map((_, i) => perm.indexOf(i));

/**
 * Ceil mode as extra end padding: the pads that let the last partial window of each axis
 * count — unless it would start in the end padding, which PyTorch and ONNX Runtime drop.
 */
export function ceilPads(spatial: readonly number[], w: Window): number[] {
  const r = w.kernel.length;
  const pads = [...w.pads];
  w.kernel.forEach((k, i) => {
    const s = w.strides[i];
    const padded = spatial[i] + pads[i] + pads[i + r];
    let out = Math.ceil((padded - k) / s) + 1;
    if ((out - 1) * s >= spatial[i] + pads[i]) out--;
    pads[i + r] += Math.max(0, (out - 1) * s + k - padded);
  });
  return pads;
}

/**
 * What turns an average that counts only real entries into one that counts the file's pads
 * too (count_include_pad = 1) but not ceil mode's extension: per output position, real
 * entries / entries within the padded input — a product over the axes, [1, 1, ...out].
 */
export function includePadFactor(spatial: readonly number[], w: Window, extended: readonly number[]) {
  const r = w.kernel.length;
  const perAxisFactor = w.kernel.map((k, i) => {
    const out = Math.floor((spatial[i] + extended[i] + extended[i + r] - k) / w.strides[i]) + 1;
    return Array.from({ length: out }, (_, j) => {
      const start = j * w.strides[i] - w.pads[i];
      const real = Math.min(start + k, spatial[i]) - Math.max(start, 0);
      const counted = Math.min(start + k, spatial[i] + w.pads[i + r]) - start;
      return real / counted;
    });
  });
  const shape = perAxisFactor.map((f) => f.length);
  const data = new Float32Array(sizeOf(shape));
  data.forEach((_, flat) => {
    let rest = flat;
    let v = 1;
    for (let i = r - 1; i >= 0; i--) {
      v *= perAxisFactor[i][rest % shape[i]];
      rest = Math.floor(rest / shape[i]);
    }
    data[flat] = v;
  });
  return { data, shape: [1, 1, ...shape] };
}
