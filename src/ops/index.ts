/** The op builders and the op table. Import ops from here; make graphs with `new Graph(OPS)`. */
export type {
  CoordinateTransformationMode,
  NearestMode,
  OpAttrs,
  OpType,
  ResizeAttrs,
  ResizeMode,
  ScatterReduction,
} from './attrs.js';
export * from './builders.js';
export * from './builders-index.js';
export * from './builders-nn.js';
export * from './conv.js';
export * from './einsum.js';
export * from './elementwise.js';
export * from './linalg.js';
export * from './norm.js';
export * from './pool.js';
export * from './reduce.js';
export { OPS, opDef } from './registry.js';
export * from './shape.js';
export { NoGradientError, UnsupportedOpError } from './types.js';
