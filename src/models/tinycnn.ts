/**
 * A small CNN that exercises every layer kind pss differentiates (stride-2, grouped,
 * dilated and depthwise convs, BN, max and average pooling with both padding modes, a
 * linear head). It is the parity model of the tests (scripts/reference/tinycnn.py).
 */
import * as op from '../ops/index.js';
import type { Architecture } from './architecture.js';

export const tinycnn: Architecture = {
  name: 'tinycnn',
  description: 'TinyCNN: the small parity-test network (29x29 RGB)',
  defaultClasses: 10,
  inputShape: [3, 29, 29],
  classifier: 'fc',
  preprocessing: { resize: 29, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  define(net, numClasses) {
    const conv1 = net.conv2d('conv1', { in: 3, out: 16, kernel: 3, padding: 1 });
    const bn1 = net.batchNorm2d('bn1', 16);
    const conv2 = net.conv2d('conv2', {
      in: 16,
      out: 32,
      kernel: 3,
      stride: 2,
      padding: 1,
      groups: 4,
      bias: true,
    });
    const bn2 = net.batchNorm2d('bn2', 32);
    const conv3 = net.conv2d('conv3', { in: 32, out: 32, kernel: 3, padding: 2, dilation: 2, groups: 32 });
    const conv4 = net.conv2d('conv4', { in: 32, out: 48, kernel: 1, bias: true });
    const bn4 = net.batchNorm2d('bn4', 48);
    const conv5 = net.conv2d('conv5', { in: 48, out: 64, kernel: 3, stride: 2, padding: 1 });
    const bn5 = net.batchNorm2d('bn5', 64);
    const fc = net.linear('fc', 64, numClasses);
    return (x) => {
      let y = op.relu(bn1(conv1(x)));
      y = op.maxPool(y, { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
      y = op.relu(bn2(conv2(y)));
      y = op.relu(conv3(y));
      y = op.relu(bn4(conv4(y)));
      y = op.averagePool(y, { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], countIncludePad: false });
      y = op.relu(bn5(conv5(y)));
      y = op.averagePool(y, { kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] });
      return fc(op.flatten(op.globalAveragePool(y), 1));
    };
  },
};
