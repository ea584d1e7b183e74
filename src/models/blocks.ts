/**
 * torchvision's building blocks of the modern CNNs (torchvision.ops.misc): Conv2dNormActivation
 * and SqueezeExcitation, with their parameter names, the activations they take, and the
 * transformers' LayerNorm.
 */
import type { Value } from '../graph/graph.js';
import * as op from '../ops/index.js';
import type { Layer, Net } from './nn.js';

export const relu: Layer = (x) => op.relu(x);
/** nn.SiLU: x·sigmoid(x). */
export const silu: Layer = (x) => op.mul(x, op.sigmoid(x));
/** nn.Hardswish: x·relu6(x + 3)/6. */
export const hardswish: Layer = (x) => op.hardSwish(x);
/** nn.Hardsigmoid: relu6(x + 3)/6. */
export const hardsigmoid: Layer = (x) => op.hardSigmoid(x, 1 / 6, 0.5);
export const sigmoid: Layer = (x) => op.sigmoid(x);

/** nn.LayerNorm(channels, eps) over the last axis: tokens, or channels-last pixels. */
export function layerNorm(net: Net, name: string, channels: number, eps: number): Layer {
  const w = net.parameter(`${name}.weight`, [channels], 'bn-weight');
  const b = net.parameter(`${name}.bias`, [channels], 'bn-bias');
  return (x) => op.layerNorm(x, w(), b(), -1, eps);
}

export interface ConvNormOptions {
  stride?: number;
  groups?: number;
  dilation?: number;
  /** undefined: none (a linear projection). */
  act?: Layer;
  /** BatchNorm's eps (MobileNetV3: 1e-3). */
  eps?: number;
}

/** Conv2dNormActivation: NAME.0 conv (no bias, padding (k-1)/2·dilation), NAME.1 BatchNorm, activation. */
export function convBnAct(
  net: Net,
  name: string,
  inC: number,
  outC: number,
  kernel: number,
  o: ConvNormOptions = {},
) {
  const dilation = o.dilation ?? 1;
  const conv = net.conv2d(`${name}.0`, {
    in: inC,
    out: outC,
    kernel,
    stride: o.stride ?? 1,
    padding: ((kernel - 1) / 2) * dilation,
    dilation,
    groups: o.groups ?? 1,
  });
  const bn = net.batchNorm2d(`${name}.1`, outC, o.eps ?? 1e-5);
  const act = o.act;
  return (x: Value) => {
    const y = bn(conv(x));
    return act ? act(y) : y;
  };
}

/** SqueezeExcitation: x · scale(fc2(act(fc1(avgpool(x))))), fc1 and fc2 1×1 convs with bias. */
export function squeezeExcitation(
  net: Net,
  name: string,
  channels: number,
  squeeze: number,
  act: Layer,
  scale: Layer,
): Layer {
  const fc1 = net.conv2d(`${name}.fc1`, { in: channels, out: squeeze, kernel: 1, bias: true });
  const fc2 = net.conv2d(`${name}.fc2`, { in: squeeze, out: channels, kernel: 1, bias: true });
  return (x) => op.mul(scale(fc2(act(fc1(op.globalAveragePool(x))))), x);
}

/** torchvision's _make_divisible: the nearest multiple of `divisor`, never 10% below v. */
export function makeDivisible(v: number, divisor: number, minValue = divisor): number {
  const n = Math.max(minValue, Math.trunc(v + divisor / 2) - (Math.trunc(v + divisor / 2) % divisor));
  return n < 0.9 * v ? n + divisor : n;
}

/** AdaptiveAvgPool2d(1), flatten, then the classifier head. */
export const poolFlatten: Layer = (x) => op.flatten(op.globalAveragePool(x), 1);
