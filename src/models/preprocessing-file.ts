/**
 * A model with the preprocessing of a description (preprocessing-config.ts): given by the
 * user (`--preprocessing FILE` or a preset's name), or the preprocessor_config.json found
 * beside an ONNX file, as Hugging Face ships them. What was used is a note of the model, so
 * that every output (the terminal's notes, report.html, the explorer) says it.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { PssError } from '../errors.js';
import { readTextChecked } from '../io/files.js';
import { Model } from './model.js';
import {
  choosePreprocessing,
  describedSize,
  fromInputShape,
  PRESETS,
  type PreprocessingChoice,
} from './preprocessing-config.js';

/** The file Hugging Face keeps beside a model. */
export const BESIDE = 'preprocessor_config.json';
const MAX_DESCRIPTION_BYTES = 1 << 20;

/**
 * `model` with `choice`'s preprocessing (its arch copied, its weights shared), the choice noted;
 * `inputShape`: the input size a description fixes for a model whose size is dynamic.
 */
export function withPreprocessing(
  model: Model,
  choice: PreprocessingChoice,
  from: string,
  inputShape?: readonly [number, number, number],
): Model {
  const notes = [...(model.info.notes ?? [])];
  if (inputShape)
    notes.push(
      `input size ${inputShape[1]}x${inputShape[2]}: the size ${from} fixes (the model's is dynamic)`,
    );
  notes.push(
    choice.assumed
      ? `preprocessing assumed from the input shape ${model.arch.inputShape.join('×')} (${choice.summary}); give a preprocessor_config.json if the model was trained otherwise`
      : `preprocessing from ${from}: ${choice.summary}`,
    ...choice.notes,
  );
  const out = new Model(
    { ...model.arch, preprocessing: choice.preprocessing, ...(inputShape ? { inputShape } : {}) },
    model.numClasses,
    model.weights,
    model.source,
    { ...model.info, notes },
    model.units,
  );
  out.warnings = model.warnings;
  return out;
}

/**
 * The input shape a model whose size is dynamic takes from `description` (the size its canvas
 * or crop fixes), when that differs from the default; undefined otherwise.
 */
export function dynamicShape(
  model: Model,
  description: string | undefined,
): readonly [number, number, number] | undefined {
  const [c, h, w] = model.arch.inputShape;
  const size = model.arch.dynamicSize ? describedSize(description) : undefined;
  const fits = size?.every((v) => Number.isInteger(v) && v >= 1 && v <= 4096);
  return size && fits && (size[0] !== h || size[1] !== w) ? [c, ...size] : undefined;
}

/**
 * The description to use for a model file: `given` (a file, or a preset's name), else the
 * preprocessor_config.json beside an .onnx file; undefined when there is neither.
 */
export async function findDescription(
  modelPath: string,
  given: string | undefined,
): Promise<{ text: string; from: string } | undefined> {
  if (given !== undefined) {
    if (given in PRESETS && !existsSync(given)) return { text: given, from: `the ${given} preset` };
    if (!existsSync(given))
      throw new PssError(
        `--preprocessing: ${given} not found (a preprocessor_config.json file, or a preset: ${Object.keys(PRESETS).join(', ')})`,
      );
    return {
      text: await readTextChecked(given, 'preprocessing description', MAX_DESCRIPTION_BYTES),
      from: given,
    };
  }
  if (!/\.onnx$/i.test(modelPath)) return undefined;
  const beside = join(dirname(modelPath), BESIDE);
  if (!existsSync(beside) || !statSync(beside).isFile()) return undefined;
  return {
    text: await readTextChecked(beside, 'preprocessing description', MAX_DESCRIPTION_BYTES),
    from: `${BESIDE} beside ${basename(modelPath)}`,
  };
}

/**
 * A loaded model with the description that applies to it (see findDescription). An .onnx file
 * without one keeps torchvision's ImageNet transform, unless that cannot fit it (not 3 channels,
 * or smaller than 224 pixels): then the preprocessing is worked out from its input shape, and
 * the notes say it was assumed.
 */
export async function applyDescription(
  model: Model,
  modelPath: string,
  given: string | undefined,
): Promise<Model> {
  const d = await findDescription(modelPath, given);
  if (!d) {
    const [c, h, w] = model.arch.inputShape;
    if (!/\.onnx$/i.test(modelPath) || (c === 3 && Math.max(h, w) >= 224)) return model;
    return withPreprocessing(model, fromInputShape(model.arch.inputShape, model.name), 'the input shape');
  }
  const shape = dynamicShape(model, d.text);
  const choice = choosePreprocessing(
    d.text,
    shape ?? model.arch.inputShape,
    model.name,
    `the preprocessing description (${d.from})`,
  );
  return withPreprocessing(model, choice, d.from, shape);
}
