/**
 * Inception-v3 as torchvision builds it for its ImageNet weights: transform_input=True,
 * aux_logits=True. AuxLogits is declared where torchvision declares it (after Mixed_6e), so
 * its filters are part of the saliency vector; in eval mode it is not run and their
 * gradients are zero.
 */
import type { Value } from '../graph/graph.js';
import * as op from '../ops/index.js';
import { type Architecture, IMAGENET } from './architecture.js';
import { type Layer, type Net, type Pair, sequential } from './nn.js';

/** BasicConv2d: NAME.conv (no bias), NAME.bn (eps 0.001), ReLU. */
function basic(
  net: Net,
  name: string,
  inC: number,
  outC: number,
  kernel: Pair,
  stride = 1,
  padding: Pair = 0,
): Layer {
  const conv = net.conv2d(`${name}.conv`, { in: inC, out: outC, kernel, stride, padding });
  const bn = net.batchNorm2d(`${name}.bn`, outC, 0.001);
  return (x) => op.relu(bn(conv(x)));
}

const avgPool3: Layer = (x) => op.averagePool(x, { kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] });
const maxPool3s2: Layer = (x) => op.maxPool(x, { kernel: [3, 3], strides: [2, 2] });
/** Branches run on the same input, concatenated along channels in this order. */
const branches =
  (...bs: Layer[]): Layer =>
  (x) =>
    op.concat(
      bs.map((b) => b(x)),
      1,
    );

function inceptionA(net: Net, n: string, inC: number, poolFeatures: number): Layer {
  const b1 = basic(net, `${n}.branch1x1`, inC, 64, 1);
  const b5 = sequential(
    basic(net, `${n}.branch5x5_1`, inC, 48, 1),
    basic(net, `${n}.branch5x5_2`, 48, 64, 5, 1, 2),
  );
  const b3 = sequential(
    basic(net, `${n}.branch3x3dbl_1`, inC, 64, 1),
    basic(net, `${n}.branch3x3dbl_2`, 64, 96, 3, 1, 1),
    basic(net, `${n}.branch3x3dbl_3`, 96, 96, 3, 1, 1),
  );
  const bp = sequential(avgPool3, basic(net, `${n}.branch_pool`, inC, poolFeatures, 1));
  return branches(b1, b5, b3, bp);
}

function inceptionB(net: Net, n: string, inC: number): Layer {
  const b3 = basic(net, `${n}.branch3x3`, inC, 384, 3, 2);
  const b3dbl = sequential(
    basic(net, `${n}.branch3x3dbl_1`, inC, 64, 1),
    basic(net, `${n}.branch3x3dbl_2`, 64, 96, 3, 1, 1),
    basic(net, `${n}.branch3x3dbl_3`, 96, 96, 3, 2),
  );
  return branches(b3, b3dbl, maxPool3s2);
}

function inceptionC(net: Net, n: string, inC: number, c7: number): Layer {
  const b1 = basic(net, `${n}.branch1x1`, inC, 192, 1);
  const b7 = sequential(
    basic(net, `${n}.branch7x7_1`, inC, c7, 1),
    basic(net, `${n}.branch7x7_2`, c7, c7, [1, 7], 1, [0, 3]),
    basic(net, `${n}.branch7x7_3`, c7, 192, [7, 1], 1, [3, 0]),
  );
  const b7dbl = sequential(
    basic(net, `${n}.branch7x7dbl_1`, inC, c7, 1),
    basic(net, `${n}.branch7x7dbl_2`, c7, c7, [7, 1], 1, [3, 0]),
    basic(net, `${n}.branch7x7dbl_3`, c7, c7, [1, 7], 1, [0, 3]),
    basic(net, `${n}.branch7x7dbl_4`, c7, c7, [7, 1], 1, [3, 0]),
    basic(net, `${n}.branch7x7dbl_5`, c7, 192, [1, 7], 1, [0, 3]),
  );
  const bp = sequential(avgPool3, basic(net, `${n}.branch_pool`, inC, 192, 1));
  return branches(b1, b7, b7dbl, bp);
}

function inceptionD(net: Net, n: string, inC: number): Layer {
  const b3 = sequential(
    basic(net, `${n}.branch3x3_1`, inC, 192, 1),
    basic(net, `${n}.branch3x3_2`, 192, 320, 3, 2),
  );
  const b7x3 = sequential(
    basic(net, `${n}.branch7x7x3_1`, inC, 192, 1),
    basic(net, `${n}.branch7x7x3_2`, 192, 192, [1, 7], 1, [0, 3]),
    basic(net, `${n}.branch7x7x3_3`, 192, 192, [7, 1], 1, [3, 0]),
    basic(net, `${n}.branch7x7x3_4`, 192, 192, 3, 2),
  );
  return branches(b3, b7x3, maxPool3s2);
}

