/** Reading what the image commands share: the image (file or .npy) and the label. */
import { PssError } from '../errors.js';
import { displayFromTensor } from '../image/display.js';
import { loadInput } from '../image/input.js';
import { resolveLabel } from '../image/labels.js';
import type { RgbImage } from '../image/load.js';
import { readFileChecked } from '../io/files.js';
import { parseNpy } from '../io/npy.js';
import type { Model } from '../models/model.js';
import type { ImageBatch } from '../saliency/engine.js';
import { describeNonFinite } from '../util/vector.js';
import { requiredInt } from './parse.js';

/**
 * --image (decoded and preprocessed for the model) or --input (.npy, already preprocessed),
 * with the 8-bit image the model sees (for overlays; de-normalised from a .npy).
 */
export async function readImageArg(
  args: { image?: string; input?: string },
  model: Model,
): Promise<ImageBatch & { display: RgbImage }> {
  if ((args.image === undefined) === (args.input === undefined))
    throw new PssError(
      args.image === undefined
        ? 'no image: give an image file with --image photo.jpg, or a preprocessed tensor with --input x.npy'
        : '--image and --input are alternatives: give only one',
    );
  const expected = model.arch.inputShape;
  if (args.image !== undefined) {
    const x = await loadInput(args.image, model);
    return { data: x.data, shape: [1, x.shape[0], x.shape[1], x.shape[2]], display: x.display };
  }
  const npy = parseNpy(await readFileChecked(args.input!, 'input file'), `input ${args.input}`);
  const shape = npy.shape.length === 3 ? [1, ...npy.shape] : npy.shape;
  if (shape.some((d) => d === 0))
    throw new PssError(`input ${args.input} has an empty shape [${npy.shape.join(', ')}]`);
  if (shape.length !== 4 || shape[0] !== 1 || shape[1] !== expected[0])
    throw new PssError(
      `input ${args.input} has shape [${npy.shape.join(', ')}]; expected [${expected[0]}, H, W] or [1, ${expected[0]}, H, W]`,
    );
  const bad = describeNonFinite(npy.data, npy.shape);
  if (bad) throw new PssError(`input ${args.input} holds ${bad}; the input must be finite numbers`);
  const batch = { data: npy.data, shape: shape as [number, number, number, number] };
  return { ...batch, display: displayFromTensor(batch.data, batch.shape, model.arch.preprocessing) };
}

/** --label: an index, or a class name when the model's class names are known. */
export function labelArg(text: string, model: Model, names: readonly string[] | undefined): number {
  if (names) return resolveLabel(text, names);
  if (/^\s*[+-]?[\d.]*\s*$/.test(text)) return requiredInt(text, 'label');
  throw new PssError(
    `--label must be an integer >= 0, got "${text}" (class names are known for ImageNet and Fashion-MNIST models; ${model.name} has ${model.numClasses} classes)`,
  );
}
