/**
 * The download cache:
 *
 * ```
 * $PSS_CACHE_DIR                        (else $XDG_CACHE_HOME/pss, else ~/.cache/pss)
 * └── downloads/
 *     ├── timm--resnet50.tv_in1k--model-1b2c3d4e5f60.safetensors          the file
 *     ├── timm--resnet50.tv_in1k--model-1b2c3d4e5f60.safetensors.sha256   its SHA-256 (sha256sum -c format)
 *     ├── <name>.part     an unfinished download (resumed by the next try)
 *     └── <name>.lock     who is downloading <name> (src/io/lock.ts)
 * ```
 *
 * A file is keyed by its URL: a readable name (owner--repo[@revision]--file for Hub URLs, the
 * URL's last path segment otherwise) plus the first 12 hex digits of the URL's SHA-256. A
 * file in the cache is complete and verified (it appears there by an atomic rename), so
 * a later call returns it without any request; delete it to download again (a Hub
 * `main` revision is not re-checked — pin `@revision` for reproducibility). Concurrent
 * downloads of one URL (several processes, or one process twice) wait for each other
 * through the lock, whose holder is taken over when its process is gone.
 */
import { createHash } from 'node:crypto';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { PssError } from '../../errors.js';
import { errnoCode, ioError } from '../../io/files.js';
import { withLock } from '../../io/lock.js';
import { DEFAULT_REVISION } from './spec.js';

/** The cache root: $PSS_CACHE_DIR, $XDG_CACHE_HOME/pss, or ~/.cache/pss. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PSS_CACHE_DIR) return env.PSS_CACHE_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'pss');
  return join(homedir(), '.cache', 'pss');
}

/** The cache file name of a URL: a readable name and a short hash of the URL. */
export function cacheFileName(url: string): string {
  const u = new URL(url);
  const segments = u.pathname
    .split('/')
    .filter(Boolean)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
  let readable = segments.at(-1) ?? u.hostname;
  // A Hub URL: /owner/repo/resolve/revision/file…
  if (segments.length >= 5 && segments[2] === 'resolve') {
    const rev = segments[3] === DEFAULT_REVISION ? '' : `@${segments[3]}`;
    readable = `${segments[0]}--${segments[1]}${rev}--${segments.slice(4).join('--')}`;
  }
  readable = readable.replace(/[^A-Za-z0-9._@-]+/g, '_').replace(/^[.-]+/, '') || 'download';
  const ext = readable.match(/\.[A-Za-z0-9]{1,16}$/)?.[0] ?? '';
  const stem = readable.slice(0, readable.length - ext.length).slice(0, 120);
  const hash = createHash('sha256').update(u.href).digest('hex').slice(0, 12);
  return `${stem}-${hash}${ext}`;
}

/** Where a URL's download lives (whether or not it is there yet). */
export function cachedPath(url: string, cacheDir = cacheRoot()): string {
  return join(cacheDir, 'downloads', cacheFileName(url));
}

/**
 * The cached file of `url`: returned at once when it is there (no lock, no request);
 * otherwise `fill(file)` makes it while holding the file's lock, unless another holder made
 * it meanwhile.
 */
export async function fromCache(
  url: string,
  cacheDir: string | undefined,
  fill: (file: string) => Promise<void>,
): Promise<string> {
  const file = cachedPath(url, cacheDir);
  if (await isFile(file)) return file;
  const dir = join(cacheDir ?? cacheRoot(), 'downloads');
  await cacheStep(() => mkdir(dir, { recursive: true }), dir);
  return withLock(
    file,
    async () => {
      if (!(await isFile(file))) await fill(file);
      return file;
    },
    { wait: true, label: `pss (downloading ${basename(file)})` },
  );
}

/** Moves a verified download into place, its SHA-256 recorded beside it first. */
export async function commitDownload(part: string, file: string, sha256: string): Promise<void> {
  await cacheStep(() => writeFile(`${file}.sha256`, `${sha256}  ${basename(file)}\n`), file);
  await cacheStep(() => rename(part, file), file);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Runs a step that writes the cache; the errors a user fixes by pointing PSS_CACHE_DIR
 * elsewhere (permissions, space) say so, other errnos are one line (io/files.ts).
 */
export async function cacheStep<T>(step: () => Promise<T>, path: string): Promise<T> {
  try {
    return await step();
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOSPC')
      throw new PssError(
        `no space left on the device while writing ${path}; free some space or set PSS_CACHE_DIR to another folder`,
      );
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOTDIR' || code === 'EEXIST')
      throw new PssError(
        `cannot write the download cache (${path}: ${code}); set PSS_CACHE_DIR to a writable folder`,
      );
    throw ioError(e, 'write', path);
  }
}
