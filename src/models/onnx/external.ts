/**
 * Tensors an ONNX file keeps in files beside it ("external data": a location relative to the
 * model's folder, an offset and a length — as onnx's save_as_external_data and exporters of
 * models over protobuf's 2 GB write them). Read from the model's own folder only: a location
 * that is absolute or resolves outside it is refused, as is anything but a regular file.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type onnxProto from 'onnx-proto';
import { PssError, quoted } from '../../errors.js';
import { formatBytes } from '../../io/files.js';

/** One tensor's bytes, given its TensorProto and the name to use in messages. */
export interface ExternalData {
  read(t: onnxProto.onnx.ITensorProto, what: string): Uint8Array;
  close(): void;
}

const whole = (v: string | undefined, name: string, what: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n))
    throw new PssError(`${what}: external data ${name} ${quoted(v, 30)} is not a whole number`);
  return n;
};

export function externalDataBeside(modelPath: string): ExternalData {
  const dir = dirname(resolve(modelPath));
  const open = new Map<string, { fd: number; size: number }>();
  const file = (location: string, what: string) => {
    let f = open.get(location);
    if (f) return f;
    const path = join(dir, location);
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new PssError(
        code === 'ENOENT'
          ? `${what} is kept in ${quoted(location)}, which is not beside the model (${path})`
          : `${what}: its external data file ${path} cannot be read (${code ?? e})`,
      );
    }
    const s = fstatSync(fd);
    if (!s.isFile()) {
      closeSync(fd);
      throw new PssError(`${what}: its external data ${path} is not a regular file`);
    }
    f = { fd, size: s.size };
    open.set(location, f);
    return f;
  };
  return {
    read(t, what) {
      const entries = new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
      const location = entries.get('location');
      if (!location) throw new PssError(`${what} is kept in an external file but names none`);
      const rel = relative(dir, resolve(dir, location));
      if (isAbsolute(location) || rel.startsWith('..') || isAbsolute(rel))
        throw new PssError(
          `${what} is kept in ${quoted(location)}, outside the model's folder; pss reads external data only from beside the model`,
        );
      const { fd, size } = file(location, what);
      const offset = whole(entries.get('offset'), 'offset', what) ?? 0;
      const length = whole(entries.get('length'), 'length', what) ?? size - offset;
      if (offset + length > size || length < 0)
        throw new PssError(
          `${what}: ${quoted(location)} holds ${formatBytes(size)}; the tensor claims bytes ${offset} to ${offset + length}`,
        );
      const out = new Uint8Array(length);
      for (let done = 0; done < length; ) {
        const n = readSync(fd, out, done, length - done, offset + done);
        if (n === 0) throw new PssError(`${what}: ${quoted(location)} ended while it was read`);
        done += n;
      }
      return out;
    },
    close() {
      for (const { fd } of open.values()) closeSync(fd);
      open.clear();
    },
  };
}
