/** The built-in architectures by name: the one table the CLI, the web app and the API read. */

import { PssError } from '../errors.js';
import type { Architecture } from './architecture.js';
import { convnext_tiny } from './convnext.js';
import { densenet121, densenet161, densenet169, densenet201 } from './densenet.js';
import { efficientnet_b0 } from './efficientnet.js';
import { fashionCnn } from './fashion.js';
import { inception_v3 } from './inception.js';
import { mobilenet_v2 } from './mobilenet.js';
import { mobilenet_v3_large, mobilenet_v3_small } from './mobilenetv3.js';
import { regnet_y_400mf } from './regnet.js';
import { resnet18, resnet34, resnet50, resnet101, resnet152 } from './resnet.js';
import { swin_t } from './swin.js';
import { tinycnn } from './tinycnn.js';
import { vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn } from './vgg.js';
import { vit_b_16, vit_b_32 } from './vit.js';

export const ARCHITECTURES: Readonly<Record<string, Architecture>> = Object.freeze({
  resnet18,
  resnet34,
  resnet50,
  resnet101,
  resnet152,
  vgg11,
  vgg13,
  vgg16,
  vgg19,
  vgg11_bn,
  vgg13_bn,
  vgg16_bn,
  vgg19_bn,
  densenet121,
  densenet161,
  densenet169,
  densenet201,
  inception_v3,
  mobilenet_v2,
  mobilenet_v3_large,
  mobilenet_v3_small,
  efficientnet_b0,
  regnet_y_400mf,
  convnext_tiny,
  vit_b_16,
  vit_b_32,
  swin_t,
  tinycnn,
  'fashion-cnn': fashionCnn,
});

export function architecture(name: string): Architecture {
  const arch = Object.hasOwn(ARCHITECTURES, name) ? ARCHITECTURES[name] : undefined;
  if (!arch)
    throw new PssError(`unknown model "${name}"; built-in models: ${Object.keys(ARCHITECTURES).join(', ')}`);
  return arch;
}
