/**
 * The symbolic graph: values with static shapes, nodes that produce them, and the
 * hook through which ops check and infer shapes. Imports nothing else of pss; the op
 * registry is installed by `src/ops/registry.ts` (so that op families can call each
 * other's builders without import cycles).
 */
export type DType = 'float32' | 'float64' | 'int64' | 'bool';
export type Shape = readonly number[];
export type TypedData = Float32Array | Float64Array | BigInt64Array | Uint8Array;

/** A static attribute value. Ints and floats are told apart by the op's attribute table. */
export type AttrValue = number | readonly number[] | string;
export type Attrs = Readonly<Record<string, AttrValue | undefined>>;

export type AttrKind = 'int' | 'ints' | 'float' | 'floats' | 'string';

export interface OpSignature {
  /** Checks the inputs and returns the output type; throws with a plain message on a misuse. */
  infer(inputs: readonly Value[], attrs: Attrs): { shape: Shape; dtype: DType };
  /** ONNX attributes of the op and their kinds; others are not written. */
  readonly attrs?: Readonly<Record<string, AttrKind>>;
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

let signatures: ((op: string) => OpSignature | undefined) | undefined;
/** Installed once by the op registry. */
export function installOpSignatures(lookup: (op: string) => OpSignature | undefined): void {
  signatures = lookup;
}

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
  ) {}
}

export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Value[] = [];
  private nextId = 0;

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

  /** Adds a node after checking it against its op's signature. */
  emit(op: string, inputs: readonly Value[], attrs: Attrs = {}): Value {
    const sig = signatures?.(op);
    if (!signatures) throw new GraphError('op registry not loaded: import pss ops before building graphs');
    if (!sig) throw new GraphError(`unknown op ${op}`);
    for (const v of inputs) {
      if (v.graph !== this) throw new GraphError(`${op}: input ${v} belongs to another graph`);
    }
    const node = new Node(this.nextId++, op, [...inputs], attrs); // own copy: callers may reuse their array
    let type: { shape: Shape; dtype: DType };
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
