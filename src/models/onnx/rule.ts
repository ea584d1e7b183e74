/** What a replay rule sees of its node, and the helpers the rule families share. */
import type { Value } from '../../graph/graph.js';
import type { Const, NodeProto } from './decode.js';

/** What a replay rule sees of its node. Nodes are in their opset-21 form (opsets.ts). */
export interface ReplayContext {
  readonly node: NodeProto;
  /** Whether input k is given (ONNX leaves an optional input's name empty). */
  has(k: number): boolean;
  /** Input k on the graph (a constant input becomes a graph constant). */
  value(k: number): Value;
  /** Every input on the graph. */
  values(): Value[];
  /** Input k's values, which must be static; `what` names it in the error. */
  constant(k: number, what: string): number[];
  /** Input k as a constant with its shape, if it is one (an empty tensor counts as absent). */
  konst(k: number): Const | undefined;
  /** A conv's output through the model's hook, given the input k that holds its weight. */
  convOutput(k: number, y: Value): Value;
  /** A linear op's output (features on the last axis) through the model's hook, given its weight's input k. */
  linearOutput(k: number, y: Value): Value;
  /** Throws a PssError naming the model. */
  fail(message: string): never;
}
/** A rule's result: the node's output, or one per output (Split). */
export type ReplayRule = (c: ReplayContext) => Value | Value[];
export type ReplayRules = Readonly<Record<string, ReplayRule>>;

export const unary =
  (f: (x: Value) => Value): ReplayRule =>
  (c) =>
    f(c.value(0));
export const binary =
  (f: (a: Value, b: Value) => Value): ReplayRule =>
  (c) =>
    f(c.value(0), c.value(1));

/** An axis list input as given, or undefined when it is absent or empty. */
export const optionalList = (c: ReplayContext, k: number, what: string): number[] | undefined => {
  if (!c.has(k)) return undefined;
  const v = c.constant(k, what);
  return v.length ? v : undefined;
};

/** A linear op's bias: the Add that follows a MatMul with a constant [out] (torch.onnx's nn.Linear on rank > 2). */
export interface BiasAdd {
  /** The MatMul's weight initializer ([in, out]). */
  weight: string;
  /** The bias initializer. */
  bias: string;
  /** The MatMul's output (the Add's input) and the Add's output (the linear layer's). */
  product: string;
  output: string;
}
