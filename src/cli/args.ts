/** Flag fragments shared by commands — each flag defined once. */
import type { ArgsDef } from 'citty';
import { PssError } from '../errors.js';
import { DEFAULT_MODEL, type ModelSpec } from '../models/load.js';
import type { Model } from '../models/model.js';
import { PRESETS } from '../models/preprocessing-config.js';
import { DEFAULT_UNIT_SET, UNIT_SETS, type UnitSet } from '../models/units.js';
import { ARCHITECTURES } from '../models/zoo.js';
import { DEVICES, type Device } from '../runtime/session.js';
import { AGGREGATIONS, DEFAULT_AGGREGATION } from '../saliency/aggregation.js';
import type { SaliencyOptions } from '../saliency/engine.js';
import { DEFAULT_POT_QUANTILE } from '../saliency/pot.js';
import { STANDARDIZATIONS, type Standardization } from '../saliency/standardize.js';
import { parseTarget, type Target } from '../saliency/target.js';
import { labelArg } from './inputs.js';
import { intFlag } from './parse.js';
import { downloadProgress } from './progress.js';

export const modelArgs = {
  model: {
    type: 'string',
    description: `A built-in architecture (${Object.keys(ARCHITECTURES).join(', ')}) or an ONNX classifier file (.onnx, opsets 7 to 21)`,
    valueHint: 'name|file.onnx',
    default: DEFAULT_MODEL,
  },
  weights: {
    type: 'string',
    description:
      "Weights: a .safetensors file with torchvision parameter names, an http(s) URL, or a Hugging Face Hub reference hf:owner/repo[@revision][/file] (tv:resnet50 = hf:timm/resnet50.tv_in1k, torchvision's ImageNet weights). Downloads are cached in $PSS_CACHE_DIR (default ~/.cache/pss)",
    valueHint: 'file|url|hf:repo',
  },
  preprocessing: {
    type: 'string',
    description: `How images become the model's input: a preprocessor_config.json (Hugging Face's fields: size, crop_size, resample, rescale_factor, image_mean, image_std, ...) or a preset (${Object.keys(PRESETS).join(', ')}). An .onnx file's preprocessor_config.json beside it is used when this is not given; the choice is reported in the notes`,
    valueHint: 'file|preset',
  },
  'input-name': {
    type: 'string',
    description:
      "An ONNX model's graph input to feed the image to (default: its first rank-4 input; the choice is reported in the notes)",
    valueHint: 'name',
  },
  'output-name': {
    type: 'string',
    description:
      "An ONNX model's graph output holding the class scores (default: its first output of rank 2; the choice is reported in the notes)",
    valueHint: 'name',
  },
  units: {
    type: 'enum',
    options: Object.keys(UNIT_SETS),
    description: `Which units the saliency vector covers: ${Object.entries(UNIT_SETS)
      .map(([k, v]) => `${k} = ${v}`)
      .join(
        '; ',
      )}. Default: the architecture's (${unitDefaults()}). Recorded in every output; statistics must cover the same units`,
  },
} as const satisfies ArgsDef;

/** The default unit set of each architecture, named for --help. */
function unitDefaults(): string {
  const others = Object.values(ARCHITECTURES).filter(
    (a) => a.defaultUnits && a.defaultUnits !== DEFAULT_UNIT_SET,
  );
  const named = others.map((a) => `${a.name}: ${a.defaultUnits}`);
  return [
    ...named,
    `${DEFAULT_UNIT_SET} for ${others.length ? 'every other model' : 'every built-in and ONNX model'}`,
  ].join('; ');
}

