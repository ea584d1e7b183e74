/** RegNetY-400MF as torchvision builds it: residual bottlenecks with grouped 3×3 convs and squeeze-excitation. */
import * as op from '../ops/index.js';
import { type Architecture, IMAGENET } from './architecture.js';
import { convBnAct, poolFlatten, relu, sigmoid, squeezeExcitation } from './blocks.js';
import type { Layer, Net } from './nn.js';
import { presetPreprocessing } from './preprocessing-config.js';

// BlockParams.from_init_params(depth=16, w_0=48, w_a=27.89, w_m=2.09, group_width=8, se_ratio=0.25):
// width, depth of each stage (stride 2, bottleneck multiplier 1)
const Y400MF = {
  stem: 32,
  groupWidth: 8,
  seRatio: 0.25,
  stages: [
    [48, 1],
    [104, 3],
    [208, 6],
    [440, 6],
  ],
} as const;

/** ResBottleneckBlock: [proj 1×1 + BN,] f.a 1×1, f.b grouped 3×3, f.se, f.c 1×1; ReLU after the sum. */
function block(net: Net, name: string, win: number, wout: number, stride: number): Layer {
  const proj =
    win !== wout || stride !== 1 ? convBnAct(net, `${name}.proj`, win, wout, 1, { stride }) : undefined;
  const a = convBnAct(net, `${name}.f.a`, win, wout, 1, { act: relu });
  const b = convBnAct(net, `${name}.f.b`, wout, wout, 3, {
    stride,
    groups: wout / Y400MF.groupWidth,
    act: relu,
  });
  const se = squeezeExcitation(net, `${name}.f.se`, wout, Math.round(Y400MF.seRatio * win), relu, sigmoid);
  const c = convBnAct(net, `${name}.f.c`, wout, wout, 1);
  return (x) => op.relu(op.add(proj ? proj(x) : x, c(se(b(a(x))))));
}

export const regnet_y_400mf: Architecture = {
  name: 'regnet_y_400mf',
  description: 'RegNetY-400MF (torchvision)',
  defaultClasses: 1000,
  inputShape: [3, 224, 224],
  classifier: 'fc',
  preprocessing: presetPreprocessing('regnet_y_400mf') ?? IMAGENET,
  define(net, numClasses) {
    const stem = convBnAct(net, 'stem', 3, Y400MF.stem, 3, { stride: 2, act: relu });
    const blocks: Layer[] = [];
    let width: number = Y400MF.stem;
    Y400MF.stages.forEach(([w, depth], s) => {
      for (let i = 0; i < depth; i++)
        blocks.push(
          block(
            net,
            `trunk_output.block${s + 1}.block${s + 1}-${i}`,
            i === 0 ? width : w,
            w,
            i === 0 ? 2 : 1,
          ),
        );
      width = w;
    });
    const fc = net.linear('fc', width, numClasses);
    return (x) => fc(poolFlatten(blocks.reduce((v, f) => f(v), stem(x))));
  },
};
