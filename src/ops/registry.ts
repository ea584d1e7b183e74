/**
 * The op table: every op pss can build, emit and differentiate. Typed exhaustively, so an
 * op added to OpType without a definition (or a rule) fails to compile.
 */
import { installOpSignatures } from '../graph/graph.js';
import { convOps } from './conv.js';
import { elementwiseOps } from './elementwise.js';
import { linalgOps } from './linalg.js';
import { normOps } from './norm.js';
import { poolOps } from './pool.js';
import { reduceOps } from './reduce.js';
import { shapeOps } from './shape.js';
import type { OpDef } from './types.js';

export type OpType =
  // elementwise
  | 'Add'
  | 'Sub'
  | 'Mul'
  | 'Div'
  | 'Neg'
  | 'Abs'
  | 'Sqrt'
  | 'Exp'
  | 'Log'
  | 'Sigmoid'
  | 'Relu'
  | 'Clip'
  | 'Sign'
  | 'Identity'
  | 'StopGradient'
  | 'Dropout'
  | 'Cast'
  | 'Equal'
  | 'Greater'
  | 'Less'
  | 'And'
  | 'Not'
  | 'Where'
  // data movement
  | 'Reshape'
  | 'Flatten'
  | 'Transpose'
  | 'Expand'
  | 'Concat'
  | 'Slice'
  | 'Pad'
  // reductions and normalisers
  | 'ReduceSum'
  | 'ReduceMean'
  | 'ReduceMax'
  | 'ReduceL1'
  | 'TopK'
  | 'Softmax'
  | 'LogSoftmax'
  | 'CumSum'
  // products, convolution, pooling, normalisation
  | 'MatMul'
  | 'Gemm'
  | 'Conv'
  | 'ConvTranspose'
  | 'MaxPool'
  | 'AveragePool'
  | 'GlobalAveragePool'
  | 'BatchNormalization';

export const OPS: { readonly [K in OpType]: OpDef } = {
  ...elementwiseOps,
  ...shapeOps,
  ...reduceOps,
  ...linalgOps,
  ...convOps,
  ...poolOps,
  ...normOps,
};

export function opDef(op: string): OpDef | undefined {
  return Object.hasOwn(OPS, op) ? OPS[op as OpType] : undefined;
}

installOpSignatures(opDef);
