/**
 * Reading and writing files so that every failure a user can cause is one line: reads take
 * regular files only (never a device, FIFO or socket, which could block or never end) up to
 * a size cap; every errno becomes a PssError naming the file and the problem.
 */
import { constants, rmSync } from 'node:fs';
import { mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PssError } from '../errors.js';

/** Node's readFile refuses files over 2 GiB; nothing pss reads is legitimately larger. */
export const MAX_READ_BYTES = 2 ** 31 - 1;

const PHRASES: Record<string, string> = {
  ENOENT: 'not found',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EEXIST: 'already exists',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  EIO: 'input/output error',
  ENAMETOOLONG: 'file name too long',
  ELOOP: 'too many symbolic links',
  EBUSY: 'resource busy',
  ETXTBSY: 'text file busy',
  EFBIG: 'file too large',
  ENXIO: 'no such device',
  ENODEV: 'no such device',
  EINVAL: 'invalid argument',
  EAGAIN: 'resource temporarily unavailable',
  EXDEV: 'crosses file systems',
  ENOTEMPTY: 'directory not empty',
  ESTALE: 'stale file handle',
};

/** The errno code of a Node file-system error, if it is one. */
export const errnoCode = (e: unknown): string | undefined =>
  e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string'
    ? (e as NodeJS.ErrnoException).code
    : undefined;

/**
 * A file-system error as one line: "cannot <action> <path>: <what went wrong>". Errors without
 * an errno (bugs) are returned unchanged, so they keep their stack.
 */
export function ioError(e: unknown, action: string, path: string): unknown {
  if (e instanceof PssError) return e;
  const code = errnoCode(e);
  if (!code || !/^E[A-Z0-9]+$/.test(code)) return e;
  const phrase =
    code === 'ENOENT' && !action.startsWith('read')
      ? 'a folder on the path does not exist (a broken symbolic link?)'
      : (PHRASES[code] ?? (e as Error).message.replace(/^[A-Z0-9]+: /, '').split(',')[0]);
  const hint =
    code === 'ENOSPC' || code === 'EDQUOT'
      ? '; free some space or write elsewhere'
      : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
        ? '; choose a location you can write to'
        : '';
  return new PssError(
    `cannot ${action} ${path}: ${phrase} (${code})${action.startsWith('read') ? '' : hint}`,
  );
}

/** Runs a file-system step; any errno becomes a one-line PssError. */
export async function fsStep<T>(action: string, path: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (e) {
    throw ioError(e, action, path);
  }
}

const kind = (s: import('node:fs').Stats) =>
  s.isDirectory()
    ? 'a directory'
    : s.isFIFO()
      ? 'a FIFO (named pipe)'
      : s.isSocket()
        ? 'a socket'
        : s.isCharacterDevice() || s.isBlockDevice()
          ? 'a device'
          : 'not a regular file';

export const formatBytes = (n: number): string =>
  n >= 2 ** 30
    ? `${(n / 2 ** 30).toFixed(1)} GiB`
    : n >= 2 ** 20
      ? `${(n / 2 ** 20).toFixed(1)} MiB`
      : n >= 1024
        ? `${(n / 1024).toFixed(1)} KiB`
        : `${n} bytes`;

/**
 * Reads a whole regular file of at most `maxBytes`. `what` names it in messages ("weights
 * file", "input file"). Devices, FIFOs, sockets and directories are refused before a byte
 * is read (opened non-blocking, so a FIFO without a writer cannot hang the open).
 */
export async function readFileChecked(
  path: string,
  what: string,
  maxBytes: number = MAX_READ_BYTES,
): Promise<Uint8Array> {
  if (path === '') throw new PssError(`${what}: empty path`);
  let handle: import('node:fs/promises').FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT') throw new PssError(`${what} not found: ${path}`);
    if (code === 'EISDIR') throw new PssError(`${what} is a directory, not a file: ${path}`);
    if (code === 'EACCES' || code === 'EPERM')
      throw new PssError(`${what} is not readable (permission denied): ${path}`);
    throw ioError(e, `read ${what}`, path);
  }
  try {
    const s = await handle.stat();
    if (s.isDirectory()) throw new PssError(`${what} is a directory, not a file: ${path}`);
    if (!s.isFile()) throw new PssError(`${what} ${path} is ${kind(s)}, not a regular file`);
    if (s.size > maxBytes)
      throw new PssError(
        `${what} ${path} is ${formatBytes(s.size)}; pss reads ${what}s of up to ${formatBytes(maxBytes)}`,
      );
    const out = new Uint8Array(s.size);
    let done = 0;
    while (done < s.size) {
      const { bytesRead } = await handle.read(out, done, s.size - done, done);
      if (bytesRead === 0) break; // truncated while we read: parse what is there
      done += bytesRead;
    }
    return done === s.size ? out : out.subarray(0, done);
  } catch (e) {
    throw ioError(e, `read ${what}`, path);
  } finally {
    await handle.close();
  }
}

