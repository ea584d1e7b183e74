/**
 * Symbolic reverse mode over pss graphs. The gradient is added to the same graph as
 * ordinary nodes built by the ops' backward rules, so grad() can be applied again to a
 * function of gradients (second order).
 */
import { GraphError, type Node, type Value } from '../graph/graph.js';
import { add, expand, opDef } from '../ops/index.js';

const isFloat = (v: Value) => v.dtype === 'float32' || v.dtype === 'float64';

/**
 * Cotangents of `wrt` for output `y`, seeded with `seed` (default: 1, for a scalar y).
 * Values `y` does not depend on get zeros.
 */
export function grad(y: Value, wrt: readonly Value[], seed?: Value): Value[] {
  const graph = y.graph;
  if (!seed) {
    if (y.size !== 1) throw new GraphError(`grad of a non-scalar ${y} needs a seed cotangent`);
    seed = expand(graph.scalar(1, y.dtype), y.shape);
  }
  if (seed.shape.join() !== y.shape.join()) throw new GraphError(`seed ${seed} does not match ${y}`);

  // Forward: which values depend on wrt. Nodes are in creation order, which is topological.
  const nodes: readonly Node[] = graph.nodes.slice();
  const active = new Set<Value>(wrt.filter(isFloat));
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
    const grads = rule({ node, x: node.inputs, y: node.output, g, attrs: node.attrs });
    node.inputs.forEach((v, k) => {
      const gv = grads[k];
      if (!gv || !active.has(v)) return;
      if (gv.shape.join() !== v.shape.join())
        throw new GraphError(
          `${node.op} rule gave a [${gv.shape}] cotangent for input ${k} of shape [${v.shape}]`,
        );
      accumulate(v, gv);
    });
  }
  return wrt.map((v) => cotangent.get(v) ?? expand(graph.scalar(0, v.dtype), v.shape));
}
