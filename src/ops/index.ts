/** The op builders and the op table. Import ops from here; make graphs with `new Graph(OPS)`. */
export type { OpAttrs, OpType } from './attrs.js';
export * from './builders.js';
export * from './conv.js';
export * from './elementwise.js';
export * from './linalg.js';
export * from './norm.js';
export * from './pool.js';
export * from './reduce.js';
export { OPS, opDef } from './registry.js';
export * from './shape.js';
export { NoGradientError } from './types.js';
