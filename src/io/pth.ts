/**
 * PyTorch checkpoint files (`torch.save`), read without Python and without running any code.
 *
 * Two containers:
 * - zip (PyTorch >= 1.6, the default): `<archive>/data.pkl` (the object, a pickle whose
 *   storages are persistent ids `('storage', <StorageClass>, key, location, numel)`),
 *   `<archive>/data/<key>` (each storage's raw little-endian bytes), `<archive>/version`;
 *   the archive folder is named after the file, or `archive`.
 * - legacy (`_use_new_zipfile_serialization=False`, PyTorch < 1.6): five pickles in a row —
 *   the magic number 0x1950a86a20f9469cfc6c, the protocol version 1001, the system info,
 *   the object (persistent ids `('storage', <StorageClass>, key, location, numel, view)`),
 *   the sorted list of storage keys — then for each key an int64 element count and the raw
 *   bytes.
 *
 * The pickles go through the safe interpreter of pickle.ts with this allow-list of globals,
 * each *interpreted* here (never imported or run): `collections.OrderedDict`; the storage
 * classes (`torch.FloatStorage`, `DoubleStorage`, `HalfStorage`, `BFloat16Storage`,
 * `LongStorage`, `IntStorage`, `ShortStorage`, `CharStorage`, `ByteStorage`, `BoolStorage`,
 * `ComplexFloatStorage`, `ComplexDoubleStorage`, `UntypedStorage`); `torch._utils`'s
 * `_rebuild_tensor`, `_rebuild_tensor_v2`, `_rebuild_parameter`,
 * `_rebuild_parameter_with_state`; `torch._tensor._rebuild_from_type(_v2)` with the types
 * `torch.Tensor` / `torch.nn.Parameter`; `torch.Size`, `torch.device`, the `torch.<dtype>`
 * names; `builtins.set` / `frozenset`, `_codecs.encode` (bytes at protocol 2) and
 * `argparse.Namespace` (as inert data). Any other global — `os.system`, `builtins.eval`, a
 * whole pickled `nn.Module` — is refused with a PssError naming it, before anything else in
 * the file is read.
 *
 * Storages saved from a GPU (location "cuda:0") read like any other: the location is a
 * label. Tensors keep their storage, offset, size and stride and are materialised
 * (contiguous, little-endian) on first use, so strided views (a transpose, a slice) read
 * as PyTorch shows them.
 */
import { unzipSync } from 'fflate';
import { PssError, quoted } from '../errors.js';
import {
  type HasState,
  isTuple,
  PickleError,
  PyCallable,
  PyDict,
  PyObject,
  type PyValue,
  RefusedGlobalError,
  unpickle,
} from './pickle.js';
import { type StDType, type StTensor, toFloat32 } from './safetensors.js';

export { isTuple, PyDict, PyObject, type PyValue } from './pickle.js';

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

