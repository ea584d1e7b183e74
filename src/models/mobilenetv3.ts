/** MobileNetV3 Large and Small (width 1.0) as torchvision builds them: hardswish, SE with hardsigmoid, BN eps 1e-3. */
import * as op from '../ops/index.js';
import { type Architecture, IMAGENET } from './architecture.js';
import {
  convBnAct,
  hardsigmoid,
  hardswish,
  makeDivisible,
  poolFlatten,
  relu,
  squeezeExcitation,
} from './blocks.js';
import type { Layer, Net } from './nn.js';
import { presetPreprocessing } from './preprocessing-config.js';

const EPS = 1e-3;

// input, kernel, expanded, output, SE, hardswish (else ReLU), stride — torchvision's bneck_conf rows
type Row = readonly [number, number, number, number, boolean, boolean, number];

const LARGE: readonly Row[] = [
  [16, 3, 16, 16, false, false, 1],
  [16, 3, 64, 24, false, false, 2],
  [24, 3, 72, 24, false, false, 1],
  [24, 5, 72, 40, true, false, 2],
  [40, 5, 120, 40, true, false, 1],
  [40, 5, 120, 40, true, false, 1],
  [40, 3, 240, 80, false, true, 2],
  [80, 3, 200, 80, false, true, 1],
  [80, 3, 184, 80, false, true, 1],
  [80, 3, 184, 80, false, true, 1],
  [80, 3, 480, 112, true, true, 1],
  [112, 3, 672, 112, true, true, 1],
  [112, 5, 672, 160, true, true, 2],
  [160, 5, 960, 160, true, true, 1],
  [160, 5, 960, 160, true, true, 1],
];

const SMALL: readonly Row[] = [
  [16, 3, 16, 16, true, false, 2],
  [16, 3, 72, 24, false, false, 2],
  [24, 3, 88, 24, false, false, 1],
  [24, 5, 96, 40, true, true, 2],
  [40, 5, 240, 40, true, true, 1],
  [40, 5, 240, 40, true, true, 1],
  [40, 5, 120, 48, true, true, 1],
  [48, 5, 144, 48, true, true, 1],
  [48, 5, 288, 96, true, true, 2],
  [96, 5, 576, 96, true, true, 1],
  [96, 5, 576, 96, true, true, 1],
];

/** features.N.block.K: [expand 1×1,] depthwise k×k, [SE,] project 1×1 (no activation); residual when shapes allow. */
function invertedResidual(net: Net, name: string, [inp, k, exp, out, se, hs, stride]: Row): Layer {
  const act = hs ? hardswish : relu;
  const layers: Layer[] = [];
  const at = () => `${name}.block.${layers.length}`;
  if (exp !== inp) layers.push(convBnAct(net, at(), inp, exp, 1, { act, eps: EPS }));
  layers.push(convBnAct(net, at(), exp, exp, k, { stride, groups: exp, act, eps: EPS }));
  if (se) layers.push(squeezeExcitation(net, at(), exp, makeDivisible(exp / 4, 8), relu, hardsigmoid));
  layers.push(convBnAct(net, at(), exp, out, 1, { eps: EPS }));
  const residual = stride === 1 && inp === out;
  return (x) => {
    const y = layers.reduce((v, f) => f(v), x);
    return residual ? op.add(y, x) : y;
  };
}

function mobilenetV3(name: string, rows: readonly Row[], lastChannel: number, preset: string): Architecture {
  return {
    name,
    description: `MobileNetV3-${name.endsWith('large') ? 'Large' : 'Small'} (torchvision)`,
    defaultClasses: 1000,
    inputShape: [3, 224, 224],
    classifier: 'classifier.3',
    preprocessing: presetPreprocessing(preset) ?? IMAGENET,
    define(net, numClasses) {
      const features: Layer[] = [
        convBnAct(net, 'features.0', 3, rows[0][0], 3, { stride: 2, act: hardswish, eps: EPS }),
      ];
      for (const row of rows) features.push(invertedResidual(net, `features.${features.length}`, row));
      const last = rows[rows.length - 1][3];
      features.push(
        convBnAct(net, `features.${features.length}`, last, 6 * last, 1, { act: hardswish, eps: EPS }),
      );
      // classifier: Linear, Hardswish, Dropout (identity in eval), Linear
      const fc0 = net.linear('classifier.0', 6 * last, lastChannel);
      const fc3 = net.linear('classifier.3', lastChannel, numClasses);
      return (x) => fc3(hardswish(fc0(poolFlatten(features.reduce((v, f) => f(v), x)))));
    },
  };
}

export const mobilenet_v3_large = mobilenetV3('mobilenet_v3_large', LARGE, 1280, 'mobilenet_v3_large');
export const mobilenet_v3_small = mobilenetV3('mobilenet_v3_small', SMALL, 1024, 'mobilenet_v3_small');
