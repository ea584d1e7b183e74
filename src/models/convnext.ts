/**
 * ConvNeXt-Tiny as torchvision builds it: a 4×4 patchify stem, blocks of depthwise 7×7 conv,
 * LayerNorm over channels, an MLP (Linear, GELU, Linear) on channels-last, a layer scale and a
 * residual; LayerNorm + 2×2 conv between stages. Stochastic depth is the identity in eval.
 * Its filters are the stem's, the depthwise convs' and the downsampling convs' (the MLPs hold
 * most parameters but are linear layers, not filters).
 */
import type { Value } from '../graph/graph.js';
import * as op from '../ops/index.js';
import { type Architecture, IMAGENET } from './architecture.js';
import { layerNorm } from './blocks.js';
import type { Layer, Net } from './nn.js';
import { presetPreprocessing } from './preprocessing-config.js';

const EPS = 1e-6;
/** Channels and blocks of each stage. */
export type ConvNextStages = readonly (readonly [number, number])[];
const TINY: ConvNextStages = [
  [96, 3],
  [192, 3],
  [384, 9],
  [768, 3],
] as const;

const toNHWC = (x: Value) => op.transpose(x, [0, 2, 3, 1]);
const toNCHW = (x: Value) => op.transpose(x, [0, 3, 1, 2]);

/** torchvision's LayerNorm2d: permute to channels-last, layer_norm over C, permute back. */
function layerNorm2d(net: Net, name: string, channels: number): Layer {
  const ln = layerNorm(net, name, channels, EPS);
  return (x) => toNCHW(ln(toNHWC(x)));
}

/** CNBlock NAME: layer_scale · block(x) + x, block = dw 7×7 (block.0), LN (block.2), Linear (block.3), GELU, Linear (block.5). */
function cnBlock(net: Net, name: string, dim: number): Layer {
  // The block's own parameter comes first in torchvision's state_dict.
  const scale = net.parameter(`${name}.layer_scale`, [dim, 1, 1], 'bn-weight');
  const dw = net.conv2d(`${name}.block.0`, {
    in: dim,
    out: dim,
    kernel: 7,
    padding: 3,
    groups: dim,
    bias: true,
  });
  const ln = layerNorm(net, `${name}.block.2`, dim, EPS);
  const fc1 = net.linear(`${name}.block.3`, dim, 4 * dim);
  const fc2 = net.linear(`${name}.block.5`, 4 * dim, dim);
  return (x) => op.add(op.mul(scale(), toNCHW(fc2(op.gelu(fc1(ln(toNHWC(dw(x)))))))), x);
}

/**
 * torchvision's ConvNeXt with these stages (its `block_setting`: channels and blocks of each
 * stage), e.g. the reduced ConvNeXt of the ONNX parity suite.
 */
export function convnextDefine(stages: ConvNextStages): Architecture['define'] {
  return (net, numClasses) => {
    const stemConv = net.conv2d('features.0.0', {
      in: 3,
      out: stages[0][0],
      kernel: 4,
      stride: 4,
      bias: true,
    });
    const stemNorm = layerNorm2d(net, 'features.0.1', stages[0][0]);
    const features: Layer[] = [(x) => stemNorm(stemConv(x))];
    stages.forEach(([dim, depth], s) => {
      const stage = `features.${features.length}`;
      const blocks = Array.from({ length: depth }, (_, i) => cnBlock(net, `${stage}.${i}`, dim));
      features.push((x) => blocks.reduce((v, f) => f(v), x));
      if (s + 1 < stages.length) {
        const at = `features.${features.length}`;
        const norm = layerNorm2d(net, `${at}.0`, dim);
        const conv = net.conv2d(`${at}.1`, {
          in: dim,
          out: stages[s + 1][0],
          kernel: 2,
          stride: 2,
          bias: true,
        });
        features.push((x) => conv(norm(x)));
      }
    });
    const last = stages[stages.length - 1][0];
    const norm = layerNorm(net, 'classifier.0', last, EPS);
    const fc = net.linear('classifier.2', last, numClasses);
    // classifier: LayerNorm2d on the pooled [N, C, 1, 1], Flatten, Linear — normalised after the
    // flatten (the same over C), so no 4-D value follows the pool and Grad-CAM takes the pool's input
    return (x) => fc(norm(op.flatten(op.globalAveragePool(features.reduce((v, f) => f(v), x)), 1)));
  };
}

export const convnext_tiny: Architecture = {
  name: 'convnext_tiny',
  description: 'ConvNeXt-Tiny (torchvision)',
  defaultClasses: 1000,
  inputShape: [3, 224, 224],
  classifier: 'classifier.2',
  preprocessing: presetPreprocessing('convnext_tiny') ?? IMAGENET,
  define: convnextDefine(TINY),
};
