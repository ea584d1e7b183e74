/**
 * Remote weights: `resolveWeights` turns a `--weights` value (spec.ts) into a local file,
 * downloading at most once into the cache (cache.ts): the transfer (transfer.ts) fills
 * `<file>.part`, which is checked (integrity.ts) before it is renamed into place. A file
 * that fails the checks is deleted and the error says so; a resumed .part that fails them
 * is first retried from zero (it may be the start of an older version of the file).
 *
 * Nothing is drawn here: `onProgress` hears how the bytes come (the CLI draws its progress
 * bar from it, src/cli/progress.ts), and stdout and stderr are never written.
 *
 * | variable            | use                                                                |
 * | ------------------- | ------------------------------------------------------------------ |
 * | `PSS_CACHE_DIR`     | the cache root (downloads go to `$PSS_CACHE_DIR/downloads`)         |
 * | `XDG_CACHE_HOME`    | the cache root is `$XDG_CACHE_HOME/pss` when PSS_CACHE_DIR is unset |
 * | `PSS_HF_ENDPOINT`   | the Hub's base URL for `hf:` references (default https://huggingface.co); `HF_ENDPOINT` is read when it is unset (mirrors) |
 */
import { rm, stat } from 'node:fs/promises';
import { PssError } from '../../errors.js';
import { commitDownload, fromCache } from './cache.js';
import { verifyDownload } from './integrity.js';
import { describeDownload, hubHint, parseWeightsSpec } from './spec.js';
import { transfer } from './transfer.js';

/** How a download is going: bytes so far, the whole file's when known; `done` once, at the end (whatever the outcome). */
export interface DownloadProgress {
  /** The file as the user named it (the spec or the URL). */
  label: string;
  received: number;
  total?: number;
  done: boolean;
}

export interface ResolveOptions {
  /** The cache root (default: $PSS_CACHE_DIR, $XDG_CACHE_HOME/pss, ~/.cache/pss). */
  cacheDir?: string;
  /** Told how a download goes (nothing is called when the file is cached already). */
  onProgress?: (progress: DownloadProgress) => void;
  /** Milliseconds without any byte before a request times out (default 30 000). */
  timeoutMs?: number;
  /** More tries after a dropped connection, a timeout, HTTP 429 or 5xx (default 3). */
  retries?: number;
  /** The expected SHA-256 (hex) of the file, checked in addition to the server's. */
  sha256?: string;
  /** Check that the download is a safetensors file, whatever its name (default: by the .safetensors extension). */
  safetensors?: boolean;
  /** What the file is, for messages (default "weights file"). */
  what?: string;
}

/**
 * A --weights value as a local file path: a local path is checked and returned; a URL or Hub
 * reference is downloaded into the cache unless it is there already (then no request is made).
 */
export async function resolveWeights(spec: string, options: ResolveOptions = {}): Promise<string> {
  const what = options.what ?? 'weights file';
  const parsed = parseWeightsSpec(spec);
  if (parsed.kind === 'file') {
    await checkLocalFile(parsed.path, what);
    return parsed.path;
  }
  return fetchToCache(parsed.url, {
    ...options,
    label: parsed.kind === 'hub' ? (parsed.shorthand ?? spec) : parsed.url,
    hint: parsed.kind === 'hub' ? hubHint(parsed) : undefined,
  });
}

async function checkLocalFile(path: string, what: string): Promise<void> {
  let s: Awaited<ReturnType<typeof stat>>;
  try {
    s = await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new PssError(`${what} not found: ${path}`);
    if (code === 'EACCES') throw new PssError(`${what} is not readable (permission denied): ${path}`);
    throw e;
  }
  if (s.isDirectory()) throw new PssError(`${what} is a directory, not a file: ${path}`);
}

export interface FetchOptions extends ResolveOptions {
  /** How the user named the file (the spec), for messages. */
  label: string;
  /** Added to "not found" messages. */
  hint?: string;
}

/** Downloads `url` into the cache (once) and returns the cached file's path. */
export function fetchToCache(url: string, options: FetchOptions): Promise<string> {
  return fromCache(url, options.cacheDir, (file) => download(url, file, options));
}

/** Downloads into <file>.part, verifies, records the SHA-256 and renames into place. */
async function download(url: string, file: string, options: FetchOptions): Promise<void> {
  const part = `${file}.part`;
  const safetensors = options.safetensors ?? /\.safetensors$/i.test(file);
  const { label, onProgress } = options;
  let last: { received: number; total?: number } = { received: 0 };
  const onBytes = (received: number, total: number | undefined) => {
    last = { received, total };
    onProgress?.({ label, received, total, done: false });
  };
  try {
    for (let fresh = false; ; fresh = true) {
      if (fresh) await rm(part, { force: true });
      const { announced, resumed } = await transfer(url, part, { ...options, onBytes });
      const { sha256, problem } = await verifyDownload(part, {
        expected: options.sha256,
        announced,
        safetensors,
        url,
      });
      if (problem) {
        if (resumed && !fresh) continue;
        await rm(part, { force: true });
        throw new PssError(
          `the download of ${describeDownload(url, label)} was refused and deleted: ${problem}; check the URL, or download the file yourself and pass its path`,
        );
      }
      await commitDownload(part, file, sha256);
      return;
    }
  } finally {
    onProgress?.({ label, ...last, done: true });
  }
}
