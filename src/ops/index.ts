/** The op builders, with the registry installed. Import ops from here. */
import './registry.js';

export * from './conv.js';
export * from './elementwise.js';
export * from './linalg.js';
export * from './norm.js';
export * from './pool.js';
export * from './reduce.js';
export { OPS, type OpType, opDef } from './registry.js';
export * from './shape.js';
export { NoGradientError } from './types.js';
