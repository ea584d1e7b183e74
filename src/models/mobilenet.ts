/** MobileNetV2 (width 1.0) as torchvision builds it: inverted residuals, depthwise convs, ReLU6. */
import type { Value } from '../graph/graph.js';
import * as op from '../ops/index.js';
import { type Architecture, IMAGENET } from './architecture.js';
import type { Layer, Net } from './nn.js';

const relu6: Layer = (x) => op.clip(x, 0, 6);

/** torchvision's Conv2dNormActivation: NAME.0 conv (no bias, padding (k-1)/2), NAME.1 BN, ReLU6. */
function convBnRelu6(
  net: Net,
  name: string,
  inC: number,
  outC: number,
  kernel: number,
  stride = 1,
  groups = 1,
) {
  const conv = net.conv2d(`${name}.0`, {
    in: inC,
    out: outC,
    kernel,
    stride,
    padding: (kernel - 1) / 2,
    groups,
  });
  const bn = net.batchNorm2d(`${name}.1`, outC);
  return (x: Value) => relu6(bn(conv(x)));
}

/** features.N.conv: [pw expand (NAME.conv.0),] dw 3x3, pw-linear conv + BN; a residual when shapes allow. */
function invertedResidual(
  net: Net,
  name: string,
  inp: number,
  oup: number,
  stride: number,
  t: number,
): Layer {
  const hidden = Math.round(inp * t);
  const layers: Layer[] = [];
  let k = 0;
  if (t !== 1) layers.push(convBnRelu6(net, `${name}.conv.${k++}`, inp, hidden, 1));
  layers.push(convBnRelu6(net, `${name}.conv.${k++}`, hidden, hidden, 3, stride, hidden));
  const project = net.conv2d(`${name}.conv.${k++}`, { in: hidden, out: oup, kernel: 1 });
  const bn = net.batchNorm2d(`${name}.conv.${k}`, oup);
  layers.push((x) => bn(project(x)));
  const residual = stride === 1 && inp === oup;
  return (x) => {
    const y = layers.reduce((v, f) => f(v), x);
    return residual ? op.add(x, y) : y;
  };
}

// t (expansion), c (channels), n (repeats), s (stride of the first repeat)
const SETTING = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
] as const;

export const mobilenet_v2: Architecture = {
  name: 'mobilenet_v2',
  description: 'MobileNetV2 (torchvision)',
  defaultClasses: 1000,
  inputShape: [3, 224, 224],
  classifier: 'classifier.1',
  preprocessing: IMAGENET,
  define(net, numClasses) {
    const features: Layer[] = [convBnRelu6(net, 'features.0', 3, 32, 3, 2)];
    let channels = 32;
    for (const [t, c, n, s] of SETTING) {
      for (let i = 0; i < n; i++) {
        features.push(invertedResidual(net, `features.${features.length}`, channels, c, i === 0 ? s : 1, t));
        channels = c;
      }
    }
    features.push(convBnRelu6(net, `features.${features.length}`, channels, 1280, 1));
    // classifier: Dropout (identity in eval), Linear
    const classifier = net.linear('classifier.1', 1280, numClasses);
    return (x) => classifier(op.flatten(op.globalAveragePool(features.reduce((v, f) => f(v), x)), 1));
  },
};
