/**
 * The web explorer's HTTP server (node:http): the page's static files and a small JSON API
 * over Explorer. Heavy work goes through one JobQueue; every error becomes `{error}` with a
 * 4xx status (5xx for bugs): a store's NotFound → 404, any other PssError → 400, and no request can bring the process down.
 *
 *   GET  /                                  the page (static/: index.html, its scripts and style sheets)
 *   GET  /api/state                         loaded models, architectures, limits
 *   GET  /api/status                        what the server is computing now (the page polls it)
 *   POST /api/models          {arch, weights?, stats?}   load a built-in model (local or cached weights)
 *   POST /api/models/onnx?name=&stats=      body: an .onnx file (≤ 200 MB)
 *   GET  /api/models/:id/examples/:file     a shipped example image
 *   POST /api/images?name=                  body: an image file (≤ 20 MB) → {id: "upload:…"}
 *   POST /api/predict         {model, image, zero?}      top-5, optionally with filters zeroed
 *   POST /api/explain         {model, image, label, k?, boost?, filters?, profile?}
 */
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PssError } from '../errors.js';
import { MAX_PIXELS } from '../image/budget.js';
import { NotFound } from './errors.js';
import type { Explorer } from './explorer.js';
import {
  HttpError,
  indexList,
  MB,
  numberField,
  readBody,
  readJson,
  sendError,
  sendJson,
  stringField,
} from './http.js';
import { displayName } from './images.js';
import { JobQueue } from './queue.js';

export interface Limits {
  /** Largest image upload in bytes (default 20 MB). */
  imageBytes: number;
  /** Largest ONNX upload in bytes (default 200 MB). */
  onnxBytes: number;
}

export const DEFAULT_LIMITS: Limits = { imageBytes: 20 * MB, onnxBytes: 200 * MB };

export interface ServerOptions {
  explorer: Explorer;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8765; 0 = any free port. */
  port?: number;
  limits?: Partial<Limits>;
  /** Where unexpected errors are reported (default console.error). */
  log?: (message: string) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  queue: JobQueue;
  /** Stops accepting requests, waits for the running job, closes connections. */
  close(): Promise<void>;
}

// src/web and dist/web are both two levels below the package root; the client files stay in src/web/static.
const STATIC_DIR = fileURLToPath(new URL('../../src/web/static/', import.meta.url));
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
};

