/** VGG-11/13/16/19, with and without BatchNorm, as torchvision builds them. */

import { PssError } from '../errors.js';
import type { Value } from '../graph/graph.js';
import * as op from '../ops/index.js';
import { type Architecture, IMAGENET } from './architecture.js';
import type { Layer } from './nn.js';

type Cfg = readonly (number | 'M')[];

// torchvision's cfgs: a number is a 3x3 conv (padding 1) with that many filters, 'M' a 2x2 max pool.
const CFGS = {
  A: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  B: [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  D: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
  E: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M'],
} as const satisfies Record<string, Cfg>;

/**
 * torchvision's AdaptiveAvgPool2d((7, 7)) where it is an ordinary pooling: the identity on a
 * 7x7 map, a kernel = stride = size/7 average pool when 7 divides the size.
 */
function adaptiveAvgPool7(x: Value, input: readonly number[]): Value {
  const [h, w] = x.shape.slice(2);
  if (h === 7 && w === 7) return x;
  if (h % 7 !== 0 || w % 7 !== 0)
    throw new PssError(
      `VGG: a ${input[2]}x${input[3]} input gives a ${h}x${w} feature map, which AdaptiveAvgPool2d((7, 7)) ` +
        'does not pool evenly; pss supports input sizes whose feature map is a multiple of 7 (224x224, 448x448, ...)',
    );
  return op.averagePool(x, { kernel: [h / 7, w / 7], strides: [h / 7, w / 7] });
}

function vgg(name: string, cfg: Cfg, batchNorm: boolean): Architecture {
  const depth = name.match(/\d+/)![0];
  return {
    name,
    description: `VGG-${depth}${batchNorm ? ' with BatchNorm' : ''} (torchvision)`,
    defaultClasses: 1000,
    inputShape: [3, 224, 224],
    classifier: 'classifier.6',
    preprocessing: IMAGENET,
    define(net, numClasses) {
      // features.N: the index in torchvision's nn.Sequential (conv, [BN,] ReLU, ..., MaxPool).
      const features: Layer[] = [];
      let i = 0;
      let channels = 3;
      for (const v of cfg) {
        if (v === 'M') {
          features.push((x) => op.maxPool(x, { kernel: [2, 2], strides: [2, 2] }));
          i += 1;
          continue;
        }
        const conv = net.conv2d(`features.${i}`, { in: channels, out: v, kernel: 3, padding: 1, bias: true });
        const bn = batchNorm ? net.batchNorm2d(`features.${i + 1}`, v) : undefined;
        features.push((x) => op.relu(bn ? bn(conv(x)) : conv(x)));
        i += batchNorm ? 3 : 2;
        channels = v;
      }
      // classifier: Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear (dropout: identity in eval).
      const fc0 = net.linear('classifier.0', 512 * 7 * 7, 4096);
      const fc3 = net.linear('classifier.3', 4096, 4096);
      const fc6 = net.linear('classifier.6', 4096, numClasses);
      return (x) => {
        const y = features.reduce((v, f) => f(v), x);
        return fc6(op.relu(fc3(op.relu(fc0(op.flatten(adaptiveAvgPool7(y, x.shape), 1))))));
      };
    },
  };
}

export const vgg11 = vgg('vgg11', CFGS.A, false);
export const vgg13 = vgg('vgg13', CFGS.B, false);
export const vgg16 = vgg('vgg16', CFGS.D, false);
export const vgg19 = vgg('vgg19', CFGS.E, false);
export const vgg11_bn = vgg('vgg11_bn', CFGS.A, true);
export const vgg13_bn = vgg('vgg13_bn', CFGS.B, true);
export const vgg16_bn = vgg('vgg16_bn', CFGS.D, true);
export const vgg19_bn = vgg('vgg19_bn', CFGS.E, true);
