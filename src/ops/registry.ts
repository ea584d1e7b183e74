/**
 * The op table: every op pss can build, emit and differentiate. Typed exhaustively, so an
 * op added to OpAttrs without a definition (or a rule) fails to compile. Graphs are made
 * with it (`new Graph(OPS)`), autodiff reads the rules from it.
 */
import type { OpSignature } from '../graph/graph.js';
import { activationOps } from './activations.js';
import { convOps } from './conv.js';
import { elementwiseOps } from './elementwise.js';
import { gatherOps } from './gather.js';
import { linalgOps } from './linalg.js';
import { normOps } from './norm.js';
import { poolOps } from './pool.js';
import { reduceOps } from './reduce.js';
import { resizeOps } from './resize.js';
import { shapeOps } from './shape.js';
import type { Cotangents, GradContext, OpTable } from './types.js';

export const OPS: OpTable = {
  ...elementwiseOps,
  ...activationOps,
  ...shapeOps,
  ...gatherOps,
  ...resizeOps,
  ...reduceOps,
  ...linalgOps,
  ...convOps,
  ...poolOps,
  ...normOps,
};

/**
 * An op's definition as read back for a stored node, whose op is a string and whose
 * attributes are plain `Attrs`. This is where attribute types are erased: the assignment
 * below (like `new Graph(OPS)`) compiles because TypeScript compares method parameters
 * bivariantly. Sound because nodes are added by `emit`, which checked the attributes
 * against the op when the node was built.
 */
export interface StoredOpDef extends OpSignature {
  grad(ctx: GradContext): Cotangents;
  /** grad's type: a method's, so that it compares bivariantly too. */
  readonly batchedGrad?: 'grad' | StoredOpDef['grad'];
}

const stored: Readonly<Record<string, StoredOpDef>> = OPS;

export function opDef(op: string): StoredOpDef | undefined {
  return Object.hasOwn(stored, op) ? stored[op] : undefined;
}
