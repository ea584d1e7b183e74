/**
 * Every op pss can build, emit and differentiate, and the type of its attributes. The op
 * table (registry.ts) is typed from this interface exhaustively, and `emit` checks each
 * node's attributes against it, so a misspelt op or attribute fails to compile.
 *
 * Attributes are static: ints (0/1 for flags) and int lists as ONNX takes them; the ONNX
 * writer tells ints from floats by each op's attribute kinds.
 */

/** An op without attributes. */
export type NoAttrs = Record<string, never>;
type Flag = 0 | 1;

export type ConvAttrs = {
  strides: readonly number[];
  /** [top, left, bottom, right] */
  pads: readonly number[];
  dilations: readonly number[];
  group: number;
};
export type PoolAttrs = {
  kernel_shape: readonly number[];
  strides: readonly number[];
  /** [top, left, bottom, right] */
  pads: readonly number[];
};
/** Scatter's reductions that pss differentiates; ONNX's mul, max and min are not among them. */
export type ScatterReduction = 'none' | 'add';
export type ResizeMode = 'nearest' | 'linear';
export type CoordinateTransformationMode =
  | 'half_pixel'
  | 'pytorch_half_pixel'
  | 'align_corners'
  | 'asymmetric'
  | 'tf_half_pixel_for_nn';
export type NearestMode = 'round_prefer_floor' | 'round_prefer_ceil' | 'floor' | 'ceil';
export type ResizeAttrs = {
  mode: ResizeMode;
  coordinate_transformation_mode: CoordinateTransformationMode;
  nearest_mode: NearestMode;
  /** Never set: ONNX's region of interest serves tf_crop_and_resize only. */
  roi?: readonly number[];
  /** One per axis; exactly one of scales and sizes is set, as ONNX takes them. */
  scales?: readonly number[];
  sizes?: readonly number[];
};
type Reduction = { axes: readonly number[]; keepdims: Flag };
type AlongAxis = { axis: number };

export interface OpAttrs {
  // elementwise
  Add: NoAttrs;
  Sub: NoAttrs;
  Mul: NoAttrs;
  Div: NoAttrs;
  Neg: NoAttrs;
  Abs: NoAttrs;
  Sqrt: NoAttrs;
  Exp: NoAttrs;
  Log: NoAttrs;
  Sigmoid: NoAttrs;
  Relu: NoAttrs;
  Clip: { min: number; max: number };
  Sign: NoAttrs;
  Identity: NoAttrs;
  StopGradient: NoAttrs;
  Dropout: NoAttrs;
  /** `to`: the ONNX TensorProto data type code. */
  Cast: { to: number };
  Equal: NoAttrs;
  Greater: NoAttrs;
  Less: NoAttrs;
  And: NoAttrs;
  Not: NoAttrs;
  Where: NoAttrs;
  Or: NoAttrs;
  LessOrEqual: NoAttrs;
  GreaterOrEqual: NoAttrs;
  // activations and pointwise maths (activations.ts)
  Tanh: NoAttrs;
  Erf: NoAttrs;
  Softplus: NoAttrs;
  HardSigmoid: { alpha: number; beta: number };
  HardSwish: NoAttrs;
  LeakyRelu: { alpha: number };
  PRelu: NoAttrs;
  Elu: { alpha: number };
  Selu: { alpha: number; gamma: number };
  Pow: NoAttrs;
  Min: NoAttrs;
  Max: NoAttrs;
  /** ONNX takes fmod = 0 (Python's sign rule) for integers only; floats need fmod = 1 (C's). */
  Mod: { fmod: Flag };
  Floor: NoAttrs;
  // data movement
  Reshape: { shape: readonly number[] };
  Flatten: AlongAxis;
  Transpose: { perm: readonly number[] };
  Expand: { shape: readonly number[] };
  Concat: AlongAxis;
  Slice: {
    starts: readonly number[];
    ends: readonly number[];
    axes: readonly number[];
    steps: readonly number[];
  };
  /** [begin_0, ..., begin_n, end_0, ..., end_n] */
  Pad: { pads: readonly number[] };
  Tile: { repeats: readonly number[] };
  // indexing with constant indices (gather.ts); the indices are the node's second input
  Gather: AlongAxis;
  GatherElements: AlongAxis;
  GatherND: { batch_dims: number };
  ScatterND: { reduction: ScatterReduction };
  ScatterElements: AlongAxis & { reduction: ScatterReduction };
  // resampling (resize.ts)
  Resize: ResizeAttrs;
  // reductions and normalisers
  ReduceSum: Reduction;
  ReduceMean: Reduction;
  ReduceMax: Reduction;
  ReduceL1: Reduction;
  ReduceL2: Reduction;
  ReduceMin: Reduction;
  /** `k` is a 1-element list: ONNX takes it as a 1-element tensor. */
  TopK: { k: readonly number[]; axis: number; largest: Flag; sorted: Flag };
  Softmax: AlongAxis;
  LogSoftmax: AlongAxis;
  CumSum: { axis: number; exclusive: Flag; reverse: Flag };
  // products, convolution, pooling, normalisation
  MatMul: NoAttrs;
  Gemm: { alpha: number; beta: number; transA: Flag; transB: Flag };
  Conv: ConvAttrs;
  ConvTranspose: ConvAttrs & { output_padding: readonly number[] };
  MaxPool: PoolAttrs;
  AveragePool: PoolAttrs & { count_include_pad: Flag };
  GlobalAveragePool: NoAttrs;
  GlobalMaxPool: NoAttrs;
  BatchNormalization: { epsilon: number };
  /** Normalises over the axes from `axis` to the last; scale and bias broadcast to them. */
  LayerNormalization: { axis: number; epsilon: number };
  InstanceNormalization: { epsilon: number };
  /** Across channels: x / (bias + alpha / size * sum of x² over `size` channels)^beta. */
  LRN: { size: number; alpha: number; beta: number; bias: number };
}

export type OpType = keyof OpAttrs;
export type ReductionOp = 'ReduceSum' | 'ReduceMean' | 'ReduceMax' | 'ReduceMin' | 'ReduceL1' | 'ReduceL2';
