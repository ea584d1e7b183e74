/**
 * Replays an ONNX graph's nodes on a pss graph, in file order. Each tensor is either a graph
 * value or a constant known at import time. A node with a static rule (static.ts) is evaluated
 * on constants when all its inputs are constants, or always when it has no replay rule; any
 * other node is built from pss's ops by its replay rule (operators.ts).
 */
import { PssError, quoted } from '../../errors.js';
import type { Value } from '../../graph/graph.js';
import { attr, type Const, type NodeProto } from './decode.js';
import { type ReplayContext, replayRule } from './operators.js';
import type { BiasAdd } from './rule.js';
import { type StaticContext, staticRule } from './static.js';

/** Whether pss imports nodes of this op type (of the default domain). */
export const isSupported = (opType: string): boolean =>
  opType === 'If' || !!(replayRule(opType) || staticRule(opType));

type Entry = { value: Value } | { konst: Const };

export interface ReplayInputs {
  nodes: readonly NodeProto[];
  /** The model's image input as its nodes read it (NHWC models: already transposed back). */
  x: Value;
  inputName: string;
  outputName: string;
  /** Initializers and the constants the opset upgrade added. */
  initializers: ReadonlyMap<string, Const>;
  /** The initializers that are model parameters, as graph values on demand. */
  params: ReadonlyMap<string, () => Value>;
  /** The model's hook on a conv's output (turning filters off), by its weight initializer. */
  convOutput?: (weight: string, y: Value) => Value;
  /** The same on a linear op's output (turning neurons off). */
  linearOutput?: (weight: string, y: Value) => Value;
  /**
   * MatMuls whose bias an Add adds (inspect.ts biasAdds): their hook goes on the Add's output,
   * so that turning a neuron off zeroes its bias too.
   */
  biasAdds?: readonly BiasAdd[];
  source: string;
}

/** A builder's message with long value lists cut (a file's tensor used as a shape can hold millions). */
const brief = (message: string) =>
  message.replace(/\[([^[\]]{120,})\]/g, (_, inner: string) => {
    const parts = inner.split(', ');
    return `[${parts.slice(0, 6).join(', ')}, … (${parts.length} values)]`;
  });

/** A constant as a graph constant of its kind (float32, int64 or bool). */
function graphConstant(x: Value, c: Const): Value {
  if (c.kind === 'bool') return x.graph.constant(Uint8Array.from(c.data), c.shape, 'bool');
  if (c.kind === 'int')
    return x.graph.constant(
      BigInt64Array.from(c.data, (v) => BigInt(v)),
      c.shape,
      'int64',
    );
  return x.graph.constant(c.data instanceof Float32Array ? c.data : Float32Array.from(c.data), c.shape);
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
    if (!e) throw new PssError(`${source}: tensor ${quoted(name)} is used before it is computed`);
    return e;
  };
  // the hook of a MatMul with a bias Add: on the Add's output (by output name), not the product
  const deferred = new Set((r.biasAdds ?? []).map((a) => a.product));
  const afterAdd = new Map((r.biasAdds ?? []).map((a) => [a.output, a.weight]));
  const constants = new Map<Const, Value>();
  const value = (name: string): Value => {
    const e = get(name);
    if ('value' in e) return e.value;
    let v = constants.get(e.konst);
    if (!v) constants.set(e.konst, (v = graphConstant(x, e.konst)));
    return v;
  };
  const konst = (name: string | undefined): Const | undefined => {
    if (!name) return undefined;
    const e = get(name);
    return 'konst' in e ? e.konst : undefined;
  };

  /**
   * An If whose condition is known here (torch.onnx's squeeze of a dimension it cannot see is
   * one: Equal on a Shape) runs its chosen branch in place; one on the image's values would make
   * the graph's structure depend on the image, and is refused.
   */
  const branch = (n: NodeProto, nodeFail: (message: string) => never): Entry[] => {
    const cond = konst(n.input?.[0]);
    if (!cond)
      return nodeFail('its condition depends on the image; pss replays graphs whose structure is fixed');
    if (cond.data.length !== 1) return nodeFail(`its condition has ${cond.data.length} values, not one`);
    const g = attr(n, cond.data[0] ? 'then_branch' : 'else_branch')?.g;
    if (!g) return nodeFail(`it has no ${cond.data[0] ? 'then' : 'else'}_branch`);
    run(g.node ?? []);
    const outputs = g.output ?? [];
    if (outputs.length < (n.output ?? []).length) nodeFail('its branch has fewer outputs than the node');
    return outputs.map((o) => get(o.name ?? ''));
  };

  const run = (nodes: readonly NodeProto[]) => {
    for (const n of nodes) step(n);
  };

  const step = (n: NodeProto) => {
    const ins = n.input ?? [];
    const outs = n.output ?? [];
    const t = n.opType!;
    const nodeFail = (message: string): never =>
      fail(`node ${quoted(n.name || outs[0] || t)} (${t}): ${brief(message)}`);
    if (t === 'If') {
      const entries = branch(n, nodeFail);
      outs.forEach((name, k) => {
        if (name) env.set(name, entries[k]);
      });
      return;
    }
    const allStatic = ins.filter(Boolean).every((i) => !params.has(i) && konst(i));
    const evaluate = staticRule(t);
    const build = replayRule(t);
    let results: (Value | Const)[];
    try {
      if (evaluate && (!build || allStatic)) {
        const inputs = ins.map((i) => (i ? konst(i) : undefined));
        const c: StaticContext = {
          node: n,
          inputs,
          need: (k) => inputs[k] ?? nodeFail(`input ${k} must be a constant`),
          shapeOf: (name) => {
            const e = get(name);
            return 'value' in e ? [...e.value.shape] : e.konst.shape;
          },
          source,
          fail: nodeFail,
        };
        const out = evaluate(c);
        results = Array.isArray(out) ? out : [out];
      } else {
        if (!build) throw new PssError(`${source}: ONNX operator ${t} is not supported`);
        const c: ReplayContext = {
          node: n,
          has: (k) => !!ins[k],
          value: (k) => value(ins[k]),
          values: () => ins.filter(Boolean).map((i) => value(i)),
          constant: (k, what) => {
            const v = konst(ins[k]);
            return v ? Array.from(v.data) : nodeFail(`${what} must be a constant`);
          },
          konst: (k) => {
            const v = konst(ins[k]);
            return v && (v.data.length || v.shape.length > 1) ? v : undefined;
          },
          convOutput: (k, y) => (r.convOutput && params.has(ins[k]) ? r.convOutput(ins[k], y) : y),
          linearOutput: (k, y) =>
            r.linearOutput && params.has(ins[k]) && !deferred.has(outs[0]) ? r.linearOutput(ins[k], y) : y,
          fail: nodeFail,
        };
        const out = build(c);
        results = Array.isArray(out) ? out : [out];
        const weight = afterAdd.get(outs[0]);
        if (weight && r.linearOutput && params.has(weight))
          results[0] = r.linearOutput(weight, results[0] as Value);
      }
    } catch (e) {
      if (e instanceof PssError && e.message.startsWith(source)) throw e;
      // A builder's refusal (an unsupported configuration, shapes that do not fit) is about the file.
      nodeFail(e instanceof Error ? e.message : String(e));
    }
    outs.forEach((name, k) => {
      const v = results[k];
      if (name && v) env.set(name, 'graph' in v ? { value: v } : { konst: v });
    });
  };
  run(r.nodes);
  return value(r.outputName);
}
