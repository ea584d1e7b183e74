/**
 * ONNX classifiers as users bring them: torchvision's classification families exported by
 * torch.onnx (PyTorch 1.13) at opsets 9, 13 and 17 with deterministic weights, against PyTorch
 * float64 (scripts/reference/make_onnx_families.py; the files are weightless skeletons that
 * test/helpers/onnx.ts rebuilds). Logits and conv-filter saliency within assertParity's
 * tolerance; for MobileNetV3, ConvNeXt and ViT also explain's second-order input gradient.
 * Sizes and the reduced transformer-era configurations: scripts/reference/onnx_families.py; the
 * test body: test/helpers/onnx-parity.ts.
 */
import { onnxParitySuite } from '../helpers/onnx-parity.js';

/** The families of the suite (each has test/fixtures/onnx/F.safetensors and one skeleton per opset). */
const FAMILIES = [
  'alexnet',
  'resnet18',
  'resnet50',
  'resnext50_32x4d',
  'wide_resnet50_2',
  'squeezenet1_1',
  'densenet121',
  'inception_v3',
  'googlenet',
  'shufflenet_v2_x0_5',
  'mobilenet_v2',
  'mobilenet_v3_small',
  'mnasnet0_5',
  'efficientnet_b0',
  'efficientnet_v2_s',
  'regnet_y_400mf',
  'convnext_tiny',
  'vit_b_16',
  'swin_t',
];

onnxParitySuite('onnx', FAMILIES);
