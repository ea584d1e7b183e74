/** One entry point for `--model` / `--weights`: a built-in architecture with weights, or an ONNX file. */
import { fileURLToPath } from 'node:url';
import { PssError } from '../errors.js';
import { readFileChecked } from '../io/files.js';
import type { DownloadProgress } from './download/resolve.js';
import { hasTorchvisionHubWeights } from './download/spec.js';
import { Model } from './model.js';
import { externalDataBeside } from './onnx/external.js';
import { onnxModel } from './onnx-import.js';
import { applyDescription } from './preprocessing-file.js';
import { TORCHVISION_WEIGHTS } from './torchvision-weights.js';
import type { UnitSet } from './units.js';
import { loadWeights } from './weights.js';
import { architecture } from './zoo.js';

/** The model pss uses when none is named: trained on Fashion-MNIST, shipped with its statistics. */
export const DEFAULT_MODEL = 'fashion-cnn';

export interface ModelSpec {
  /** A built-in architecture name, or a path to an .onnx file. */
  model: string;
  /** Weights for a built-in architecture (not used with ONNX files). */
  weights?: string;
  /**
   * How images become its input: a preprocessing description file (a preprocessor_config.json)
   * or a preset's name; an .onnx file's own preprocessor_config.json beside it is used otherwise.
   */
  preprocessing?: string;
  /** An ONNX file's graph input to feed and output to read (defaults: onnx/inspect.ts). */
  inputName?: string;
  outputName?: string;
  /** The units saliency covers (default: the architecture's, models/units.ts). */
  units?: UnitSet;
  /**
   * Only the structure is needed (pss inspect): a built-in without weights given gets the
   * deterministic placeholder weights instead of a refusal, and a note says so.
   */
  structureOnly?: boolean;
  /** Told how a download of the weights goes (the CLI draws its progress bar from it). */
  onProgress?: (progress: DownloadProgress) => void;
}

export async function loadModel(spec: ModelSpec): Promise<Model> {
  const model = await loadWeightsOf(spec);
  return spec.units ? model.withUnits(spec.units) : model;
}

async function loadWeightsOf(spec: ModelSpec): Promise<Model> {
  if (/\.onnx$/i.test(spec.model)) {
    if (spec.weights)
      throw new PssError('--weights applies to built-in models; an ONNX file carries its own weights');
    const bytes = await readFileChecked(spec.model, 'ONNX model');
    const externalData = externalDataBeside(spec.model);
    let model: Model;
    try {
      model = onnxModel(bytes, spec.model, {
        inputName: spec.inputName,
        outputName: spec.outputName,
        externalData,
      });
    } finally {
      externalData.close();
    }
    return applyDescription(model, spec.model, spec.preprocessing);
  }
  if (spec.inputName !== undefined || spec.outputName !== undefined)
    throw new PssError(
      "--input-name and --output-name choose among an ONNX file's inputs and outputs; a built-in model has one of each",
    );
  const arch = architecture(spec.model);
  const weights = spec.weights ?? (arch.bundled && fileURLToPath(arch.bundled.weights));
  if (!weights && spec.structureOnly) {
    const model = Model.deterministic(arch);
    model.warnings = [`no --weights: ${arch.name}'s structure, with placeholder weights`];
    return spec.preprocessing === undefined ? model : applyDescription(model, spec.model, spec.preprocessing);
  }
  if (!weights) {
    const tv = Object.hasOwn(TORCHVISION_WEIGHTS, arch.name) ? TORCHVISION_WEIGHTS[arch.name].url : undefined;
    throw new PssError(
      `--weights is required for ${arch.name}: a .safetensors or .pth file or an https URL${hasTorchvisionHubWeights(arch.name) ? `, or tv:${arch.name} for torchvision's ImageNet weights` : tv ? ` (torchvision's ImageNet weights: ${tv})` : ''}`,
    );
  }
  const model = await loadWeights(arch, weights, { onProgress: spec.onProgress });
  return spec.preprocessing === undefined ? model : applyDescription(model, spec.model, spec.preprocessing);
}
