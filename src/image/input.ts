/** An image file as a model input: decode, then the architecture's torchvision transform. */
import type { Model } from '../models/model.js';
import { loadImage } from './load.js';
import { type PreprocessedImage, preprocess } from './preprocess.js';

export async function loadInput(path: string | Uint8Array, model: Model): Promise<PreprocessedImage> {
  const [, h, w] = model.arch.inputShape;
  const p = model.arch.preprocessing;
  // a shorter-side resize is known: an image it would blow up is refused from its header (a
  // box resize cannot blow up)
  const resize = p.box || p.noResize ? undefined : p.resize;
  return preprocess(await loadImage(path, { resize }), p, [h, w]);
}
