/**
 * Remote weights: `--weights` takes a local path, an http(s) URL or a Hugging Face Hub
 * reference, and `resolveWeights` turns each into a local file, downloading at most once.
 *
 * ## What `--weights` accepts
 *
 * | spec                                  | means                                                           |
 * | ------------------------------------- | --------------------------------------------------------------- |
 * | `w.safetensors`, `/abs/path`          | a local file, used in place                                     |
 * | `file:///abs/path`                    | the same                                                        |
 * | `https://host/path/w.safetensors`     | downloaded once into the cache (`http://` too)                  |
 * | `hf:owner/repo[@revision][/file]`     | `$ENDPOINT/owner/repo/resolve/revision/file`; revision `main`,   |
 * |                                       | file `model.safetensors` by default                             |
 * | `tv:resnet50`                         | `hf:timm/resnet50.tv_in1k`: torchvision's ImageNet weights, as  |
 * |                                       | timm republishes them (resnet*, vgg*, densenet*, inception_v3)  |
 *
 * ## Cache layout
 *
 * ```
 * $PSS_CACHE_DIR                        (else $XDG_CACHE_HOME/pss, else ~/.cache/pss)
 * └── downloads/
 *     ├── timm--resnet50.tv_in1k--model-1b2c3d4e5f60.safetensors          the file
 *     ├── timm--resnet50.tv_in1k--model-1b2c3d4e5f60.safetensors.sha256   its SHA-256 (sha256sum -c format)
 *     ├── <name>.part     an unfinished download (resumed by the next try)
 *     └── <name>.lock     the pid of the process downloading <name>
 * ```
 *
 * A file is keyed by its URL: a readable name (owner--repo[@revision]--file for Hub URLs, the
 * URL's last path segment otherwise) plus the first 12 hex digits of the URL's SHA-256. A
 * file in the cache is complete and verified (it appears there by an atomic rename), so
 * a later call returns it without any request; delete it to download again (a Hub
 * `main` revision is not re-checked — pin `@revision` for reproducibility).
 *
 * ## Downloads
 *
 * - streamed into `<name>.part`; an interrupted download resumes with an HTTP Range request
 *   (from the size of the .part) — within a call (up to `retries` more tries on a dropped
 *   connection, a timeout, HTTP 429 or 5xx) and across calls (the .part stays). A server that
 *   answers a Range request with 200 sends the whole file, and the .part restarts from zero;
 * - redirects are followed (the Hub redirects to its CDN), https → http is refused;
 * - `timeoutMs` (default 30 s) without any byte is a timeout;
 * - integrity: a SHA-256 announced by the server (the Hub's `X-Linked-Etag`, a 64-hex strong
 *   `ETag`, or `Digest: sha-256=`) or passed as `sha256` must match, and a `.safetensors`
 *   file's header must parse and fit the file; otherwise the file is deleted and the
 *   error says so (a resumed download that fails these checks is first retried from zero);
 * - concurrent downloads of one URL (several processes, or one process twice) wait for each
 *   other through the .lock file (a lock whose pid is dead is taken over);
 * - a progress bar (bytes, speed, ETA) on stderr when stderr is a terminal, or when
 *   `progress: true` / `PSS_PROGRESS=1` (`PSS_PROGRESS=0` turns it off); stdout is never written;
 * - failures are PssErrors with one line that says what to do: offline / DNS failure /
 *   connection refused / timeout, HTTP 404, 401/403, server errors.
 *
 * ## Environment
 *
 * | variable            | use                                                                |
 * | ------------------- | ------------------------------------------------------------------ |
 * | `PSS_CACHE_DIR`     | the cache root (downloads go to `$PSS_CACHE_DIR/downloads`)         |
 * | `XDG_CACHE_HOME`    | the cache root is `$XDG_CACHE_HOME/pss` when PSS_CACHE_DIR is unset |
 * | `PSS_HF_ENDPOINT`   | the Hub's base URL for `hf:` references (default https://huggingface.co); `HF_ENDPOINT` is read when it is unset (mirrors) |
 * | `PSS_PROGRESS`      | `1`: always show the progress bar; `0`: never                      |
 *
 * Proxies (HTTPS_PROXY) are not used: behind one, download the file yourself and pass its path.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SingleBar } from 'cli-progress';
import { PssError } from '../errors.js';
import { withLock } from '../io/lock.js';

export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';
const DEFAULT_HUB_FILE = 'model.safetensors';
const DEFAULT_REVISION = 'main';

export interface ResolveOptions {
  /** The cache root (default: $PSS_CACHE_DIR, $XDG_CACHE_HOME/pss, ~/.cache/pss). */
  cacheDir?: string;
  /** Show a progress bar on stderr (default: $PSS_PROGRESS, else whether stderr is a terminal). */
  progress?: boolean;
  /** Where the progress bar goes (default: process.stderr). */
  progressStream?: NodeJS.WritableStream;
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

