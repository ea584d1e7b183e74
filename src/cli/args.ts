/** Flag fragments shared by commands — each flag defined once. */
import type { ArgsDef } from 'citty';
import { ARCHITECTURES } from '../models/zoo.js';
import { DEVICES } from '../runtime/session.js';
import { AGGREGATIONS, DEFAULT_AGGREGATION } from '../saliency/aggregation.js';

export const modelArgs = {
  model: {
    type: 'string',
    description: `Built-in architecture: ${Object.keys(ARCHITECTURES).join(', ')}`,
    valueHint: 'name',
    required: true,
  },
  weights: {
    type: 'string',
    description:
      "Weights: a .safetensors file with torchvision parameter names, an http(s) URL, or a Hugging Face Hub reference hf:owner/repo[@revision][/file] (tv:resnet50 = hf:timm/resnet50.tv_in1k, torchvision's ImageNet weights). Downloads are cached in $PSS_CACHE_DIR (default ~/.cache/pss)",
    valueHint: 'file|url|hf:repo',
    required: true,
  },
} as const satisfies ArgsDef;

export const runtimeArgs = {
  device: {
    type: 'enum',
    options: [...DEVICES],
    default: 'cpu',
    description: "Where ONNX Runtime runs: 'cpu', or 'webgpu' (needs a GPU and the Vulkan loader on Linux)",
  },
  threads: {
    type: 'string',
    description: 'CPU threads for ONNX Runtime (default: all cores)',
    valueHint: 'n',
  },
} as const satisfies ArgsDef;

export const aggregationArg = {
  aggregation: {
    type: 'enum',
    options: Object.keys(AGGREGATIONS),
    default: DEFAULT_AGGREGATION,
    description: `How gradients become saliency: ${Object.entries(AGGREGATIONS)
      .map(([k, v]) => `${k} = ${v}`)
      .join('; ')}`,
  },
} as const satisfies ArgsDef;
