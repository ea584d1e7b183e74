/** EfficientNet-B0 as torchvision builds it: MBConv blocks with SiLU and squeeze-excitation; stochastic depth is the identity in eval. */
import * as op from '../ops/index.js';
import { type Architecture, IMAGENET } from './architecture.js';
import { convBnAct, makeDivisible, poolFlatten, sigmoid, silu, squeezeExcitation } from './blocks.js';
import type { Layer, Net } from './nn.js';
import { presetPreprocessing } from './preprocessing-config.js';

// expand ratio, kernel, stride, input, output, repeats (width and depth 1.0)
const B0 = [
  [1, 3, 1, 32, 16, 1],
  [6, 3, 2, 16, 24, 2],
  [6, 5, 2, 24, 40, 2],
  [6, 3, 2, 40, 80, 3],
  [6, 5, 1, 80, 112, 3],
  [6, 5, 2, 112, 192, 4],
  [6, 3, 1, 192, 320, 1],
] as const;

/** NAME.block.K: [expand 1×1,] depthwise, SE (squeeze input/4, SiLU, sigmoid), project 1×1. */
function mbconv(
  net: Net,
  name: string,
  t: number,
  k: number,
  stride: number,
  inp: number,
  out: number,
): Layer {
  const exp = makeDivisible(inp * t, 8);
  const layers: Layer[] = [];
  const at = () => `${name}.block.${layers.length}`;
  if (exp !== inp) layers.push(convBnAct(net, at(), inp, exp, 1, { act: silu }));
  layers.push(convBnAct(net, at(), exp, exp, k, { stride, groups: exp, act: silu }));
  layers.push(squeezeExcitation(net, at(), exp, Math.max(1, Math.trunc(inp / 4)), silu, sigmoid));
  layers.push(convBnAct(net, at(), exp, out, 1));
  const residual = stride === 1 && inp === out;
  return (x) => {
    const y = layers.reduce((v, f) => f(v), x);
    return residual ? op.add(y, x) : y;
  };
}

export const efficientnet_b0: Architecture = {
  name: 'efficientnet_b0',
  description:
    'EfficientNet-B0 (torchvision; its weights were evaluated with bicubic resizing, pss resizes bilinearly)',
  defaultClasses: 1000,
  inputShape: [3, 224, 224],
  classifier: 'classifier.1',
  preprocessing: presetPreprocessing('efficientnet_b0') ?? IMAGENET,
  define(net, numClasses) {
    const features: Layer[] = [convBnAct(net, 'features.0', 3, 32, 3, { stride: 2, act: silu })];
    for (const [t, k, s, inp, out, n] of B0) {
      const stage: Layer[] = [];
      const name = `features.${features.length}`;
      for (let i = 0; i < n; i++)
        stage.push(mbconv(net, `${name}.${i}`, t, k, i === 0 ? s : 1, i === 0 ? inp : out, out));
      features.push((x) => stage.reduce((v, f) => f(v), x));
    }
    features.push(convBnAct(net, `features.${features.length}`, 320, 1280, 1, { act: silu }));
    // classifier: Dropout (identity in eval), Linear
    const fc = net.linear('classifier.1', 1280, numClasses);
    return (x) => fc(poolFlatten(features.reduce((v, f) => f(v), x)));
  },
};