export type WeightsSpec =
  | { kind: 'file'; path: string }
  | { kind: 'url'; url: string }
  | {
      kind: 'hub';
      url: string;
      owner: string;
      repo: string;
      revision: string;
      file: string;
      shorthand?: string;
    };

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Reads a --weights value: a local path, an http(s)/file URL, `hf:owner/repo[@rev][/file]` or `tv:<arch>`. */
export function parseWeightsSpec(spec: string): WeightsSpec {
  if (/^https?:\/\//i.test(spec)) {
    try {
      return { kind: 'url', url: new URL(spec).href };
    } catch {
      throw new PssError(`not a valid URL: ${spec}`);
    }
  }
  if (/^file:\/\//i.test(spec)) {
    try {
      return { kind: 'file', path: fileURLToPath(spec) };
    } catch {
      throw new PssError(`not a valid file URL: ${spec}`);
    }
  }
  if (/^tv:/i.test(spec)) {
    const arch = spec.slice(3);
    if (!NAME.test(arch))
      throw new PssError(`bad weights reference ${spec}: expected tv:<architecture>, e.g. tv:resnet50`);
    return { ...parseHubRef(`hf:timm/${arch}.tv_in1k`), shorthand: spec };
  }
  if (/^hf:/i.test(spec)) return parseHubRef(spec);
  return { kind: 'file', path: spec };
}

function parseHubRef(spec: string): Extract<WeightsSpec, { kind: 'hub' }> {
  const bad = (why: string): never => {
    throw new PssError(
      `bad Hub reference ${spec}: ${why}; expected hf:owner/repo[@revision][/file], e.g. hf:timm/resnet50.tv_in1k`,
    );
  };
  const body = spec.slice(3).replace(/^\/\//, '');
  const m = body.match(/^([^/@]+)\/([^/@]+)(?:@([^/]+))?(?:\/(.+))?$/);
  if (!m) return bad('no owner/repo');
  const [, owner, repo, revision = DEFAULT_REVISION, file = DEFAULT_HUB_FILE] = m;
  if (!NAME.test(owner) || !NAME.test(repo)) bad(`"${owner}/${repo}" is not a repository name`);
  const parts = file.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) bad(`"${file}" is not a file path`);
  const url = `${hubEndpoint()}/${owner}/${repo}/resolve/${encodeURIComponent(revision)}/${parts
    .map(encodeURIComponent)
    .join('/')}`;
  return { kind: 'hub', url, owner, repo, revision, file };
}

/** The Hub's base URL: $PSS_HF_ENDPOINT, $HF_ENDPOINT, or https://huggingface.co. */
export function hubEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  return (env.PSS_HF_ENDPOINT || env.HF_ENDPOINT || DEFAULT_HF_ENDPOINT).replace(/\/+$/, '');
}

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

/** The architectures whose torchvision ImageNet weights timm publishes as timm/<arch>.tv_in1k. */
export const hasTorchvisionHubWeights = (arch: string): boolean =>
  /^(resnet\d+|vgg\d+(_bn)?|densenet\d+|inception_v3)$/.test(arch);

