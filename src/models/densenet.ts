/** DenseNet-121/161/169/201 (DenseNet-BC) as torchvision builds them; no dropout (drop_rate 0). */
import type { Value } from '../graph/graph.js';
import * as op from '../ops/index.js';
import { type Architecture, IMAGENET } from './architecture.js';
import type { Layer, Net } from './nn.js';

const BN_SIZE = 4;

/** features.denseblockK.denselayerJ: BN-ReLU-conv1x1 on the concatenation of all earlier features, BN-ReLU-conv3x3. */
function denseLayer(net: Net, name: string, inFeatures: number, growth: number) {
  const width = BN_SIZE * growth;
  const norm1 = net.batchNorm2d(`${name}.norm1`, inFeatures);
  const conv1 = net.conv2d(`${name}.conv1`, { in: inFeatures, out: width, kernel: 1 });
  const norm2 = net.batchNorm2d(`${name}.norm2`, width);
  const conv2 = net.conv2d(`${name}.conv2`, { in: width, out: growth, kernel: 3, padding: 1 });
  return (features: readonly Value[]) => conv2(op.relu(norm2(conv1(op.relu(norm1(op.concat(features, 1)))))));
}

/** features.transitionK: BN-ReLU-conv1x1 halving the channels, 2x2 average pool. */
function transition(net: Net, name: string, inFeatures: number, outFeatures: number): Layer {
  const norm = net.batchNorm2d(`${name}.norm`, inFeatures);
  const conv = net.conv2d(`${name}.conv`, { in: inFeatures, out: outFeatures, kernel: 1 });
  return (x) => op.averagePool(conv(op.relu(norm(x))), { kernel: [2, 2], strides: [2, 2] });
}

function densenet(
  name: string,
  growth: number,
  blocks: readonly number[],
  initFeatures: number,
): Architecture {
  return {
    name,
    description: `DenseNet-${name.slice(8)} (torchvision)`,
    defaultClasses: 1000,
    inputShape: [3, 224, 224],
    classifier: 'classifier',
    preprocessing: IMAGENET,
    define(net, numClasses) {
      const conv0 = net.conv2d('features.conv0', {
        in: 3,
        out: initFeatures,
        kernel: 7,
        stride: 2,
        padding: 3,
      });
      const norm0 = net.batchNorm2d('features.norm0', initFeatures);
      const stages: Layer[] = [];
      let channels = initFeatures;
      blocks.forEach((count, k) => {
        const layers = Array.from({ length: count }, (_, j) =>
          denseLayer(net, `features.denseblock${k + 1}.denselayer${j + 1}`, channels + j * growth, growth),
        );
        stages.push((x) => {
          const features = [x];
          // A copy for each layer: a graph node keeps the array it was given.
          for (const layer of layers) features.push(layer([...features]));
          return op.concat(features, 1);
        });
        channels += count * growth;
        if (k < blocks.length - 1) {
          stages.push(transition(net, `features.transition${k + 1}`, channels, Math.floor(channels / 2)));
          channels = Math.floor(channels / 2);
        }
      });
      const norm5 = net.batchNorm2d('features.norm5', channels);
      const classifier = net.linear('classifier', channels, numClasses);
      return (x) => {
        let y = op.relu(norm0(conv0(x)));
        y = op.maxPool(y, { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
        for (const stage of stages) y = stage(y);
        return classifier(op.flatten(op.globalAveragePool(op.relu(norm5(y))), 1));
      };
    },
  };
}

export const densenet121 = densenet('densenet121', 32, [6, 12, 24, 16], 64);
export const densenet161 = densenet('densenet161', 48, [6, 12, 36, 24], 96);
export const densenet169 = densenet('densenet169', 32, [6, 12, 32, 32], 64);
export const densenet201 = densenet('densenet201', 32, [6, 12, 48, 32], 64);
