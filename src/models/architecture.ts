/** What a built-in architecture is: data about it plus the function that declares its layers. */
import type { Value } from '../graph/graph.js';
import type { Net } from './nn.js';
import type { LinearUnits, UnitSet } from './units.js';

export interface Preprocessing {
  /** Resize the shorter side to this, then centre-crop to the input size (torchvision's eval transform). */
  resize: number;
  mean: readonly number[];
  std: readonly number[];
  /**
   * Resize into this box instead: exactly (`fit` "exact", the aspect ratio not kept: HF's size
   * {height, width}) or to the largest size inside it that keeps the aspect ratio ("contain":
   * HF's {longest_edge}, sides rounded half up; "contain-trunc": {max_height, max_width}, sides
   * truncated). `resize` is then unused.
   */
  box?: { height: number; width: number; fit: 'exact' | 'contain' | 'contain-trunc' };
  /** No resize at all (HF's do_resize false): the image is cropped or padded as it is. */
  noResize?: boolean;
  /** Pillow's filter code: 0 nearest, 1 lanczos, 2 bilinear (the default), 3 bicubic, 4 box, 5 hamming. */
  resample?: number;
  /** Centre-crop offsets as HF's center_crop takes them (floor; a smaller image is padded ceil before) instead of torchvision's. */
  hfCrop?: boolean;
  /** Pixel values are multiplied by this instead of divided by 255 (HF's rescale_factor; 1 for do_rescale false). */
  rescale?: number;
  /**
   * A side smaller than the input is padded instead of zero pixels: with this value of the
   * normalised tensor (one per channel), the image at the top left (HF's do_pad) or centred.
   */
  pad?: { value: readonly number[]; position: 'top-left' | 'center' };
}

export interface Architecture {
  readonly name: string;
  readonly description: string;
  readonly defaultClasses: number;
  /** [channels, height, width] of the default input. */
  readonly inputShape: readonly [number, number, number];
  /** The model takes other input sizes too (an ONNX file with dynamic height or width). */
  readonly dynamicSize?: boolean;
  /** The most images one run takes: 1 for an ONNX file whose shapes fix a batch of one; absent: any. */
  readonly maxBatch?: number;
  /** Name of the classifier layer; its weight's first dimension gives the number of classes. */
  readonly classifier: string;
  readonly preprocessing: Preprocessing;
  /** Weights (and validation statistics) shipped inside the package: used when none are given. */
  readonly bundled?: { weights: URL; stats?: URL; examples?: URL };
  /** Class names, when the architecture is tied to a dataset (1000-class models get ImageNet's). */
  readonly classNames?: readonly string[];
  /** The unit set saliency covers unless --units says otherwise; absent: 'filters'. */
  readonly defaultUnits?: UnitSet;
  /**
   * The linear weights whose outputs reach Net.linearOutput with the samples on axis 0, so their
   * neurons can be turned off per image, with their unit axis (an imported graph: a Gemm, or a
   * MatMul); absent: every linear, by rows.
   */
  readonly unitLinears?: ReadonlyMap<string, LinearUnits>;
  /**
   * Each unit weight's bias, where names do not tell (an imported graph: a Conv's or Gemm's C, a
   * MatMul's bias Add); absent: the parameter named after the weight (conv1.weight → conv1.bias).
   */
  readonly unitBiases?: ReadonlyMap<string, string>;
  /** Declares the layers on `net` in torchvision's order and returns the forward pass (logits). */
  define(net: Net, numClasses: number): (x: Value) => Value;
}

export const IMAGENET: Preprocessing = {
  resize: 256,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};
