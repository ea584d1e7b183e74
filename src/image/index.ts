/** Image input: decoding (sharp), torchvision's eval transform, ImageNet class names. */
export { checkPixelBudget, MAX_PIXELS, resizedSize } from './budget.js';
export { classNamesFor, IMAGENET_CLASSES, resolveLabel } from './labels.js';
export { gifTransparentColour, type LoadImageOptions, loadImage, type RgbImage } from './load.js';
export { centerCrop, type PreprocessedImage, preprocess } from './preprocess.js';
export { resizeBilinear } from './resample.js';
