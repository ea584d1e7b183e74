/** ResNet-18/34/50/101/152 as torchvision builds them (v1.5: stride on the 3x3 conv). */
import type { Value } from '../graph/graph.js';
import * as op from '../ops/index.js';
import { type Architecture, IMAGENET } from './architecture.js';
import type { Layer, Net } from './nn.js';

type Block = 'basic' | 'bottleneck';

function basicBlock(net: Net, name: string, inplanes: number, planes: number, stride: number): Layer {
  const conv1 = net.conv2d(`${name}.conv1`, { in: inplanes, out: planes, kernel: 3, stride, padding: 1 });
  const bn1 = net.batchNorm2d(`${name}.bn1`, planes);
  const conv2 = net.conv2d(`${name}.conv2`, { in: planes, out: planes, kernel: 3, padding: 1 });
  const bn2 = net.batchNorm2d(`${name}.bn2`, planes);
  const down = downsample(net, name, inplanes, planes, stride);
  return (x) => op.relu(op.add(bn2(conv2(op.relu(bn1(conv1(x))))), down ? down(x) : x));
}

function bottleneck(net: Net, name: string, inplanes: number, planes: number, stride: number): Layer {
  const out = planes * 4;
  const conv1 = net.conv2d(`${name}.conv1`, { in: inplanes, out: planes, kernel: 1 });
  const bn1 = net.batchNorm2d(`${name}.bn1`, planes);
  const conv2 = net.conv2d(`${name}.conv2`, { in: planes, out: planes, kernel: 3, stride, padding: 1 });
  const bn2 = net.batchNorm2d(`${name}.bn2`, planes);
  const conv3 = net.conv2d(`${name}.conv3`, { in: planes, out, kernel: 1 });
  const bn3 = net.batchNorm2d(`${name}.bn3`, out);
  const down = downsample(net, name, inplanes, out, stride);
  return (x) => {
    const y = bn3(conv3(op.relu(bn2(conv2(op.relu(bn1(conv1(x))))))));
    return op.relu(op.add(y, down ? down(x) : x));
  };
}

function downsample(
  net: Net,
  name: string,
  inplanes: number,
  out: number,
  stride: number,
): Layer | undefined {
  if (stride === 1 && inplanes === out) return undefined;
  const conv = net.conv2d(`${name}.downsample.0`, { in: inplanes, out, kernel: 1, stride });
  const bn = net.batchNorm2d(`${name}.downsample.1`, out);
  return (x) => bn(conv(x));
}

function resnet(name: string, block: Block, counts: readonly number[]): Architecture {
  const expansion = block === 'basic' ? 1 : 4;
  return {
    name,
    description: `ResNet-${name.slice(6)} (torchvision)`,
    defaultClasses: 1000,
    inputShape: [3, 224, 224],
    classifier: 'fc',
    preprocessing: IMAGENET,
    define(net, numClasses) {
      const conv1 = net.conv2d('conv1', { in: 3, out: 64, kernel: 7, stride: 2, padding: 3 });
      const bn1 = net.batchNorm2d('bn1', 64);
      const stages: Layer[] = [];
      let inplanes = 64;
      counts.forEach((count, s) => {
        const planes = 64 * 2 ** s;
        for (let i = 0; i < count; i++) {
          const stride = s > 0 && i === 0 ? 2 : 1;
          const make = block === 'basic' ? basicBlock : bottleneck;
          stages.push(make(net, `layer${s + 1}.${i}`, inplanes, planes, stride));
          inplanes = planes * expansion;
        }
      });
      const fc = net.linear('fc', 512 * expansion, numClasses);
      return (x: Value) => {
        let y = op.maxPool(op.relu(bn1(conv1(x))), { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
        for (const stage of stages) y = stage(y);
        return fc(op.flatten(op.globalAveragePool(y), 1));
      };
    },
  };
}

export const resnet18 = resnet('resnet18', 'basic', [2, 2, 2, 2]);
export const resnet34 = resnet('resnet34', 'basic', [3, 4, 6, 3]);
export const resnet50 = resnet('resnet50', 'bottleneck', [3, 4, 6, 3]);
export const resnet101 = resnet('resnet101', 'bottleneck', [3, 4, 23, 3]);
export const resnet152 = resnet('resnet152', 'bottleneck', [3, 8, 36, 3]);
