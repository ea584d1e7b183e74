/**
 * What a PyTorch checkpoint holds once read: storages (a dtype and raw bytes) and tensors
 * (views of a storage: offset, size, stride), materialised on first use; and the words for
 * values in messages.
 */
import { PssError, quoted } from '../../errors.js';
import { type HasState, isTuple, PyCallable, PyDict, PyObject, type PyValue } from '../pickle.js';
import { type StDType, type StTensor, toFloat32 } from '../safetensors.js';

export type TorchDType =
  | 'float64'
  | 'float32'
  | 'float16'
  | 'bfloat16'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool'
  | 'complex64'
  | 'complex128';

export const ITEMSIZE: Record<TorchDType, number> = {
  float64: 8,
  float32: 4,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
  complex64: 8,
  complex128: 16,
};

const FLOAT_ST: Partial<Record<TorchDType, StDType>> = {
  float64: 'F64',
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
};

/** A malformed checkpoint (truncated, damaged, inconsistent). */
export class PthFormatError extends PssError {
  override name = 'PthFormatError';
}

/** A storage class named in a persistent id (`torch.FloatStorage`). */
export class StorageType {
  constructor(
    readonly name: string,
    readonly dtype: TorchDType,
  ) {}
}

/** One storage: its dtype and raw bytes (set after the pickle for the legacy format). */
export class TorchStorage {
  bytes?: Uint8Array;
  constructor(
    readonly dtype: TorchDType,
    readonly key: string,
    /** Where it was saved from ("cpu", "cuda:0"): a label only. */
    readonly location: string,
    /** The file, for messages. */
    readonly what: string,
  ) {}
}

/** A tensor as PyTorch pickles it: a view (offset, size, stride) of a storage. */
export class TorchTensor implements HasState {
  private materialised?: Uint8Array;
  /** Python attributes a subclass or `tensor.__dict__` carried (kept, not interpreted). */
  attrs: PyValue = null;

  constructor(
    readonly storage: TorchStorage,
    /** In elements. */
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
    readonly requiresGrad: boolean,
    /** Saved as an nn.Parameter. */
    public isParameter = false,
  ) {}

  get dtype(): TorchDType {
    return this.storage.dtype;
  }

  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  get device(): string {
    return this.storage.location;
  }

  setState(state: PyValue): void {
    this.attrs = state;
  }

