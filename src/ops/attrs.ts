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
  // reductions and normalisers
  ReduceSum: Reduction;
  ReduceMean: Reduction;
  ReduceMax: Reduction;
  ReduceL1: Reduction;
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
  BatchNormalization: { epsilon: number };
}

export type OpType = keyof OpAttrs;
export type ReductionOp = 'ReduceSum' | 'ReduceMean' | 'ReduceMax' | 'ReduceL1';
