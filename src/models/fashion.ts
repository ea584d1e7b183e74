/**
 * FashionCNN: pss's embedded default model, a small VGG-style network trained on
 * Fashion-MNIST (28x28 grayscale, 10 classes). The PyTorch twin and the training script are
 * in scripts/train/ (fashion_cnn.py, train_fashion.py); the trained weights ship as
 * models/fashion-cnn.safetensors.
 */
import type { Value } from '../graph/graph.js';
import * as op from '../ops/index.js';
import type { Architecture } from './architecture.js';

/** Widths of the three stages: conv1/conv2, conv3/conv4, conv5 (WIDTHS in fashion_cnn.py). */
const WIDTHS = [16, 32, 128] as const;

/** Fashion-MNIST's class names, by label. */
export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
]);

export const fashionCnn: Architecture = {
  name: 'fashion-cnn',
  description: 'FashionCNN: a small CNN trained on Fashion-MNIST (28x28 grayscale, 10 classes)',
  defaultClasses: 10,
  inputShape: [1, 28, 28],
  classifier: 'fc',
  // pixel / 255, then the mean and std of the 60,000 training images (0.286041, 0.353024)
  preprocessing: { resize: 28, mean: [0.286], std: [0.353] },
  classNames: FASHION_MNIST_CLASSES,
  // src/models and dist/models are both two levels below the package root.
  bundled: {
    weights: new URL('../../models/fashion-cnn.safetensors', import.meta.url),
    stats: new URL('../../models/fashion-cnn.stats.safetensors', import.meta.url),
    examples: new URL('../../examples/fashion/manifest.json', import.meta.url),
  },
  define(net, numClasses) {
    const [a, b, c] = WIDTHS;
    const block = (i: number, cin: number, cout: number) => {
      const conv = net.conv2d(`conv${i}`, { in: cin, out: cout, kernel: 3, padding: 1 });
      const bn = net.batchNorm2d(`bn${i}`, cout);
      return (x: Value) => op.relu(bn(conv(x)));
    };
    const block1 = block(1, 1, a);
    const block2 = block(2, a, a);
    const block3 = block(3, a, b);
    const block4 = block(4, b, b);
    const block5 = block(5, b, c);
    const fc = net.linear('fc', c, numClasses);
    const pool = { kernel: [2, 2], strides: [2, 2] };
    return (x) => {
      let y = op.maxPool(block2(block1(x)), pool);
      y = op.maxPool(block4(block3(y)), pool);
      y = block5(y);
      // dropout before fc is the identity at inference
      return fc(op.flatten(op.globalAveragePool(y), 1));
    };
  },
};