/** readFileChecked as UTF-8 text. */
export async function readTextChecked(path: string, what: string, maxBytes?: number): Promise<string> {
  return new TextDecoder().decode(await readFileChecked(path, what, maxBytes));
}

/** A regular file's size, or a one-line error (missing, a directory, a device...). */
export async function regularFileSize(path: string, what: string): Promise<number> {
  const s = await fsStep(`read ${what}`, path, () => stat(path));
  if (!s.isFile()) throw new PssError(`${what} ${path} is ${kind(s)}, not a regular file`);
  return s.size;
}

const tmpName = (path: string) => `${path}.tmp-${process.pid}-${Date.now().toString(36)}`;

/**
 * Temporary files and staging folders being written: removed synchronously when the process
 * exits (Ctrl+C included), so an interrupted write leaves nothing behind.
 */
const inFlight = new Set<string>();
process.on('exit', () => {
  for (const p of inFlight) rmSync(p, { recursive: true, force: true });
});

/** mkdir -p, where a file in the way is named as such (mkdir says EEXIST). */
async function makeDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    if (errnoCode(e) !== 'EEXIST') throw e;
    throw new PssError(`cannot write into ${dir}: a part of the path is a file, not a directory`);
  }
}

/**
 * An output pss renames into place: a rename would put a file where a device, FIFO or folder
 * was (as root, /dev/full or /dev/stdout itself), so an existing path must be a regular file.
 */
async function checkReplaceable(path: string): Promise<void> {
  const existing = await stat(path).catch(() => undefined);
  if (existing && !existing.isFile())
    throw new PssError(
      `${path} is ${kind(existing)}; pss writes its outputs to regular files (for standard output, give - where the flag takes it)`,
    );
}

/** Writes never leave a half-written file: `write` fills a temporary sibling, then it is renamed. */
async function atomically(path: string, write: (tmp: string) => Promise<void>): Promise<void> {
  await checkReplaceable(path);
  const tmp = tmpName(path);
  inFlight.add(tmp);
  try {
    await makeDir(dirname(path));
    await write(tmp);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {});
    throw ioError(e, 'write', path);
  } finally {
    inFlight.delete(tmp);
  }
}

export function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  return atomically(path, (tmp) => writeFile(tmp, data));
}

/** writeFileAtomic for text made piece by piece (larger than one string can be). */
export function writeChunksAtomic(path: string, chunks: Iterable<string>): Promise<void> {
  return atomically(path, async (tmp) => {
    const handle = await open(tmp, 'w');
    try {
      let buffered = '';
      for (const piece of chunks) {
        buffered += piece;
        if (buffered.length >= 1 << 20) {
          await handle.write(buffered);
          buffered = '';
        }
      }
      await handle.write(buffered);
    } finally {
      await handle.close();
    }
  });
}

/**
 * Writes a set of files into `dir` all or nothing: each is written into a staging folder
 * beside `dir` first (where a full disk or a permission problem shows up), and only when
 * all are there are they renamed into place — renames within one file system need no space
 * and cannot fail halfway for lack of it. Other files already in `dir` are left alone.
 */
export async function writeFilesAtomic(
  dir: string,
  files: Record<string, Uint8Array | string>,
): Promise<void> {
  for (const name of Object.keys(files)) await checkReplaceable(`${dir}/${name}`);
  const stage = tmpName(dir.replace(/\/+$/, '') || '.');
  inFlight.add(stage);
  try {
    await makeDir(dir);
    await mkdir(stage);
    for (const [name, data] of Object.entries(files)) await writeFile(`${stage}/${name}`, data);
    for (const name of Object.keys(files)) await rename(`${stage}/${name}`, `${dir}/${name}`);
  } catch (e) {
    throw ioError(e, 'write', dir);
  } finally {
    await rm(stage, { recursive: true, force: true }).catch(() => {});
    inFlight.delete(stage);
  }
}

/**
 * Checks, before a long job starts, that its output can be written: creates the folder if
 * needed and a probe file beside `path`, then removes the probe.
 */
export async function checkWritable(path: string): Promise<void> {
  const probe = tmpName(path);
  try {
    await makeDir(dirname(path));
    await writeFile(probe, '');
  } catch (e) {
    throw ioError(e, 'write', path);
  } finally {
    await rm(probe, { force: true }).catch(() => {});
  }
}