function hubHint(ref: Extract<WeightsSpec, { kind: 'hub' }>): string {
  if (ref.shorthand)
    return `${ref.shorthand} means hf:${ref.owner}/${ref.repo}; timm publishes torchvision's ImageNet weights as timm/<arch>.tv_in1k for resnet*, vgg*, densenet* and inception_v3`;
  return `Hub references are hf:owner/repo[@revision][/file], the file ${DEFAULT_HUB_FILE} unless named`;
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

interface FetchOptions extends ResolveOptions {
  /** How the user named the file (the spec), for messages. */
  label: string;
  /** Added to "not found" messages. */
  hint?: string;
}

/** Downloads `url` into the cache (once) and returns the cached file's path. */
export async function fetchToCache(url: string, options: FetchOptions): Promise<string> {
  const dir = join(options.cacheDir ?? cacheRoot(), 'downloads');
  const file = join(dir, cacheFileName(url));
  if (await isFile(file)) return file;
  await fsStep(() => mkdir(dir, { recursive: true }), dir);
  return withLock(
    file,
    async () => {
      if (!(await isFile(file))) await download(url, file, options);
      return file;
    },
    { wait: true, label: `pss (downloading ${basename(file)})` },
  );
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** Runs a file-system step; errors a user can fix (permissions, space) become PssErrors. */
async function fsStep<T>(step: () => Promise<T>, path: string): Promise<T> {
  try {
    return await step();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC')
      throw new PssError(
        `no space left on the device while writing ${path}; free some space or set PSS_CACHE_DIR to another folder`,
      );
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOTDIR' || code === 'EEXIST')
      throw new PssError(
        `cannot write the download cache (${path}: ${code}); set PSS_CACHE_DIR to a writable folder`,
      );
    throw e;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Downloads into <file>.part, verifies, records the SHA-256 and renames into place. */
async function download(url: string, file: string, options: FetchOptions): Promise<void> {
  const part = `${file}.part`;
  const checkHeader = options.safetensors ?? /\.safetensors$/i.test(file);
  const bar = new Progress(basename(options.label), options);
  try {
    for (let fresh = false; ; fresh = true) {
      if (fresh) await rm(part, { force: true });
      const { announced, resumed } = await transfer(url, part, options, bar);
      const expected = options.sha256?.toLowerCase();
      const actual = await sha256File(part);
      let problem: string | undefined;
      if (expected && actual !== expected) problem = `its SHA-256 is ${actual}, not the expected ${expected}`;
      else if (announced && actual !== announced)
        problem = `its SHA-256 is ${actual}, but the server announced ${announced}`;
      else if (checkHeader) problem = await safetensorsProblem(part);
      if (problem) {
        // A resumed .part may be the start of an older version of the file: retry from zero once.
        if (resumed && !fresh) continue;
        await rm(part, { force: true });
        throw new PssError(
          `the download of ${describe(url, options.label)} was refused and deleted: ${problem}; check the URL, or download the file yourself and pass its path`,
        );
      }
      await fsStep(() => writeFile(`${file}.sha256`, `${actual}  ${basename(file)}\n`), file);
      await fsStep(() => rename(part, file), file);
      return;
    }
  } finally {
    bar.stop();
  }
}

const describe = (url: string, label: string) => (label === url ? url : `${label} (${url})`);

/** A failure worth another try (dropped connection, timeout, 429, 5xx). */
class Retryable extends Error {
  constructor(
    message: string,
    readonly delayMs = 0,
  ) {
    super(message);
  }
}

/** Fetches until <part> holds the whole file; returns the SHA-256 the server announced. */
async function transfer(
  url: string,
  part: string,
  options: FetchOptions,
  bar: Progress,
): Promise<{ announced?: string; resumed: boolean }> {
  const retries = options.retries ?? 3;
  let resumed = false;
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await fetchOnce(url, part, options, bar);
      resumed ||= r.resumed;
      return { announced: r.announced, resumed };
    } catch (e) {
      if (!(e instanceof Retryable)) throw e;
      if (attempt >= retries)
        throw new PssError(
          `cannot download ${describe(url, options.label)}: ${e.message}${
            attempt ? ` (${attempt + 1} tries)` : ''
          }; try again (the download resumes), or download the file yourself and pass its path`,
        );
      if (e.delayMs) await sleep(e.delayMs * 2 ** attempt);
    }
  }
}

async function fetchOnce(
  url: string,
  part: string,
  options: FetchOptions,
  bar: Progress,
): Promise<{ announced?: string; resumed: boolean }> {
  const offset = await fileSize(part);
  const headers: Record<string, string> = { 'user-agent': 'pss', 'accept-encoding': 'identity' };
  if (offset > 0) headers.range = `bytes=${offset}-`;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const { res, hops } = await get(url, headers, timeoutMs, options);
  const announced = announcedSha256(hops);
  const status = res.statusCode ?? 0;
  let start = 0;
  let total: number | undefined;
  if (status === 206 && offset > 0) {
    const range = parseContentRange(res.headers['content-range']);
    if (!range || range.start !== offset) {
      res.destroy();
      await rm(part, { force: true });
      throw new Retryable('the server answered the resume request with the wrong range');
    }
    start = offset;
    total = range.total;
  } else if (status === 200) {
    const length = Number(res.headers['content-length']);
    total = res.headers['content-length'] !== undefined && Number.isSafeInteger(length) ? length : undefined;
  } else if (status === 416 && offset > 0) {
    // Nothing after `offset`: complete if the file is that long, otherwise start over.
    res.resume();
    const m = String(res.headers['content-range'] ?? '').match(/^bytes \*\/(\d+)$/);
    if (m && Number(m[1]) === offset) return { announced, resumed: true };
    await rm(part, { force: true });
    throw new Retryable('the server refused to resume the download');
  } else {
    res.resume();
    throw httpError(status, res.statusMessage, url, options);
  }

  const handle = await fsStep(() => open(part, start > 0 ? 'a' : 'w'), part);
  let received = start;
  bar.begin(total, start);
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      await fsStep(() => handle.write(chunk), part);
      received += chunk.byteLength;
      bar.update(received);
    }
  } catch (e) {
    if (e instanceof PssError) throw e;
    throw new Retryable(networkReason(e, url, timeoutMs).why);
  } finally {
    await handle.close();
  }
  if (total !== undefined && received !== total) {
    if (received > total) await rm(part, { force: true });
    throw new Retryable(`the connection closed after ${formatBytes(received)} of ${formatBytes(total)}`);
  }
  return { announced, resumed: start > 0 };
}