/** The model the --model / --weights flags name; a download of its weights draws the progress bar. */
export function modelSpec(args: {
  model: string;
  weights?: string;
  preprocessing?: string;
  'input-name'?: string;
  'output-name'?: string;
  units?: string;
}): ModelSpec {
  return {
    model: args.model,
    units: args.units as UnitSet | undefined,
    weights: args.weights,
    preprocessing: args.preprocessing,
    inputName: args['input-name'],
    outputName: args['output-name'],
    onProgress: downloadProgress(),
  };
}

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
  'low-memory': {
    type: 'boolean',
    default: false,
    description:
      'Feed the weights to ONNX Runtime on every run instead of letting it keep re-laid-out copies: ResNet-50 per-sample filter saliency peaks at 0.65 GB instead of 0.95 GB and runs about 10% slower (explain always does this on the CPU)',
  },
} as const satisfies ArgsDef;

/** The engine options the runtime flags ask for. */
export function engineOptions(args: {
  device?: string;
  threads?: string;
  'low-memory'?: boolean;
}): SaliencyOptions {
  return {
    device: args.device as Device,
    threads: intFlag(args.threads, 'threads', 1),
    ...(args['low-memory'] ? { weights: 'inputs' as const } : {}),
  };
}

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

export const imageArgs = {
  image: {
    type: 'string',
    description:
      "Image file (JPEG, PNG, WebP, GIF, TIFF), preprocessed as torchvision's eval transform does for the model (or --input)",
    valueHint: 'photo.jpg',
  },
  input: {
    type: 'string',
    description:
      'Preprocessed image: a .npy (float32, float64 or float16) of shape [C,H,W] or [1,C,H,W], already normalised (or --image)',
    valueHint: 'x.npy',
  },
  label: {
    type: 'string',
    description: 'True class of the image: an index, or a class name (ImageNet and Fashion-MNIST models)',
    valueHint: 'n|name',
    required: true,
  },
} as const satisfies ArgsDef;

export const rankArgs = {
  stats: {
    type: 'string',
    description: 'Validation statistics from pss stats (same model and aggregation): rank by z-score',
    valueHint: 'file',
  },
  rank: {
    type: 'enum',
    options: ['z', 'abs-z'],
    default: 'z',
    description: "Rank filters by z (most abnormally large first) or by |z| (the authors' pruning study)",
  },
  top: {
    type: 'string',
    default: '10',
    description: 'How many of the most salient filters to list',
    valueHint: 'k',
  },
} as const satisfies ArgsDef;

export const targetArg = {
  target: {
    type: 'string',
    default: 'true',
    description:
      "Whose loss the saliency differentiates: 'true' (the image's true label, also when the model is wrong, as in the paper), 'predicted' (the model's own prediction), or one class (an index or a name). Recorded in every output; statistics must have the same target",
    valueHint: 'true|predicted|class',
  },
} as const satisfies ArgsDef;

/** --target, checked against the model's classes. */
export function targetFlag(
  text: string | undefined,
  model: Model,
  names: readonly string[] | undefined,
): Target {
  return parseTarget(text ?? 'true', (t) => labelArg(t, model, names));
}

export const standardizeArgs = {
  standardize: {
    type: 'enum',
    options: [...STANDARDIZATIONS],
    default: 'z',
    description:
      "With --stats: 'z' = (s - mean) / std per filter; 'pot' = the extreme-value tail probability P of each filter's saliency (peaks over its --pot-quantile threshold, a generalised Pareto fit; Wang & Sato 2023), ranked smallest P first and shown as -log10 P. POT needs statistics with tails (pss stats keeps them)",
  },
  'pot-quantile': {
    type: 'string',
    default: String(DEFAULT_POT_QUANTILE),
    description: 'The threshold quantile q of --standardize pot (the paper uses 0.85 and 0.95)',
    valueHint: 'q',
  },
} as const satisfies ArgsDef;

/** --standardize and --pot-quantile, checked. */
export function standardizeFlags(args: { standardize?: string; 'pot-quantile'?: string }): {
  method: Standardization;
  q: number;
} {
  const q = Number(args['pot-quantile'] ?? DEFAULT_POT_QUANTILE);
  if (!(q > 0 && q < 1))
    throw new PssError(`--pot-quantile must be a number in (0, 1), got "${args['pot-quantile']}"`);
  return { method: (args.standardize ?? 'z') as Standardization, q };
}