  /** Whether the view is C-contiguous (strides of size-1 dimensions do not matter, as in PyTorch). */
  isContiguous(): boolean {
    let expected = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.stride[i] !== expected) return false;
      expected *= this.shape[i];
    }
    return true;
  }

  /** The elements in C order, little-endian (a view of the file when the tensor is contiguous). */
  bytes(): Uint8Array {
    if (this.materialised) return this.materialised;
    const { storage, shape, stride, offset } = this;
    const data = storage.bytes;
    const bad = (why: string): never => {
      throw new PthFormatError(`${storage.what} is not a valid PyTorch checkpoint: ${why}`);
    };
    if (!data) return bad(`storage ${plain(storage.key)} has no data`);
    const item = ITEMSIZE[this.dtype];
    const n = this.numel;
    if (n === 0) return (this.materialised = new Uint8Array(0));
    let last = offset;
    for (let i = 0; i < shape.length; i++) last += (shape[i] - 1) * stride[i];
    const available = Math.floor(data.byteLength / item);
    if (last >= available)
      bad(
        `a tensor of shape [${shape.join(', ')}] (offset ${offset}, stride [${stride.join(', ')}]) lies outside its storage of ${available} elements; truncated?`,
      );
    if (this.isContiguous()) return (this.materialised = data.subarray(offset * item, (offset + n) * item));
    // A stride-0 view (expand) of a small storage could ask for any amount of memory.
    if (n * item > 8 * data.byteLength + 2 ** 20)
      bad(`a strided tensor of ${n} elements over a storage of ${available}; pss does not expand it`);
    const out = new Uint8Array(n * item);
    const rank = shape.length;
    const inner = shape[rank - 1];
    const innerStride = stride[rank - 1];
    const rows = n / inner;
    const index = new Array<number>(rank - 1).fill(0);
    let at = 0;
    for (let r = 0; r < rows; r++) {
      let src = offset;
      for (let d = 0; d < rank - 1; d++) src += index[d] * stride[d];
      if (innerStride === 1) {
        out.set(data.subarray(src * item, (src + inner) * item), at);
        at += inner * item;
      } else {
        for (let j = 0; j < inner; j++, at += item) {
          const s = (src + j * innerStride) * item;
          for (let b = 0; b < item; b++) out[at + b] = data[s + b];
        }
      }
      for (let d = rank - 2; d >= 0; d--) {
        if (++index[d] < shape[d]) break;
        index[d] = 0;
      }
    }
    return (this.materialised = out);
  }

  /** Whether the dtype is floating-point (float64/32/16, bfloat16). */
  isFloating(): boolean {
    return FLOAT_ST[this.dtype] !== undefined;
  }

  /** The tensor in safetensors' terms (floating and the dtypes safetensors.ts reads). */
  toStTensor(): StTensor {
    const st: Partial<Record<TorchDType, StDType>> = {
      ...FLOAT_ST,
      int64: 'I64',
      int32: 'I32',
      uint8: 'U8',
      bool: 'BOOL',
    };
    const dtype = st[this.dtype];
    if (!dtype) throw new PssError(`a ${this.dtype} tensor cannot be converted`);
    return { dtype, shape: [...this.shape], bytes: this.bytes() };
  }

  /** Floating values as float32, converted exactly as safetensors.ts converts the same dtype. */
  toFloat32(): Float32Array {
    if (!this.isFloating()) throw new PssError(`a ${this.dtype} tensor is not floating-point`);
    return toFloat32(this.toStTensor());
  }

  /** Real values as float64 (int64 beyond 2^53 rounds). */
  toFloat64(): Float64Array {
    const b = this.bytes();
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const n = this.numel;
    const out = new Float64Array(n);
    switch (this.dtype) {
      case 'float64':
        for (let i = 0; i < n; i++) out[i] = v.getFloat64(8 * i, true);
        return out;
      case 'float32':
      case 'float16':
      case 'bfloat16':
        out.set(this.toFloat32());
        return out;
      case 'int64':
        for (let i = 0; i < n; i++) out[i] = Number(v.getBigInt64(8 * i, true));
        return out;
      case 'int32':
        for (let i = 0; i < n; i++) out[i] = v.getInt32(4 * i, true);
        return out;
      case 'int16':
        for (let i = 0; i < n; i++) out[i] = v.getInt16(2 * i, true);
        return out;
      case 'int8':
        for (let i = 0; i < n; i++) out[i] = v.getInt8(i);
        return out;
      case 'uint8':
      case 'bool':
        for (let i = 0; i < n; i++) out[i] = b[i];
        return out;
      default:
        throw new PssError(`a ${this.dtype} tensor is not real-valued`);
    }
  }
}

/** A short description of a value, for messages. */
export function describe(v: PyValue): string {
  if (v === null) return 'None';
  if (v instanceof TorchTensor) return `a ${v.dtype} tensor [${v.shape.join(', ')}]`;
  if (v instanceof PyDict) {
    const keys = [...v.keys()].slice(0, 6).map((k) => (typeof k === 'string' ? quoted(k, 40) : describe(k)));
    return v.size ? `a dict with keys ${keys.join(', ')}${v.size > 6 ? ', …' : ''}` : 'an empty dict';
  }
  if (isTuple(v)) return `a tuple of ${v.length}`;
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (typeof v === 'string') return quoted(v, 40);
  if (typeof v === 'bigint')
    return String(v).length > 40 ? `an integer of ${String(v).length} digits` : String(v);
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (v instanceof Set) return `a set of ${v.size}`;
  if (v instanceof PyObject) return `a ${v.cls}`;
  if (v instanceof PyCallable || v instanceof StorageType) return v.name;
  if (v instanceof TorchStorage) return `a ${v.dtype} storage`;
  return typeof v === 'object' ? 'an object' : String(v);
}

/** A name from the file as it is when it is plain, quoted (and escaped) when it is not. */
export const plain = (s: string) => (/^[\w.<>/:+-]{1,80}$/.test(s) ? s : quoted(s, 80));