function parseContentRange(v: string | undefined): { start: number; total?: number } | undefined {
  const m = v?.match(/^bytes (\d+)-(\d+)\/(\d+|\*)$/);
  if (!m) return undefined;
  return { start: Number(m[1]), total: m[3] === '*' ? undefined : Number(m[3]) };
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** A GET that follows redirects; returns the final response and the headers of every hop. */
async function get(
  url: string,
  headers: Record<string, string>,
  timeoutMs: number,
  options: FetchOptions,
): Promise<{ res: IncomingMessage; hops: IncomingHttpHeaders[] }> {
  let current = new URL(url);
  const hops: IncomingHttpHeaders[] = [];
  for (let hop = 0; ; hop++) {
    let res: IncomingMessage;
    try {
      res = await request(current, headers, timeoutMs);
    } catch (e) {
      const { why, retryable } = networkReason(e, current.href, timeoutMs);
      if (retryable) throw new Retryable(why);
      throw new PssError(
        `cannot download ${describe(url, options.label)}: ${why}; check your network connection and the URL, or download the file yourself and pass its path`,
      );
    }
    hops.push(res.headers);
    const location = res.headers.location;
    if (!REDIRECTS.has(res.statusCode ?? 0) || !location) return { res, hops };
    res.resume();
    const next = new URL(location, current);
    if (hop >= 10) throw new PssError(`cannot download ${describe(url, options.label)}: too many redirects`);
    if (next.protocol !== 'http:' && next.protocol !== 'https:')
      throw new PssError(`cannot download ${describe(url, options.label)}: redirected to ${next.href}`);
    if (current.protocol === 'https:' && next.protocol === 'http:')
      throw new PssError(
        `cannot download ${describe(url, options.label)}: refusing a redirect from https to ${next.href}`,
      );
    current = next;
  }
}

function request(url: URL, headers: Record<string, string>, timeoutMs: number): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    let response: IncomingMessage | undefined;
    const lib = url.protocol === 'https:' ? https : http;
    const req = lib.get(url, { headers, agent: false, timeout: timeoutMs }, (res) => {
      response = res;
      res.on('error', () => {}); // surfaced by the reader
      resolve(res);
    });
    req.on('timeout', () => {
      const err = Object.assign(new Error('timed out'), { code: 'PSS_TIMEOUT' });
      response?.destroy(err);
      req.destroy(err);
    });
    req.on('error', reject);
  });
}

