/**
 * Replays an ONNX graph's nodes on a pss graph, in file order. Each tensor is either a graph
 * value or a constant known at import time. A node with a static rule (static.ts) is evaluated
 * on constants when all its inputs are constants, or always when it has no replay rule; any
 * other node is built from pss's ops by its replay rule (operators.ts).
 */
import { PssError } from '../../errors.js';
import type { Value } from '../../graph/graph.js';
import type { Const, NodeProto } from './decode.js';
import { type ReplayContext, replayRule } from './operators.js';
import { type StaticContext, staticRule } from './static.js';

/** Whether pss imports nodes of this op type (of the default domain). */
export const isSupported = (opType: string): boolean => !!(replayRule(opType) || staticRule(opType));

type Entry = { value: Value } | { konst: Const };

export interface ReplayInputs {
  nodes: readonly NodeProto[];
  /** The image, the graph input named `inputName`. */
  x: Value;
  inputName: string;
  outputName: string;
  initializers: ReadonlyMap<string, Const>;
  /** The initializers that are model parameters, as graph values on demand. */
  params: ReadonlyMap<string, () => Value>;
  /** The model's hook on a conv's output (turning filters off), by its weight initializer. */
  convOutput?: (weight: string, y: Value) => Value;
  opset: number;
  source: string;
}

export function replay(r: ReplayInputs): Value {
  const { x, params, initializers, source } = r;
  const env = new Map<string, Entry>([[r.inputName, { value: x }]]);
  const fail = (message: string): never => {
    throw new PssError(`${source}: ${message}`);
  };
  const get = (name: string): Entry => {
    const p = params.get(name);
    if (p) return { value: p() };
    const e = env.get(name) ?? (initializers.has(name) ? { konst: initializers.get(name)! } : undefined);
    if (!e) throw new PssError(`${source}: tensor "${name}" is used before it is computed`);
    return e;
  };
  const value = (name: string): Value => {
    const e = get(name);
    if ('value' in e) return e.value;
    return x.graph.constant(Float32Array.from(e.konst.data), e.konst.shape);
  };
  const konst = (name: string | undefined): Const | undefined => {
    if (!name) return undefined;
    const e = get(name);
    return 'konst' in e ? e.konst : undefined;
  };
  const staticInts = (name: string | undefined, what: string): number[] => {
    const c = konst(name);
    if (!c) throw new PssError(`${source}: ${what} must be a constant`);
    return Array.from(c.data);
  };

  for (const n of r.nodes) {
    const ins = n.input ?? [];
    const out = n.output?.[0] ?? '';
    const t = n.opType!;
    const allStatic = ins.filter(Boolean).every((i) => !params.has(i) && konst(i));
    const evaluate = staticRule(t);
    const build = replayRule(t);
    if (evaluate && (!build || allStatic)) {
      const inputs = ins.map((i) => (i ? konst(i) : undefined));
      const c: StaticContext = {
        node: n,
        inputs,
        need: (k) => inputs[k] ?? fail(`${t} input ${k} must be a constant`),
        shapeOf: (name) => {
          const e = get(name);
          return 'value' in e ? [...e.value.shape] : e.konst.shape;
        },
        source,
        fail,
      };
      env.set(out, { konst: evaluate(c) });
      continue;
    }
    if (!build) throw new PssError(`${source}: ONNX operator ${t} is not supported`);
    const c: ReplayContext = {
      node: n,
      has: (k) => !!ins[k],
      value: (k) => value(ins[k]),
      values: () => ins.map((i) => value(i)),
      constant: (k, what) => staticInts(ins[k], what),
      convOutput: (k, y) => (r.convOutput && params.has(ins[k]) ? r.convOutput(ins[k], y) : y),
      opset: r.opset,
      fail,
    };
    env.set(out, { value: build(c) });
  }
  return value(r.outputName);
}
