/**
 * One file over HTTP(S), on Node's built-in `fetch`, into `<file>.part`:
 * - an interrupted transfer resumes with a Range request from the size of the .part —
 *   within a call (up to `retries` more tries after a dropped connection, a timeout, HTTP 429
 *   or 5xx; 429 and 5xx after a backoff of 0.5 s, 1 s, 2 s…) and across calls (the .part
 *   stays). A server that answers a Range request with 200 sends the whole file, and the
 *   .part restarts from zero;
 * - redirects are followed by hand (relative or absolute, at most 10), so that every hop's
 *   headers are seen (the Hub announces the SHA-256 on the first); https → http is refused;
 * - `timeoutMs` without any byte (no answer, or a body that stalls) is a timeout;
 * - failures a user can act on are PssErrors of one line: offline / DNS failure / connection
 *   refused / timeout, HTTP 404, 401/403, other statuses.
 *
 * Proxies (HTTPS_PROXY) are not used: behind one, download the file yourself and pass its path.
 */
import { open, rm, stat } from 'node:fs/promises';
import { PssError } from '../../errors.js';
import { formatBytes } from '../../io/files.js';
import { cacheStep } from './cache.js';
import { announcedSha256 } from './integrity.js';
import { describeDownload } from './spec.js';

export interface TransferOptions {
  /** How the user named the file (the spec), for messages. */
  label: string;
  /** Added to "not found" messages. */
  hint?: string;
  /** Milliseconds without any byte before a request times out (default 30 000). */
  timeoutMs?: number;
  /** More tries after a dropped connection, a timeout, HTTP 429 or 5xx (default 3). */
  retries?: number;
  /** Called as bytes arrive: the .part's size, and the whole file's when the server says. */
  onBytes?: (received: number, total: number | undefined) => void;
}

export interface Transferred {
  /** The SHA-256 the server announced. */
  announced?: string;
  /** Whether the file was completed from an earlier .part. */
  resumed: boolean;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;

/** A failure worth another try (dropped connection, timeout, 429, 5xx). */
class Retryable extends Error {
  constructor(
    message: string,
    readonly delayMs = 0,
  ) {
    super(message);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Fetches until `part` holds the whole file. */
export async function transfer(url: string, part: string, options: TransferOptions): Promise<Transferred> {
  const retries = options.retries ?? 3;
  let resumed = false;
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await fetchOnce(url, part, options);
      resumed ||= r.resumed;
      return { announced: r.announced, resumed };
    } catch (e) {
      if (!(e instanceof Retryable)) throw e;
      if (attempt >= retries)
        throw new PssError(
          `cannot download ${describeDownload(url, options.label)}: ${e.message}${
            attempt ? ` (${attempt + 1} tries)` : ''
          }; try again (the download resumes), or download the file yourself and pass its path`,
        );
      if (e.delayMs) await sleep(e.delayMs * 2 ** attempt);
    }
  }
}

/** Aborts a request after `ms` without progress; `kick` on every sign of life. */
class Watchdog {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  readonly signal = this.controller.signal;

  constructor(readonly ms: number) {
    const reason = Object.assign(new Error('timed out'), { code: 'PSS_TIMEOUT' });
    this.timer = setTimeout(() => this.controller.abort(reason), ms);
  }