/** Why a request failed, in words, and whether another try may help. */
function networkReason(e: unknown, url: string, timeoutMs: number): { why: string; retryable: boolean } {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  const host = new URL(url).host;
  switch (code) {
    case 'ECONNREFUSED':
      return {
        why: `cannot reach ${host}: connection refused (offline, or the server is down?)`,
        retryable: false,
      };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
      return {
        why: `cannot resolve the host name ${new URL(url).hostname} (offline, or DNS failed?)`,
        retryable: false,
      };
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
    case 'ENETDOWN':
    case 'EHOSTDOWN':
      return { why: `cannot reach ${host}: the network is unreachable (offline?)`, retryable: false };
    case 'PSS_TIMEOUT':
    case 'ETIMEDOUT':
      return {
        why: `${host} sent nothing for ${Math.round(timeoutMs / 100) / 10} s (timed out)`,
        retryable: true,
      };
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
    case 'ERR_STREAM_PREMATURE_CLOSE':
      return { why: `the connection to ${host} was lost`, retryable: true };
  }
  if (/CERT|SSL|TLS/.test(code) || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE')
    return { why: `a TLS error with ${host}: ${(e as Error).message}`, retryable: false };
  return { why: `${host}: ${(e as Error).message ?? String(e)}`, retryable: false };
}

function httpError(status: number, text: string | undefined, url: string, options: FetchOptions): Error {
  const what = describe(url, options.label);
  const hint = options.hint ? ` (${options.hint})` : '';
  const own = 'or download the file yourself and pass its path';
  if (status === 404 || status === 410)
    return new PssError(`${what} was not found (HTTP ${status}); check the URL${hint}, ${own}`);
  if (status === 401 || status === 403)
    return new PssError(
      `access to ${what} was denied (HTTP ${status}): the file is private or gated, or the URL is wrong (the Hub answers 401 for repositories that do not exist); check the URL${hint}, ${own}`,
    );
  if (status === 429 || status >= 500)
    return new Retryable(`the server answered HTTP ${status}${text ? ` ${text}` : ''}`, 500);
  return new PssError(
    `cannot download ${what}: the server answered HTTP ${status}${text ? ` ${text}` : ''}; check the URL, ${own}`,
  );
}

/** The SHA-256 a response chain announces: the Hub's X-Linked-Etag, a 64-hex strong ETag, or Digest. */
export function announcedSha256(hops: readonly IncomingHttpHeaders[]): string | undefined {
  const hex = (v: unknown) => {
    const s = typeof v === 'string' ? v.trim() : '';
    if (s.startsWith('W/')) return undefined;
    const m = s.replace(/^"|"$/g, '').match(/^[0-9a-fA-F]{64}$/);
    return m ? m[0].toLowerCase() : undefined;
  };
  for (const h of hops) {
    const v = hex(h['x-linked-etag']);
    if (v) return v;
  }
  for (const h of hops) {
    const v = hex(h.etag);
    if (v) return v;
  }
  for (const h of hops) {
    const m = String(h.digest ?? '').match(/(?:^|,)\s*sha-256=([A-Za-z0-9+/=]{44})/i);
    if (m) return Buffer.from(m[1], 'base64').toString('hex');
  }
  return undefined;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Why a file is not a safetensors file (header: length, JSON, data offsets inside the file), or undefined. */
export async function safetensorsProblem(path: string): Promise<string | undefined> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const bad = (why: string) => `it is not a valid safetensors file (${why})`;
    if (size < 8) return bad(`${size} bytes`);
    const lenBytes = Buffer.alloc(8);
    await fh.read(lenBytes, 0, 8, 0);
    const n = Number(lenBytes.readBigUInt64LE(0));
    if (n < 2 || 8 + n > size || n > 100 * 2 ** 20)
      return bad(`header length ${n} does not fit a file of ${size} bytes; a web page instead of the file?`);
    const headerBytes = Buffer.alloc(n);
    await fh.read(headerBytes, 0, n, 8);
    let header: unknown;
    try {
      header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
    } catch {
      return bad('the header is not JSON');
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header))
      return bad('the header is not an object');
    const dataBytes = size - 8 - n;
    for (const [name, entry] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const off = (entry as { data_offsets?: unknown } | null)?.data_offsets;
      if (
        !Array.isArray(off) ||
        off.length !== 2 ||
        !Number.isInteger(off[0]) ||
        !Number.isInteger(off[1]) ||
        !(0 <= off[0] && off[0] <= off[1]) ||
        off[1] > dataBytes
      )
        return bad(`tensor "${name}" lies outside the file's ${dataBytes} data bytes; truncated?`);
    }
    return undefined;
  } finally {
    await fh.close();
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)} ${units[i]}`;
}

/** The progress bar (cli-progress): bytes, speed over the last seconds, ETA. No-op when disabled. */
class Progress {
  private bar?: SingleBar;
  private samples: [number, number][] = [];
  private readonly enabled: boolean;
  private readonly stream: NodeJS.WritableStream;

  constructor(
    private readonly name: string,
    options: ResolveOptions,
  ) {
    this.stream = options.progressStream ?? process.stderr;
    const env = process.env.PSS_PROGRESS;
    this.enabled =
      options.progress ??
      (env === '1' ? true : env === '0' ? false : Boolean((this.stream as { isTTY?: boolean }).isTTY));
  }

  begin(total: number | undefined, value: number): void {
    if (!this.enabled) return;
    this.samples = [[performance.now(), value]];
    const payload = this.payload(value, total);
    if (this.bar) {
      this.bar.setTotal(total ?? 0);
      this.bar.update(value, payload);
      return;
    }
    const { isTTY, columns } = this.stream as { isTTY?: boolean; columns?: number };
    // the bar takes what the terminal leaves: 51 columns of numbers, the name, a margin
    const barsize = columns ? Math.max(8, Math.min(30, columns - 53 - this.name.length)) : 24;
    this.bar = new SingleBar({
      stream: this.stream,
      format:
        total === undefined
          ? '{name} {done} | {speed}'
          : '{name} |{bar}| {percentage}% | {done} / {size} | {speed} | ETA {eta_formatted}',
      barsize,
      hideCursor: false,
      gracefulExit: false, // its SIGINT handler would keep Ctrl-C from stopping the download
      noTTYOutput: !isTTY,
      notTTYSchedule: 1000,
      etaBuffer: 50,
      linewrap: isTTY ? true : null,
    });
    this.bar.start(total ?? 0, value, payload);
  }

  update(value: number): void {
    if (!this.bar) return;
    const now = performance.now();
    this.samples.push([now, value]);
    while (this.samples.length > 2 && now - this.samples[0][0] > 5000) this.samples.shift();
    this.bar.update(value, this.payload(value, this.bar.getTotal() || undefined));
  }

  private payload(value: number, total: number | undefined) {
    // over the last 5 s (the samples' window), or since the start while that is shorter
    const [t0, v0] = this.samples[0] ?? [performance.now(), value];
    const dt = (performance.now() - t0) / 1000;
    const speed = dt > 0.001 ? `${formatBytes((value - v0) / dt)}/s` : '…';
    return { name: this.name, done: formatBytes(value), size: total ? formatBytes(total) : '?', speed };
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
