/**
 * Symbolic reverse mode over pss graphs. The gradient is added to the same graph as
 * ordinary nodes built by the ops' backward rules, so grad() can be applied again to a
 * function of gradients (second order).
 */
import { GraphError, type Node, type Value } from '../graph/graph.js';
import { add, expand, opDef } from '../ops/index.js';

const isFloat = (v: Value) => v.dtype === 'float32' || v.dtype === 'float64';

export interface GradOptions {
  /** Cotangent of y (default: 1, for a scalar y). */
  seed?: Value;
  /**
   * Per-sample gradients for a batch of this size: each wrt value (a parameter) gets a
   * cotangent [batch, ...shape] whose row b is the gradient of sample b's part of y,
   * instead of their sum. Requires y to be a sum of per-sample terms.
   */
  perSampleBatch?: number;
}

/**
 * Cotangents of `wrt` for output `y`. Values `y` does not depend on get zeros.
 */
export function grad(y: Value, wrt: readonly Value[], opts: GradOptions = {}): Value[] {
  let seed = opts.seed;
  const batch = opts.perSampleBatch;
  const leafShape = (v: Value) => (batch === undefined ? v.shape : [batch, ...v.shape]);
  const perSampleLeaf = new Set(batch === undefined ? [] : wrt);
  const graph = y.graph;
  if (!seed) {
    if (y.size !== 1) throw new GraphError(`grad of a non-scalar ${y} needs a seed cotangent`);
    seed = expand(graph.scalar(1, y.dtype), y.shape);
  }
  if (seed.shape.join() !== y.shape.join()) throw new GraphError(`seed ${seed} does not match ${y}`);

  // Forward: which values depend on wrt. Nodes are in creation order, which is topological.
  const nodes: readonly Node[] = graph.nodes.slice();
  const active = new Set<Value>(wrt.filter(isFloat));
  // Constants folded at build time depend on their source (Graph.foldConstant).
  for (const [c, { source }] of graph.folded) if (active.has(source)) active.add(c);
  for (const n of nodes) if (isFloat(n.output) && n.inputs.some((v) => active.has(v))) active.add(n.output);

  const cotangent = new Map<Value, Value>([[y, seed]]);
  const accumulate = (v: Value, g: Value) => {
    const prev = cotangent.get(v);
    cotangent.set(v, prev ? add(prev, g) : g);
  };
  const last = y.producer ? nodes.indexOf(y.producer) : -1;
  for (let i = last; i >= 0; i--) {
    const node = nodes[i];
    const g = cotangent.get(node.output);
    if (!g || !node.inputs.some((v) => active.has(v))) continue;
    const rule = opDef(node.op)!.grad;
    const perSample = node.inputs.map((v) => perSampleLeaf.has(v));
    const grads = rule({ node, x: node.inputs, y: node.output, g, attrs: node.attrs, perSample });
    node.inputs.forEach((v, k) => {
      const gv = grads[k];
      if (!gv || !active.has(v)) return;
      const want = perSample[k] ? leafShape(v) : v.shape;
      if (gv.shape.join() !== want.join()) {
        const what = perSample[k] ? 'per-sample cotangent' : 'cotangent';
        throw new GraphError(
          `${node.op} rule gave a [${gv.shape}] ${what} for input ${k}; expected [${want}]`,
        );
      }
      accumulate(v, gv);
    });
  }
  // Folded constants are leaves whose source is a leaf too: pass their cotangents on last.
  for (const [c, { source, vjp }] of graph.folded) {
    const g = cotangent.get(c);
    if (!g || !active.has(source)) continue;
    if (perSampleLeaf.has(source))
      throw new GraphError(`per-sample gradients of ${source} through a folded copy are not supported`);
    accumulate(source, vjp(g));
  }
  return wrt.map((v) => cotangent.get(v) ?? expand(graph.scalar(0, v.dtype), leafShape(v)));
}
