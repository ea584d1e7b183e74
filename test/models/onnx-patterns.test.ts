/**
 * ONNX classifiers as users write them: small custom PyTorch modules (scripts/reference/
 * onnx_patterns.py: norms and activations of every kind, attention, a tiny ViT, gating and an
 * einsum head, ECA attention with PixelShuffle and ConvTranspose, an NHWC input, a ResNet-D
 * shortcut (ceil-mode average pools) with GroupNorm and Mish, a ResNet-18
 * with its initializers listed as graph inputs at opsets 7 and 8) exported by torch.onnx
 * (PyTorch 1.13) and compared with PyTorch float64 as the torchvision families are
 * (scripts/reference/make_onnx_patterns.py, test/helpers/onnx-parity.ts): logits, loss and
 * conv-filter saliency, and for the attention and gated models explain's input gradient.
 */
import { onnxParitySuite } from '../helpers/onnx-parity.js';

/** The patterns (each has test/fixtures/onnx-patterns/P.safetensors and one skeleton per opset). */
const PATTERNS = [
  'norms_cnn',
  'attention',
  'vit_tiny',
  'gated',
  'eca',
  'nhwc_sigmoid',
  'resnet_d',
  'resnet18_legacy',
];

onnxParitySuite('onnx-patterns', PATTERNS);