const ITEMSIZE: Record<TorchDType, number> = {
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

const STORAGE_CLASSES: Record<string, TorchDType> = {
  DoubleStorage: 'float64',
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  ComplexFloatStorage: 'complex64',
  ComplexDoubleStorage: 'complex128',
  UntypedStorage: 'uint8',
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
class StorageType {
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

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
/** A zip entry takes at least its 30-byte local header and 46-byte directory record. */
const ZIP_ENTRY_BYTES = 76;
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

/**
 * Whether the bytes look like a torch.save file: a zip archive, or a pickle (PROTO 2–5) that
 * is not a safetensors file — whose 8-byte header length may well start 0x80 0x02 (640 + k·65536
 * bytes), but whose JSON header then starts with "{" at byte 8.
 */
export function isTorchCheckpoint(bytes: Uint8Array): boolean {
  if (bytes.byteLength >= 4 && ZIP_MAGIC.every((b, i) => bytes[i] === b)) return true;
  return (
    bytes.byteLength >= 2 &&
    bytes[0] === 0x80 &&
    bytes[1] >= 2 &&
    bytes[1] <= 5 &&
    !looksLikeSafeTensors(bytes)
  );
}

/** A safetensors file's start: a header length that fits the file, then "{". */
export function looksLikeSafeTensors(bytes: Uint8Array): boolean {
  if (bytes.byteLength < 10 || bytes[8] !== 0x7b) return false;
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  return n >= 2n && n <= BigInt(bytes.byteLength - 8);
}

/**
 * Reads a torch.save file into plain values: tensors (TorchTensor), PyDict, arrays (tuples
 * frozen), numbers, strings, null, booleans. `what` names the file in messages
 * ("weights file x.pth"). Throws PssErrors: PthFormatError for a damaged file, and a refusal
 * naming the global for anything outside the allow-list.
 */
export function readCheckpoint(bytes: Uint8Array, what: string): PyValue {
  const bad = (why: string): never => {
    throw new PthFormatError(`${what} is not a valid PyTorch checkpoint: ${why}`);
  };
  try {
    if (bytes.byteLength >= 4 && ZIP_MAGIC.every((b, i) => bytes[i] === b)) return readZip(bytes, what, bad);
    if (bytes.byteLength >= 2 && bytes[0] === 0x80) return readLegacy(bytes, what, bad);
    return bad('it is neither a zip archive nor a pickle');
  } catch (e) {
    if (e instanceof RefusedGlobalError) throw refusal(what, e);
    if (e instanceof PickleError) return bad(e.message);
    throw e;
  }
}

function refusal(what: string, e: RefusedGlobalError): PssError {
  const name = plain(`${e.module}.${e.qualname}`);
  const wholeModel = /^(torch\.nn|torchvision|timm|__main__)(\.|$)/.test(e.module)
    ? '; it looks like a whole pickled model: save model.state_dict() instead'
    : '';
  return new PssError(
    `refusing to load ${what}: it calls ${name}, which pss does not run (pss reads tensors, dicts, lists, numbers and strings from PyTorch checkpoints, never code${wholeModel})`,
  );
}

type Bad = (why: string) => never;

function readZip(bytes: Uint8Array, what: string, bad: Bad): PyValue {
  let files: Record<string, Uint8Array>;
  try {
    let entries = 0;
    files = unzipSync(bytes, {
      filter: (f) => {
        // the directory's entry count is not checked by fflate, which would read 2^32 of them
        if (++entries * ZIP_ENTRY_BYTES > bytes.byteLength)
          bad(`the zip directory lists more entries than a file of ${bytes.byteLength} bytes can hold`);
        // fflate allocates an entry's original size before inflating: both sizes must be credible
        if (f.size > bytes.byteLength)
          bad(
            `the zip entry ${plain(f.name)} claims ${f.size} bytes, more than the file's ${bytes.byteLength}`,
          );
        // torch.save stores entries uncompressed; a compressed one may not expand without bound
        if (f.compression !== 0 && f.originalSize > 64 * f.size + 2 ** 20)
          bad(`the zip entry ${plain(f.name)} would expand ${f.size} bytes to ${f.originalSize}`);
        return true;
      },
    });
  } catch (e) {
    if (e instanceof PssError) throw e;
    return bad(`the zip archive is damaged (${(e as Error).message}); truncated?`);
  }
  const pkl = Object.keys(files).filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkl.length !== 1)
    bad(
      pkl.length
        ? `the zip archive holds ${pkl.length} data.pkl files`
        : 'the zip archive has no <archive>/data.pkl (not a torch.save file)',
    );
  const prefix = pkl[0].slice(0, -'data.pkl'.length);
  const byteorder = files[`${prefix}byteorder`];
  if (byteorder && new TextDecoder().decode(byteorder).trim() === 'big')
    throw new PssError(`${what} was saved on a big-endian machine, which pss does not read`);
  const storages = new Map<string, TorchStorage>();
  const persistentLoad = (pid: PyValue): PyValue => {
    const [, type, key, location] = storageId(pid, 5, bad);
    let s = storages.get(key);
    if (!s) {
      const data = files[`${prefix}data/${key}`];
      if (!data) bad(`storage ${plain(key)} is missing from the zip archive`);
      s = new TorchStorage(type.dtype, key, location, what);
      s.bytes = data;
      storages.set(key, s);
    }
    return s;
  };
  return unpickle(files[pkl[0]], { resolveGlobal, persistentLoad }).value;
}

function readLegacy(bytes: Uint8Array, what: string, bad: Bad): PyValue {
  const noGlobals = () => undefined;
  const magic = unpickle(bytes, { resolveGlobal: noGlobals });
  if (magic.value !== LEGACY_MAGIC)
    bad("a pickle without PyTorch's magic number (a plain pickle file, not torch.save?)");
  const protocol = unpickle(bytes, { offset: magic.end, resolveGlobal: noGlobals });
  if (protocol.value !== LEGACY_PROTOCOL) bad(`unknown legacy protocol version ${String(protocol.value)}`);
  const sysInfo = unpickle(bytes, { offset: protocol.end, resolveGlobal: noGlobals });
  if (sysInfo.value instanceof PyDict && sysInfo.value.get('little_endian') === false)
    throw new PssError(`${what} was saved on a big-endian machine, which pss does not read`);

  const storages = new Map<string, TorchStorage>();
  const persistentLoad = (pid: PyValue): PyValue => {
    const [, type, key, location, , view] = storageId(pid, 6, bad);
    if (view !== null && !(isTuple(view) && view[1] === 0))
      bad('it uses storage views with an offset, which pss does not read');
    let s = storages.get(key);
    if (!s) {
      s = new TorchStorage(type.dtype, key, location, what);
      storages.set(key, s);
    }
    return s;
  };
  const obj = unpickle(bytes, { offset: sysInfo.end, resolveGlobal, persistentLoad });
  const keys = unpickle(bytes, { offset: obj.end, resolveGlobal: noGlobals });
  if (!Array.isArray(keys.value) || keys.value.some((k) => typeof k !== 'string'))
    bad('the list of storage keys is not a list of strings');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = keys.end;
  for (const key of keys.value as string[]) {
    const s = storages.get(key);
    if (!s) return bad(`storage ${plain(key)} is listed but never used`);
    if (pos + 8 > bytes.byteLength) bad(`the data of storage ${plain(key)} is missing; truncated?`);
    const numel = view.getBigInt64(pos, true);
    const size = numel * BigInt(ITEMSIZE[s.dtype]);
    pos += 8;
    if (numel < 0n || size > BigInt(bytes.byteLength - pos))
      bad(
        `storage ${plain(key)} needs ${size} bytes, the file has ${bytes.byteLength - pos} left; truncated?`,
      );
    s.bytes = bytes.subarray(pos, pos + Number(size));
    pos += Number(size);
  }
  for (const [key, s] of storages) if (!s.bytes) bad(`storage ${plain(key)} is used but has no data`);
  return obj.value;
}

/** ('storage', StorageClass, key, location, numel[, view]) → its parts, validated. */
function storageId(
  pid: PyValue,
  length: number,
  bad: Bad,
): [string, StorageType, string, string, PyValue, PyValue] {
  if (!isTuple(pid) || pid[0] !== 'storage' || pid.length !== length)
    return bad(`an unknown persistent id ${describe(pid)}`);
  const [kind, type, key, location, numel, view = null] = pid as PyValue[];
  if (!(type instanceof StorageType)) return bad('a storage whose type is not a storage class');
  if (typeof key !== 'string' || typeof location !== 'string')
    return bad('a storage whose key or location is not a string');
  return [kind as string, type, key, location, numel, view];
}

// ---- the allow-list ---------------------------------------------------------------------------

const int = (v: PyValue, what: string): number => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw new PickleError(`${what} ${describe(v)} is not a size`);
  return v;
};
const ints = (v: PyValue, what: string): number[] => {
  if (!Array.isArray(v)) throw new PickleError(`${what} ${describe(v)} is not a tuple`);
  return v.map((x) => int(x, what));
};

function rebuildTensor(args: readonly PyValue[], name: string): TorchTensor {
  const [storage, offset, size, stride, requiresGrad = false] = args;
  if (args.length < 4 || !(storage instanceof TorchStorage))
    throw new PickleError(`${name} without a storage`);
  const shape = ints(size, 'tensor size');
  const strides = ints(stride, 'tensor stride');
  if (shape.length !== strides.length)
    throw new PickleError(`a tensor of size [${shape}] with stride [${strides}]`);
  return new TorchTensor(storage, int(offset, 'storage offset'), shape, strides, requiresGrad === true);
}

const asTensor = (v: PyValue, name: string): TorchTensor => {
  if (!(v instanceof TorchTensor)) throw new PickleError(`${name} of something that is not a tensor`);
  return v;
};

const TENSOR_TYPES = ['torch._tensor.Tensor', 'torch.Tensor', 'torch.nn.parameter.Parameter'];

function fromType(args: readonly PyValue[], name: string): PyValue {
  const [func, type, fargs, state = null] = args;
  if (!(func instanceof PyCallable) || !func.call || !(type instanceof PyCallable) || !isTuple(fargs))
    throw new PickleError(`${name} with bad arguments`);
  if (!TENSOR_TYPES.includes(type.name)) throw new PickleError(`${name} of type ${type.name}`);
  const t = asTensor(func.call(fargs), name);
  if (type.name.endsWith('Parameter')) t.isParameter = true;
  if (state !== null) t.setState(state);
  return t;
}

function orderedDict(args: readonly PyValue[]): PyDict {
  const d = new PyDict();
  const items = args[0];
  if (args.length > 1) throw new PickleError('OrderedDict with more than one argument');
  if (items instanceof PyDict) for (const [k, v] of items) d.set(k, v);
  else if (Array.isArray(items))
    for (const pair of items) {
      if (!Array.isArray(pair) || pair.length !== 2) throw new PickleError('OrderedDict of non-pairs');
      d.set(pair[0], pair[1]);
    }
  else if (items !== undefined) throw new PickleError('OrderedDict of something that is not a list');
  return d;
}

function makeSet(args: readonly PyValue[]): Set<PyValue> {
  const items = args[0] ?? [];
  if (!Array.isArray(items)) throw new PickleError('set of something that is not a list');
  return new Set(items);
}

function latin1Encode(args: readonly PyValue[]): Uint8Array {
  const [s, encoding = 'utf-8'] = args;
  if (typeof s !== 'string' || !['latin1', 'latin-1', 'iso-8859-1'].includes(String(encoding).toLowerCase()))
    throw new PickleError('_codecs.encode other than of a string to latin1');
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255) throw new PickleError('_codecs.encode of a non-latin1 string');
    out[i] = c;
  }
  return out;
}