  kick(): void {
    this.timer.refresh();
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}

async function fetchOnce(url: string, part: string, options: TransferOptions): Promise<Transferred> {
  const offset = await fileSize(part);
  // `connection: close`: a kept-alive socket would hold the process for seconds after the download
  const headers: Record<string, string> = {
    'user-agent': 'pss',
    'accept-encoding': 'identity',
    connection: 'close',
  };
  if (offset > 0) headers.range = `bytes=${offset}-`;
  const watchdog = new Watchdog(options.timeoutMs ?? 30_000);
  try {
    return await receive(url, part, offset, headers, watchdog, options);
  } finally {
    watchdog.stop();
  }
}

async function receive(
  url: string,
  part: string,
  offset: number,
  headers: Record<string, string>,
  watchdog: Watchdog,
  options: TransferOptions,
): Promise<Transferred> {
  const { res, hops } = await get(url, headers, watchdog, options);
  const announced = announcedSha256(hops);
  const { status } = res;
  let start = 0;
  let total: number | undefined;
  if (status === 206 && offset > 0) {
    const range = parseContentRange(res.headers.get('content-range'));
    if (!range || range.start !== offset) {
      await discard(res);
      await rm(part, { force: true });
      throw new Retryable('the server answered the resume request with the wrong range');
    }
    start = offset;
    total = range.total;
  } else if (status === 200) {
    const length = Number(res.headers.get('content-length') ?? Number.NaN);
    total = Number.isSafeInteger(length) ? length : undefined;
  } else if (status === 416 && offset > 0) {
    // Nothing after `offset`: complete if the file is that long, otherwise start over.
    await discard(res);
    const m = (res.headers.get('content-range') ?? '').match(/^bytes \*\/(\d+)$/);
    if (m && Number(m[1]) === offset) return { announced, resumed: true };
    await rm(part, { force: true });
    throw new Retryable('the server refused to resume the download');
  } else {
    await discard(res);
    throw httpError(status, res.statusText, url, options);
  }

  const handle = await cacheStep(() => open(part, start > 0 ? 'a' : 'w'), part);
  let received = start;
  options.onBytes?.(received, total);
  const reader = res.body?.getReader();
  try {
    for (;;) {
      const chunk = await reader?.read();
      if (!chunk || chunk.done) break;
      watchdog.kick();
      await cacheStep(() => handle.write(chunk.value), part);
      received += chunk.value.byteLength;
      options.onBytes?.(received, total);
    }
  } catch (e) {
    if (e instanceof PssError) {
      await reader?.cancel().catch(() => {});
      throw e;
    }
    const { why } = networkReason(e, url, watchdog.ms);
    // undici's word for a connection that ended before Content-Length bytes came
    if (codeOf(e) === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' && total !== undefined)
      throw new Retryable(`${why} after ${formatBytes(received)} of ${formatBytes(total)}`);
    throw new Retryable(why);
  } finally {
    await handle.close();
  }
  if (total !== undefined && received !== total) {
    if (received > total) await rm(part, { force: true });
    throw new Retryable(`the connection closed after ${formatBytes(received)} of ${formatBytes(total)}`);
  }
  return { announced, resumed: start > 0 };
}

/** Drops a response's body unread (its connection closes). */
const discard = (res: Response) => res.body?.cancel().catch(() => {});

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

function parseContentRange(v: string | null): { start: number; total?: number } | undefined {
  const m = v?.match(/^bytes (\d+)-(\d+)\/(\d+|\*)$/);
  if (!m) return undefined;
  return { start: Number(m[1]), total: m[3] === '*' ? undefined : Number(m[3]) };
}

/** A GET that follows redirects; returns the final response and the headers of every hop. */
async function get(
  url: string,
  headers: Record<string, string>,
  watchdog: Watchdog,
  options: TransferOptions,
): Promise<{ res: Response; hops: Headers[] }> {
  const fail = (why: string) =>
    new PssError(`cannot download ${describeDownload(url, options.label)}: ${why}`);
  let current = new URL(url);
  const hops: Headers[] = [];
  for (let hop = 0; ; hop++) {
    let res: Response;
    try {
      res = await fetch(withoutCredentials(current), {
        headers: { ...headers, ...basicAuth(current) },
        redirect: 'manual',
        signal: watchdog.signal,
      });
    } catch (e) {
      const { why, retryable } = networkReason(e, current.href, watchdog.ms);
      if (retryable) throw new Retryable(why);
      throw fail(
        `${why}; check your network connection and the URL, or download the file yourself and pass its path`,
      );
    }
    watchdog.kick();
    hops.push(res.headers);
    const location = res.headers.get('location');
    if (!REDIRECTS.has(res.status) || !location) return { res, hops };
    await discard(res);
    let next: URL;
    try {
      next = new URL(location, current);
    } catch {
      throw fail(`redirected to ${JSON.stringify(location.slice(0, 200))}, which is not a URL`);
    }
    if (hop >= MAX_REDIRECTS) throw fail('too many redirects');
    if (next.protocol !== 'http:' && next.protocol !== 'https:') throw fail(`redirected to ${next.href}`);
    if (current.protocol === 'https:' && next.protocol === 'http:')
      throw fail(`refusing a redirect from https to ${next.href}`);
    current = next;
  }
}

/** `fetch` refuses URLs with user:password@; they become an Authorization header instead. */
function withoutCredentials(url: URL): URL {
  if (!url.username && !url.password) return url;
  const plain = new URL(url);
  plain.username = '';
  plain.password = '';
  return plain;
}

function basicAuth(url: URL): Record<string, string> {
  if (!url.username && !url.password) return {};
  const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  return { authorization: `Basic ${Buffer.from(pair).toString('base64')}` };
}

/** The errno-like code of a fetch failure: its own, or its cause's (undici wraps them). */
function codeOf(e: unknown): string {
  for (let x = e, depth = 0; x instanceof Error && depth < 3; x = x.cause, depth++) {
    const code = (x as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
  }
  return '';
}

/** The innermost message of a fetch failure ("fetch failed" says nothing). */
function messageOf(e: unknown): string {
  let x = e;
  while (x instanceof Error && x.cause instanceof Error) x = x.cause;
  return x instanceof Error ? x.message : String(x);
}

/** Why a request failed, in words, and whether another try may help. */
function networkReason(e: unknown, url: string, timeoutMs: number): { why: string; retryable: boolean } {
  const code = codeOf(e);
  const { host, hostname, port } = new URL(url);
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
      return { why: `cannot resolve the host name ${hostname} (offline, or DNS failed?)`, retryable: false };
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
    case 'ENETDOWN':
    case 'EHOSTDOWN':
      return { why: `cannot reach ${host}: the network is unreachable (offline?)`, retryable: false };
    case 'PSS_TIMEOUT':
    case 'ETIMEDOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return {
        why: `${host} sent nothing for ${Math.round(timeoutMs / 100) / 10} s (timed out)`,
        retryable: true,
      };
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { why: `${host} did not accept the connection (timed out)`, retryable: true };
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
    case 'ERR_STREAM_PREMATURE_CLOSE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      return { why: `the connection to ${host} was lost`, retryable: true };
  }
  const message = messageOf(e);
  if (/CERT|SSL|TLS/.test(code) || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE')
    return { why: `a TLS error with ${host}: ${message}`, retryable: false };
  if (message === 'bad port')
    return {
      why: `Node's fetch refuses port ${port} (one of the fetch standard's blocked ports)`,
      retryable: false,
    };
  return { why: `${host}: ${message}`, retryable: false };
}

function httpError(status: number, text: string, url: string, options: TransferOptions): Error {
  const what = describeDownload(url, options.label);
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