interface Context {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: string[];
  /** Fires when the browser gives up on the request. */
  signal: AbortSignal;
}
type Handler = (c: Context) => Promise<void>;

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const { explorer } = o;
  const { models, images } = explorer;
  const limits: Limits = { ...DEFAULT_LIMITS, ...o.limits };
  const log = o.log ?? ((m: string) => console.error(m));
  const queue = new JobQueue();
  // Only the files that are there at start, by exact name: nothing else can be asked for.
  const staticFiles = new Map(
    readdirSync(STATIC_DIR)
      .filter((f) => TYPES[extname(f)])
      .map((f) => [`/${f}`, join(STATIC_DIR, f)]),
  );
  staticFiles.set('/', join(STATIC_DIR, 'index.html'));

  const query = (c: Context, key: string) => c.url.searchParams.get(key) ?? undefined;
  const json = async (c: Context) => readJson(c.req);

  const routes: [string, RegExp, Handler][] = [
    [
      'GET',
      /^\/api\/state$/,
      async (c) =>
        sendJson(c.res, 200, {
          initial: explorer.initialId,
          models: models.loaded(),
          architectures: models.architectures(),
          limits: { ...limits, maxPixels: MAX_PIXELS },
          status: queue.status(),
        }),
    ],
    ['GET', /^\/api\/status$/, async (c) => sendJson(c.res, 200, queue.status())],
    [
      'POST',
      /^\/api\/models$/,
      async (c) => {
        const body = await json(c);
        const arch = stringField(body, 'arch');
        const weights = stringField(body, 'weights', true);
        const stats = stringField(body, 'stats', true);
        const m = await queue.run(
          `loading ${arch}`,
          () => models.loadBuiltin(arch, { weights, stats }),
          c.signal,
        );
        sendJson(c.res, 200, models.info(m));
      },
    ],
    [
      'POST',
      /^\/api\/models\/onnx$/,
      async (c) => {
        const name = displayName(query(c, 'name'), 'model.onnx');
        const bytes = await readBody(c.req, limits.onnxBytes, `the ONNX file ${name}`);
        if (bytes.length === 0) throw new HttpError(400, `the ONNX file ${name} is empty`);
        const stats = query(c, 'stats') || undefined;
        const m = await queue.run(`importing ${name}`, () => models.loadOnnx(bytes, name, stats), c.signal);
        sendJson(c.res, 200, models.info(m));
      },
    ],
    [
      'GET',
      /^\/api\/models\/([^/]+)\/examples\/([^/]+)$/,
      async (c) => {
        const m = models.get(c.params[0]);
        const data = await readFile(models.examplePath(m, c.params[1]));
        const type = TYPES[extname(c.params[1]).toLowerCase()] ?? 'application/octet-stream';
        c.res.writeHead(200, { 'content-type': type, 'cache-control': 'max-age=3600', ...SECURITY_HEADERS });
        c.res.end(data);
      },
    ],
    [
      'POST',
      /^\/api\/images$/,
      async (c) => {
        const name = displayName(query(c, 'name'), 'image');
        const bytes = await readBody(c.req, limits.imageBytes, `the image ${name}`);
        const image = await queue.run(`decoding ${name}`, () => images.add(bytes, name), c.signal);
        sendJson(c.res, 200, image);
      },
    ],
    [
      'POST',
      /^\/api\/predict$/,
      async (c) => {
        const body = await json(c);
        const m = models.get(stringField(body, 'model'));
        const image = stringField(body, 'image');
        const zero = indexList(body, 'zero', m.model.filterCount) ?? [];
        const t0 = Date.now();
        const what = zero.length ? `predicting with ${zero.length} filters zeroed` : 'predicting';
        const { logits: _, ...p } = await queue.run(
          `${what} (${m.model.name})`,
          () => explorer.predict(m, image, zero),
          c.signal,
        );
        sendJson(c.res, 200, { ...p, elapsedMs: Date.now() - t0 });
      },
    ],
    [
      'POST',
      /^\/api\/explain$/,
      async (c) => {
        const body = await json(c);
        const m = models.get(stringField(body, 'model'));
        const image = stringField(body, 'image');
        const request = {
          label: numberField(body, 'label', { min: 0, max: m.model.numClasses - 1, integer: true }),
          k: numberField(body, 'k', { min: 1, max: m.model.filterCount, integer: true, fallback: 10 }),
          boost: numberField(body, 'boost', { min: 0, max: 1e6, fallback: 100 }),
          filters: indexList(body, 'filters', m.model.filterCount),
          profile: body.profile !== false,
        };
        if (request.filters?.length === 0) throw new HttpError(400, '"filters" is empty');
        const t0 = Date.now();
        const what = request.filters
          ? `${request.filters.length} chosen filter(s)`
          : `top ${request.k} filters`;
        const r = await queue.run(
          `explaining (${what}, ${m.model.name})`,
          () => explorer.explain(m, image, request),
          c.signal,
        );
        sendJson(c.res, 200, { ...r, model: m.id, image, elapsedMs: Date.now() - t0 });
      },
    ],
  ];

  async function handle(req: IncomingMessage, res: ServerResponse, allowedHosts: Set<string> | null) {
    const host = req.headers.host ?? '';
    // A page elsewhere must not drive this server: not through DNS rebinding (Host), not
    // cross-origin (Origin).
    if (allowedHosts && !allowedHosts.has(host.toLowerCase()))
      throw new HttpError(403, `unexpected Host header ${JSON.stringify(host)}`);
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${host}`)
      throw new HttpError(403, `cross-origin requests are refused (${origin})`);

    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      throw new HttpError(400, 'bad request URL');
    }
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
        await handler({ req, res, url, params, signal: abort.signal });
        return;
      }
      throw allowed ? new HttpError(405, `${req.method} is not allowed on ${path}`) : notFound(path);
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

  const server = createServer();
  let allowedHosts: Set<string> | null = null;
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res, allowedHosts).catch((e: unknown) => {
      if (e instanceof HttpError) return sendError(res, e.status, e.message);
      if (e instanceof NotFound) return sendError(res, 404, e.message);
      if (e instanceof PssError) return sendError(res, 400, e.message);
      log(`pss serve: ${req.method} ${req.url}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      sendError(res, 500, `internal error: ${e instanceof Error ? e.message : String(e)}`);
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
  if (LOOPBACK.has(host))
    allowedHosts = new Set(['127.0.0.1', 'localhost', '[::1]'].map((h) => `${h}:${port}`));
  const shown = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${shown}:${port}/`,
    port,
    queue,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await queue.idle();
      server.closeAllConnections();
      await closed;
    },
  };
}

const notFound = (path: string) => new HttpError(404, `not found: ${path}`);