function device(args: readonly PyValue[]): string {
  const [type, index = null] = args;
  if (typeof type !== 'string') throw new PickleError('torch.device of something that is not a string');
  return index === null ? type : `${type}:${index}`;
}

const TORCH_DTYPES = [
  'float64',
  'float32',
  'float16',
  'bfloat16',
  'int64',
  'int32',
  'int16',
  'int8',
  'uint8',
  'bool',
  'complex64',
  'complex128',
  'double',
  'float',
  'half',
  'long',
  'int',
  'short',
];

const ALLOWED = new Map<string, PyValue>();
{
  const fn = (
    name: string,
    call: (args: readonly PyValue[]) => PyValue,
    newobj?: (a: readonly PyValue[]) => PyValue,
  ) => ALLOWED.set(name, new PyCallable(name, call, newobj));
  fn('collections.OrderedDict', orderedDict, () => new PyDict());
  fn('torch._utils._rebuild_tensor', (a) => rebuildTensor(a, '_rebuild_tensor'));
  fn('torch._utils._rebuild_tensor_v2', (a) => rebuildTensor(a, '_rebuild_tensor_v2'));
  const parameter = (a: readonly PyValue[]) => {
    const t = asTensor(a[0], '_rebuild_parameter');
    t.isParameter = true;
    if (a.length >= 4 && a[3] !== null) t.setState(a[3]);
    return t;
  };
  fn('torch._utils._rebuild_parameter', parameter);
  fn('torch._utils._rebuild_parameter_with_state', parameter);
  fn('torch._tensor._rebuild_from_type_v2', (a) => fromType(a, '_rebuild_from_type_v2'));
  fn('torch._tensor._rebuild_from_type', (a) => fromType(a, '_rebuild_from_type'));
  for (const t of TENSOR_TYPES) ALLOWED.set(t, new PyCallable(t)); // types: named, never called
  fn('torch.Size', (a) => Object.freeze(ints(a[0] ?? [], 'torch.Size')));
  fn('torch.device', device);
  for (const d of TORCH_DTYPES) ALLOWED.set(`torch.${d}`, `torch.${d}`);
  for (const [name, dtype] of Object.entries(STORAGE_CLASSES))
    ALLOWED.set(`torch.${name}`, new StorageType(`torch.${name}`, dtype));
  for (const b of ['builtins', '__builtin__']) {
    fn(`${b}.set`, makeSet);
    fn(`${b}.frozenset`, makeSet);
  }
  fn('_codecs.encode', latin1Encode);
  const namespace = () => new PyObject('argparse.Namespace');
  fn('argparse.Namespace', namespace, namespace);
}

