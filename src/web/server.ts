/**
 * The web explorer's HTTP server (node:http): the page's static files and the JSON API of
 * routes.ts over Explorer. Every request is first checked by Access (Host, Origin, the token
 * off the loopback interface); every error becomes `{error}` with a 4xx status (5xx for bugs)
 * — a store's NotFound → 404, any other PssError → 400 — its text cleaned of this machine's
 * absolute paths (redact.ts), and no request can bring the process down. Closing stops within
 * a bounded time, whatever runs.
 */
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PssError } from '../errors.js';
import { Access } from './access.js';
import { NotFound } from './errors.js';
import type { Explorer } from './explorer.js';
import { HttpError, MB, sendError } from './http.js';
import { JobQueue } from './queue.js';
import { apiRoutes, type Context, type Limits } from './routes.js';
import { ClientGone } from './uploads.js';

export type { Limits } from './routes.js';

export const DEFAULT_LIMITS: Limits = { imageBytes: 20 * MB, onnxBytes: 200 * MB, fileBytes: 600 * MB };

export interface ServerOptions {
  explorer: Explorer;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8765; 0 = any free port. */
  port?: number;
  limits?: Partial<Limits>;
  /** Origins (besides the server's own) whose pages may use it. */
  allowOrigins?: readonly string[];
  /** Require this secret on every request (printed once in the URL). */
  token?: string;
  /** Where unexpected errors are reported (default console.error). */
  log?: (message: string) => void;
}

export interface RunningServer {
  /** The page's address (with the token, when there is one). */
  url: string;
  port: number;
  queue: JobQueue;
  access: Access;
  /**
   * Stops: refuses new requests, drops waiting jobs, ends uploads and connections; waits for
   * the running job at most `graceMs` (default 2 s: ONNX Runtime cannot be interrupted).
   * Resolves true when nothing was left running.
   */
  close(graceMs?: number): Promise<boolean>;
}

// src/web and dist/web are both two levels below the package root; the client files stay in src/web/static.
const STATIC_DIR = fileURLToPath(new URL('../../src/web/static/', import.meta.url));
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
};

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const { explorer } = o;
  const limits: Limits = { ...DEFAULT_LIMITS, ...o.limits };
  const log = o.log ?? ((m: string) => console.error(m));
  const queue = new JobQueue();
  const clean = (text: string, typed: readonly string[] = []) => explorer.redactor.clean(text, typed);
  // Only the files that are there at start, by exact name: nothing else can be asked for.
  const staticFiles = new Map(
    readdirSync(STATIC_DIR)
      .filter((f) => TYPES[extname(f)])
      .map((f) => [`/${f}`, join(STATIC_DIR, f)]),
  );
  staticFiles.set('/', join(STATIC_DIR, 'index.html'));
  if (staticFiles.has('/favicon.svg')) staticFiles.set('/favicon.ico', staticFiles.get('/favicon.svg')!);
  const routes = apiRoutes(explorer, queue, limits, SECURITY_HEADERS);
  let access: Access | undefined;
  let closing = false;

  async function handle(req: IncomingMessage, res: ServerResponse, typed: string[]) {
    if (closing) throw new HttpError(503, 'the server is stopping');
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      throw new HttpError(400, 'bad request URL');
    }
    if (!access) throw new HttpError(503, 'the server is starting');
    if (access.check(req, res, url)) return;
    const path = url.pathname;
    if (path.startsWith('/api/')) {
      let allowed = false;
      for (const [method, pattern, handler] of routes) {
        const m = pattern.exec(path);
        if (!m) continue;
        allowed = true;
        if (method !== req.method) continue;
        const abort = new AbortController();
        res.on('close', () => {
          if (!res.writableFinished) abort.abort();
        });
        let params: string[];
        try {
          params = m.slice(1).map(decodeURIComponent);
        } catch {
          throw new HttpError(400, 'bad request URL');
        }
        const c: Context = { req, res, url, params, signal: abort.signal, typed };
        await handler(c);
        return;
      }
      if (!allowed) throw notFound(path);
      throw new HttpError(405, `${req.method} is not allowed on ${path}`);
    }
    const file = staticFiles.get(path);
    if (!file) throw notFound(path);
    if (req.method !== 'GET' && req.method !== 'HEAD')
      throw new HttpError(405, `${req.method} is not allowed`);
    const data = await readFile(file);
    res.writeHead(200, {
      'content-type': TYPES[extname(file)],
      'content-length': data.length,
      'cache-control': 'no-cache',
      ...SECURITY_HEADERS,
    });
    res.end(req.method === 'HEAD' ? undefined : data);
  }

  const server = createServer({ requestTimeout: 0 });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const typed: string[] = [];
    handle(req, res, typed).catch((e: unknown) => {
      if (e instanceof ClientGone) {
        log(`pss serve: ${req.method} ${url(req)}: the client went away after ${e.received} bytes`);
        return res.destroy();
      }
      if (e instanceof HttpError) return sendError(res, e.status, clean(e.message, typed));
      if (e instanceof NotFound) return sendError(res, 404, clean(e.message, typed));
      if (e instanceof PssError) return sendError(res, 400, clean(e.message, typed));
      log(`pss serve: ${req.method} ${url(req)}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      sendError(res, 500, `internal error: ${clean(e instanceof Error ? e.message : String(e))}`);
    });
  });
  server.on('clientError', (_e, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });

  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE')
        reject(new PssError(`port ${o.port} is in use: choose another with --port (0 = any free port)`));
      else if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND')
        reject(new PssError(`cannot listen on ${host}: no such local address`));
      else if (e.code === 'EACCES') reject(new PssError(`no permission to listen on port ${o.port}`));
      else reject(e);
    };
    server.once('error', onError);
    server.listen(o.port ?? 8765, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (e) => log(`pss serve: ${e.message}`));
  const { port } = server.address() as AddressInfo;
  access = new Access({ host, port, allowOrigins: o.allowOrigins, token: o.token });

  return {
    url: access.url(),
    port,
    queue,
    access,
    async close(graceMs = 2000) {
      closing = true;
      queue.close();
      explorer.uploads.abortAll();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const settled = await queue.settled(graceMs);
      server.closeAllConnections();
      await closed;
      return settled;
    },
  };
}

/** The request's path, without its query (which may hold the token). */
const url = (req: IncomingMessage) => (req.url ?? '').replace(/\?.*$/, '');
const notFound = (path: string) => new HttpError(404, `not found: ${path}`);
