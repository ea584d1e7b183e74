/**
 * Symbolic reverse mode over pss graphs. The gradient is added to the same graph as
 * ordinary nodes built by the ops' backward rules, so grad() can be applied again to a
 * function of gradients (second order).
 */
import { type Graph, GraphError, type Node, type Value } from '../graph/graph.js';
import { add, expand, opDef, reshape, UnsupportedOpError } from '../ops/index.js';

const isFloat = (v: Value) => v.dtype === 'float32' || v.dtype === 'float64';

export interface GradOptions {
  /** Cotangent of y (default: 1, for a scalar y). */
  seed?: Value;
  /**
   * Per-sample gradients for a batch of this size: each wrt value (a parameter) gets a
   * cotangent [batch, ...shape] whose row b is the gradient of sample b's part of y,
   * instead of their sum. Requires y to be a sum of per-sample terms, the samples on axis 0
   * of the data (the graph inputs other than wrt) and of what is computed from it.
   */
  perSampleBatch?: number;
}

/** An Expand that copies a value into each sample (a class token): the samples begin there, as at the data. */
const spansBatch = (n: Node, batch: number) =>
  n.op === 'Expand' &&
  n.output.shape[0] === batch &&
  (n.inputs[0].rank < n.output.rank || n.inputs[0].shape[0] === 1);

/**
 * The values whose cotangents are per sample, [B, ...shape]: the wrt parameters and what is
 * computed from them and constants alone, before the data (a transposed weight, a scaled
 * bias). Each sample has its own part of their cotangent, as it has of the parameters'.
 */
function sharedValues(
  graph: Graph,
  nodes: readonly Node[],
  wrt: readonly Value[],
  batch: number,
): Set<Value> {
  const shared = new Set(wrt.filter(isFloat));
  const varying = new Set(graph.inputs.filter((v) => !shared.has(v)));
  for (const n of nodes) {
    if (n.inputs.some((v) => varying.has(v)) || spansBatch(n, batch)) varying.add(n.output);
    else if (isFloat(n.output) && n.inputs.some((v) => shared.has(v))) shared.add(n.output);
  }
  return shared;
}

/**
 * Cotangents of `wrt` for output `y`. Values `y` does not depend on get zeros.
 */
export function grad(y: Value, wrt: readonly Value[], opts: GradOptions = {}): Value[] {
  const batch = opts.perSampleBatch;
  // One sample's gradient is the batch's, whichever ops the parameters pass through.
  if (batch === 1) return grad(y, wrt, { seed: opts.seed }).map((g) => reshape(g, [1, ...g.shape]));
  let seed = opts.seed;
  const leafShape = (v: Value) => (batch === undefined ? v.shape : [batch, ...v.shape]);
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
  const shared = batch === undefined ? new Set<Value>() : sharedValues(graph, nodes, wrt, batch);
  if (shared.has(y)) throw new GraphError(`per-sample gradients of ${y}, which does not depend on the data`);

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
    const def = opDef(node.op)!;
    // A node of shared values only has a per-sample g: its op's batched rule. At one where the
    // data meets them, the op's rule keeps their cotangents per sample (perSample).
    let rule = def.grad;
    if (shared.has(node.output)) {
      if (!def.batchedGrad) throw perSampleRefused(node.op, 'a parameter passing through it before the data');
      if (def.batchedGrad !== 'grad') rule = def.batchedGrad;
    }
    const perSample = node.inputs.map((v) => shared.has(v));
    const grads = rule({ node, x: node.inputs, y: node.output, g, attrs: node.attrs, perSample });
    node.inputs.forEach((v, k) => {
      const gv = grads[k];
      if (!gv || !active.has(v)) return;
      const want = perSample[k] ? leafShape(v) : v.shape;
      if (gv.shape.join() !== want.join()) {
        if (perSample[k] && !shared.has(node.output)) refuseMixed(node.op, k, gv, v, batch!);
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
    if (shared.has(source))
      throw new GraphError(`per-sample gradients of ${source} through a folded copy are not supported`);
    accumulate(source, vjp(g));
  }
  return wrt.map((v) => cotangent.get(v) ?? expand(graph.scalar(0, v.dtype), leafShape(v)));
}

/** Per-sample gradients through an op (configuration) no rule keeps apart: a model's structure, so a user's error. */
const perSampleRefused = (op: string, what: string) =>
  new UnsupportedOpError(`${op}: per-sample gradients of ${what} are not supported`);

/** Refuses a rule's cotangent gv of shared input v that is not per sample, saying why where it can. */
function refuseMixed(op: string, k: number, gv: Value, v: Value, batch: number): void {
  const what = `a parameter as its input ${k}`;
  if (gv.shape.join() === v.shape.join()) throw perSampleRefused(op, what);
  // Per row of the data, whose axis 0 holds more than the samples (tokens or windows
  // flattened with them, as an exported ViT's attention or Swin's windows do).
  if (gv.shape.slice(1).join() === v.shape.join())
    throw perSampleRefused(
      op,
      `${what} where the data's axis 0 is not the samples (${gv.shape[0]} rows for a batch of ${batch})`,
    );
}