function resolveGlobal(module: string, name: string): PyValue | undefined {
  return ALLOWED.get(`${module}.${name}`);
}

// ---- state dicts ------------------------------------------------------------------------------

/** Keys under which training checkpoints wrap their state dict. */
const WRAPPERS = ['state_dict', 'model', 'model_state_dict'];

const isStateDict = (v: PyValue): v is PyDict =>
  v instanceof PyDict &&
  [...v.values()].some((x) => x instanceof TorchTensor) &&
  [...v.keys()].every((k) => typeof k === 'string');

/**
 * The tensors of a state dict: the checkpoint itself, or the dict it holds under
 * `state_dict`, `model` or `model_state_dict` (training checkpoints). `num_batches_tracked`
 * and non-tensor entries are left out; a `module.` prefix on every name (nn.DataParallel)
 * is removed.
 */
export function stateDictTensors(root: PyValue, what: string): Map<string, TorchTensor> {
  let sd: PyDict | undefined;
  if (isStateDict(root)) sd = root;
  else if (root instanceof PyDict)
    for (const key of WRAPPERS) {
      const v = root.get(key) ?? null;
      if (isStateDict(v)) {
        sd = v;
        break;
      }
    }
  if (!sd)
    throw new PssError(
      `${what} holds no state dict: expected a dict of tensors, or one under "${WRAPPERS.join('", "')}"; it holds ${describe(root)}`,
    );
  const out = new Map<string, TorchTensor>();
  for (const [k, v] of sd)
    if (v instanceof TorchTensor && !(k as string).endsWith('num_batches_tracked')) out.set(k as string, v);
  const names = [...out.keys()];
  if (names.length && names.every((n) => n.startsWith('module.')))
    return new Map([...out].map(([k, v]) => [k.slice('module.'.length), v]));
  return out;
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
const plain = (s: string) => (/^[\w.<>/:+-]{1,80}$/.test(s) ? s : quoted(s, 80));
