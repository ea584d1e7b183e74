/**
 * The symbolic graph: values with static shapes and the nodes that produce them. Imports
 * nothing else of pss: a graph is made with the op signatures it checks its nodes against
 * (`new Graph(OPS)`, the table in `src/ops`), and nodes are added through the typed `emit`
 * of `src/ops`.
 */
export const DTYPES = ['float32', 'float64', 'int64', 'bool'] as const;
export type DType = (typeof DTYPES)[number];
/** ONNX's TensorProto data type code of each dtype (the writer's elem_type, Cast's `to`). */
export const ELEM_TYPE: Readonly<Record<DType, number>> = { float32: 1, float64: 11, int64: 7, bool: 9 };
export type Shape = readonly number[];
export type TypedData = Float32Array | Float64Array | BigInt64Array | Uint8Array;

/** A static attribute value. Ints and floats are told apart by the op's attribute table. */
export type AttrValue = number | readonly number[] | string;
export type Attrs = Readonly<Record<string, AttrValue | undefined>>;

export type AttrKind = 'int' | 'ints' | 'float' | 'floats' | 'string';

export interface ValueType {
  shape: Shape;
  dtype: DType;
}

/** What the graph knows of an op: how to check a node of it, and its ONNX form. */
export interface OpSignature {
  /** Checks the inputs and returns the output type; throws with a plain message on a misuse. */
  infer(inputs: readonly Value[], attrs: Attrs): ValueType;
  /** ONNX attributes of the op and their kinds; others are not written. */
  readonly attrs?: Readonly<Record<string, AttrKind | undefined>>;
  /**
   * Static parameters that ONNX (opset 18) takes as constant inputs after the tensor
   * inputs (axes, shapes, pads...). pss keeps them as attributes so that shapes stay
   * static; the writer turns them into initializers.
   */
  readonly inputAttrs?: readonly { name: string; dtype: DType | 'input' }[];
  /** The ONNX operator, when it differs from the pss op's name (e.g. StopGradient is an Identity). */
  readonly onnxOp?: string;
  /** ONNX outputs the op declares besides the one pss uses (e.g. TopK's indices); written unused. */
  readonly extraOutputs?: number;
}

export class GraphError extends Error {
  override name = 'GraphError';
}

/** The signatures a graph checks its nodes against, by op name. */
export type OpSignatures = Readonly<Record<string, OpSignature>>;

export class Value {
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly shape: Shape,
    readonly dtype: DType,
    /** The node that computes it; undefined for graph inputs and constants. */
    readonly producer: Node | undefined,
    /** Known data for constants (initializers). */
    readonly data?: TypedData,
    /** Name for graph inputs. */
    readonly inputName?: string,
  ) {}
  get rank(): number {
    return this.shape.length;
  }
  get size(): number {
    return sizeOf(this.shape);
  }
  toString(): string {
    const what = this.inputName ?? (this.producer ? `${this.producer.op}#${this.producer.id}` : 'const');
    return `${what}<${this.dtype}[${this.shape.join(',')}]>`;
  }
}

export class Node {
  output!: Value;
  constructor(
    readonly id: number,
    readonly op: string,
    readonly inputs: readonly Value[],
    readonly attrs: Attrs,
    /** The op's signature, from the graph's table: the ONNX writer reads its form here. */
    readonly signature: OpSignature,
  ) {}
}

export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Value[] = [];
  private nextId = 0;

  constructor(private readonly signatures: OpSignatures) {}

  /** A placeholder fed at run time. */
  input(name: string, shape: Shape, dtype: DType = 'float32'): Value {
    if (this.inputs.some((v) => v.inputName === name))
      throw new GraphError(`duplicate graph input "${name}"`);
    const v = new Value(this, this.nextId++, [...shape], dtype, undefined, undefined, name);
    this.inputs.push(v);
    return v;
  }

  /** A constant (an ONNX initializer). */
  constant(data: TypedData | readonly number[], shape: Shape = [data.length], dtype?: DType): Value {
    const typed = toTyped(data, dtype ?? (ArrayBuffer.isView(data) ? dtypeOf(data as TypedData) : 'float32'));
    if (typed.length !== sizeOf(shape)) {
      throw new GraphError(`constant of ${typed.length} elements does not fit shape [${shape.join(',')}]`);
    }
    return new Value(this, this.nextId++, [...shape], dtypeOf(typed), undefined, typed);
  }

  private readonly cache = new Map<string, Value>();
  /** A constant made once per graph and key (one-hot kernels, count maps...). */
  cachedConstant(key: string, make: () => Value): Value {
    let v = this.cache.get(key);
    if (!v) this.cache.set(key, (v = make()));
    return v;
  }

  /** Constants computed at build time from another constant, and how cotangents flow back. */
  readonly folded = new Map<Value, { source: Value; vjp: (g: Value) => Value }>();
  /**
   * A constant computed here, once, from a constant `source` by a linear map, instead of by
   * graph ops that ONNX Runtime would fold at load (each fold step a transient weight-sized
   * copy). `vjp` maps a cotangent of the result to one of `source`, so grad() differentiates
   * through the fold exactly as through the ops it replaces. For a map that is its own
   * inverse (`involution`), folding the result again gives back `source` itself.
   */
  foldConstant(
    source: Value,
    key: string,
    make: () => Value,
    vjp: (g: Value) => Value,
    { involution = false } = {},
  ): Value {
    if (!source.data) throw new GraphError(`foldConstant: ${source} is not a constant`);
    return this.cachedConstant(`fold:${key}:${source.id}`, () => {
      const v = make();
      if (!v.data) throw new GraphError(`foldConstant ${key}: the result is not a constant`);
      this.folded.set(v, { source, vjp });
      if (involution) this.cache.set(`fold:${key}:${v.id}`, source);
      return v;
    });
  }

  scalar(x: number, dtype: DType = 'float32'): Value {
    return this.constant([x], [], dtype);
  }

  /**
   * Adds a node after checking it against its op's signature; a misuse is a GraphError that
   * names the node and the op. Untyped: build nodes with `emit` or the builders of `src/ops`,
   * which type each op's attributes.
   */
  addNode(op: string, inputs: readonly Value[], attrs: Attrs): Value {
    const sig = Object.hasOwn(this.signatures, op) ? this.signatures[op] : undefined;
    if (!sig) throw new GraphError(`unknown op ${op}`);
    for (const v of inputs) {
      if (v.graph !== this) throw new GraphError(`${op}: input ${v} belongs to another graph`);
    }
    const node = new Node(this.nextId++, op, [...inputs], attrs, sig); // own copy: callers may reuse their array
    let type: ValueType;
    try {
      type = sig.infer(inputs, attrs);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new GraphError(`${op} node #${node.id} (inputs ${inputs.join(', ')}): ${msg}`);
    }
    node.output = new Value(this, this.nextId++, [...type.shape], type.dtype, node);
    this.nodes.push(node);
    return node.output;
  }
}

export function sizeOf(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function dtypeOf(data: TypedData): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof BigInt64Array) return 'int64';
  return 'bool';
}

function toTyped(data: TypedData | readonly number[], dtype: DType): TypedData {
  if (ArrayBuffer.isView(data) && dtypeOf(data as TypedData) === dtype) return data as TypedData;
  const arr = Array.from(data as ArrayLike<number | bigint>, Number);
  switch (dtype) {
    case 'float32':
      return Float32Array.from(arr);
    case 'float64':
      return Float64Array.from(arr);
    case 'int64':
      return BigInt64Array.from(arr, (x) => BigInt(x));
    case 'bool':
      return Uint8Array.from(arr, (x) => (x ? 1 : 0));
  }
}
