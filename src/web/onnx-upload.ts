/**
 * An uploaded ONNX classifier as the explorer's model: imported from the upload's file, with
 * the preprocessing the page chose (models/preprocessing-config.ts: from the input shape, a
 * preset, or a description), and checked at once — one forward pass on a blank input must
 * give one finite score per class — so that a model that cannot be explained is refused at
 * upload, with the reason, instead of failing at the first image.
 */
import { PssError } from '../errors.js';
import { readFileChecked } from '../io/files.js';
import { forwardRunner } from '../jobs/forward.js';
import type { Model } from '../models/model.js';
import { onnxModel } from '../models/onnx-import.js';
import { choosePreprocessing, type PreprocessingChoice } from '../models/preprocessing-config.js';
import { dynamicShape, withPreprocessing } from '../models/preprocessing-file.js';
import type { SaliencyEngine } from '../saliency/engine.js';
import type { Upload } from './uploads.js';

export type OnnxUpload = Upload;

/** The largest ONNX file read (the server's upload limit is normally lower). */
const MAX_ONNX_BYTES = 2 ** 31 - 1;

export async function importUploadedOnnx(
  upload: OnnxUpload,
  description: string | undefined,
  /** Where the description came from (an uploaded file's name), for the model's notes. */
  from?: string,
): Promise<{ model: Model; preprocessing: PreprocessingChoice }> {
  const bytes = await readFileChecked(upload.path, 'ONNX file', MAX_ONNX_BYTES);
  const imported = onnxModel(bytes, upload.name);
  const fixed = dynamicShape(imported, description);
  const preprocessing = choosePreprocessing(description, fixed ?? imported.arch.inputShape, upload.name);
  const source =
    from ??
    (/^[\w-]+$/.test(description?.trim() ?? '') ? `the ${description} preset` : 'the description given');
  const model = withPreprocessing(imported, preprocessing, source, fixed);
  return { model, preprocessing };
}

/** One forward pass on a blank input: one finite score per class, or the reason it is not. */
export async function checkForward(engine: SaliencyEngine, model: Model, source: string): Promise<void> {
  const [c, h, w] = model.arch.inputShape;
  let logits: ArrayLike<number>;
  try {
    logits = await forwardRunner(engine, 1).logits(new Float32Array(c * h * w));
  } catch (e) {
    if (e instanceof PssError) throw e;
    throw new PssError(
      `${source} does not run as imported: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`,
    );
  }
  if (logits.length !== model.numClasses)
    throw new PssError(
      `${source} gives ${logits.length} scores for one image, not its ${model.numClasses} classes`,
    );
  for (let i = 0; i < logits.length; i++)
    if (!Number.isFinite(logits[i]))
      throw new PssError(`${source} gives a non-finite score (class ${i}) for a blank image`);
}
