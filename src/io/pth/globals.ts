/**
 * The globals a checkpoint's pickle may name, each interpreted here (never imported or run):
 * the list is in pth.ts. Anything else is refused by the pickle interpreter.
 */
import { isTuple, PickleError, PyCallable, PyDict, PyObject, type PyValue } from '../pickle.js';
import { describe, StorageType, type TorchDType, TorchStorage, TorchTensor } from './tensor.js';

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

export function resolveGlobal(module: string, name: string): PyValue | undefined {
  return ALLOWED.get(`${module}.${name}`);
}
