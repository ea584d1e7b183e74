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
import { PssError } from '../errors.js';
import { PickleError, type PyValue, RefusedGlobalError } from './pickle.js';
import { readLegacy, readZip, ZIP_MAGIC } from './pth/containers.js';
import { PthFormatError, plain } from './pth/tensor.js';

export { isTuple, PyDict, PyObject, type PyValue } from './pickle.js';
export { stateDictTensors } from './pth/state-dict.js';
export { describe, PthFormatError, type TorchDType, TorchStorage, TorchTensor } from './pth/tensor.js';

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