function inceptionE(net: Net, n: string, inC: number): Layer {
  const b1 = basic(net, `${n}.branch1x1`, inC, 320, 1);
  const b3 = sequential(
    basic(net, `${n}.branch3x3_1`, inC, 384, 1),
    branches(
      basic(net, `${n}.branch3x3_2a`, 384, 384, [1, 3], 1, [0, 1]),
      basic(net, `${n}.branch3x3_2b`, 384, 384, [3, 1], 1, [1, 0]),
    ),
  );
  const b3dbl = sequential(
    basic(net, `${n}.branch3x3dbl_1`, inC, 448, 1),
    basic(net, `${n}.branch3x3dbl_2`, 448, 384, 3, 1, 1),
    branches(
      basic(net, `${n}.branch3x3dbl_3a`, 384, 384, [1, 3], 1, [0, 1]),
      basic(net, `${n}.branch3x3dbl_3b`, 384, 384, [3, 1], 1, [1, 0]),
    ),
  );
  const bp = sequential(avgPool3, basic(net, `${n}.branch_pool`, inC, 192, 1));
  return branches(b1, b3, b3dbl, bp);
}

/** InceptionAux: declared for its parameters only (eval mode never runs it). */
function inceptionAux(net: Net, n: string, inC: number, numClasses: number): void {
  basic(net, `${n}.conv0`, inC, 128, 1);
  basic(net, `${n}.conv1`, 128, 768, 5);
  net.linear(`${n}.fc`, 768, numClasses);
}

/**
 * transform_input: the model takes ImageNet-normalised images and re-normalises them to
 * mean = std = 0.5, channel c: x * (std_c / 0.5) + (mean_c - 0.5) / 0.5.
 */
function transformInput(x: Value): Value {
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  const g = x.graph;
  const scale = g.constant(
    std.map((s) => s / 0.5),
    [1, 3, 1, 1],
  );
  const shift = g.constant(
    mean.map((m) => (m - 0.5) / 0.5),
    [1, 3, 1, 1],
  );
  return op.add(op.mul(x, scale), shift);
}

export const inception_v3: Architecture = {
  name: 'inception_v3',
  description: 'Inception-v3 (torchvision, ImageNet configuration: transform_input, aux_logits)',
  defaultClasses: 1000,
  inputShape: [3, 299, 299],
  classifier: 'fc',
  // Inception_V3_Weights' transform: resize 342, centre crop 299, ImageNet mean/std
  preprocessing: { ...IMAGENET, resize: 342 },
  define(net, numClasses) {
    const stem = sequential(
      basic(net, 'Conv2d_1a_3x3', 3, 32, 3, 2),
      basic(net, 'Conv2d_2a_3x3', 32, 32, 3),
      basic(net, 'Conv2d_2b_3x3', 32, 64, 3, 1, 1),
      maxPool3s2, // maxpool1
      basic(net, 'Conv2d_3b_1x1', 64, 80, 1),
      basic(net, 'Conv2d_4a_3x3', 80, 192, 3),
      maxPool3s2, // maxpool2
    );
    const mixed = [
      inceptionA(net, 'Mixed_5b', 192, 32),
      inceptionA(net, 'Mixed_5c', 256, 64),
      inceptionA(net, 'Mixed_5d', 288, 64),
      inceptionB(net, 'Mixed_6a', 288),
      inceptionC(net, 'Mixed_6b', 768, 128),
      inceptionC(net, 'Mixed_6c', 768, 160),
      inceptionC(net, 'Mixed_6d', 768, 160),
      inceptionC(net, 'Mixed_6e', 768, 192),
    ];
    inceptionAux(net, 'AuxLogits', 768, numClasses);
    mixed.push(
      inceptionD(net, 'Mixed_7a', 768),
      inceptionE(net, 'Mixed_7b', 1280),
      inceptionE(net, 'Mixed_7c', 2048),
    );
    const fc = net.linear('fc', 2048, numClasses);
    // avgpool (adaptive, 1x1), dropout (identity in eval), flatten, fc
    return (x) => fc(op.flatten(op.globalAveragePool(sequential(stem, ...mixed)(transformInput(x))), 1));
  },
};
