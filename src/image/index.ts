/** Image input: decoding (sharp), torchvision's eval transform, ImageNet class names. */
export { classNamesFor, IMAGENET_CLASSES, resolveLabel } from './labels.js';
export { gifTransparentColour, type LoadImageOptions, loadImage, MAX_PIXELS, type RgbImage } from './load.js';
export { centerCrop, type PreprocessedImage, preprocess, resizedSize } from './preprocess.js';
export { resizeBilinear } from './resample.js';
