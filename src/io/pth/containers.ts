/**
 * The two containers of torch.save: the zip archive (PyTorch >= 1.6) and the legacy stream of
 * pickles (PyTorch < 1.6); see pth.ts for their layout. Each returns the unpickled object,
 * its storages filled with their bytes.
 */
import { unzipSync } from 'fflate';
import { PssError, quoted } from '../../errors.js';
import { isTuple, PyDict, type PyValue, unpickle } from '../pickle.js';
import { resolveGlobal } from './globals.js';
import { describe, ITEMSIZE, plain, StorageType, TorchStorage } from './tensor.js';

export const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
/** A zip entry takes at least its 30-byte local header and 46-byte directory record. */
const ZIP_ENTRY_BYTES = 76;
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

/** Throws the checkpoint's PthFormatError with `why`. */
export type Bad = (why: string) => never;

export function readZip(bytes: Uint8Array, what: string, bad: Bad): PyValue {
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

export function readLegacy(bytes: Uint8Array, what: string, bad: Bad): PyValue {
  const noGlobals = () => undefined;
  const magic = unpickle(bytes, { resolveGlobal: noGlobals });
  if (magic.value !== LEGACY_MAGIC)
    bad("a pickle without PyTorch's magic number (a plain pickle file, not torch.save?)");
  const protocol = unpickle(bytes, { offset: magic.end, resolveGlobal: noGlobals });
  if (protocol.value !== LEGACY_PROTOCOL) {
    const v = protocol.value;
    const shown =
      typeof v === 'number' || typeof v === 'bigint'
        ? String(v)
        : v instanceof Uint8Array
          ? `(${v.length} bytes)`
          : quoted(String(v), 40);
    bad(`unknown legacy protocol version ${shown}`);
  }
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
