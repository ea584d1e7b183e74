/** An image file as a model input: decode, then the architecture's torchvision transform. */
import type { Model } from '../models/model.js';
import { loadImage } from './load.js';
import { type PreprocessedImage, preprocess } from './preprocess.js';

export async function loadInput(path: string | Uint8Array, model: Model): Promise<PreprocessedImage> {
  const [, h, w] = model.arch.inputShape;
  const p = model.arch.preprocessing;
  // the resize is known: an image it would blow up is refused from its header
  return preprocess(await loadImage(path, { resize: p.resize }), p, [h, w]);
}
