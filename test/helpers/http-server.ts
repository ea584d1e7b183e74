/**
 * A small HTTP server for download tests: node:http on 127.0.0.1, port 0 (the OS picks),
 * routes by path, records every request. It is bounded: after `maxRequests` it answers 503
 * and closes, and it closes itself after `lifetimeMs` — a test that forgets it cannot hang.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

/** `hit`: how many times this path has been requested, this one included (1 for the first). */
export type Handler = (req: IncomingMessage, res: ServerResponse, hit: number) => void;

export interface TestServer {
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  requests: RecordedRequest[];
  route(path: string, handler: Handler): void;
  /** Requests whose path (without the query) is `path`. */
  requestsTo(path: string): RecordedRequest[];
  close(): Promise<void>;
}

export async function startServer(
  opts: { maxRequests?: number; lifetimeMs?: number } = {},
): Promise<TestServer> {
  const maxRequests = opts.maxRequests ?? 200;
  const routes = new Map<string, Handler>();
  const hits = new Map<string, number>();
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers });
    if (requests.length > maxRequests) {
      res.writeHead(503).end('request limit reached');
      void close();
      return;
    }
    const hit = (hits.get(path) ?? 0) + 1;
    hits.set(path, hit);
    const handler = routes.get(path);
    if (!handler) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    handler(req, res, hit);
  });
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= new Promise<void>((resolve) => {
      clearTimeout(timer);
      server.close(() => resolve());
      server.closeAllConnections();
    }));
  const timer = setTimeout(close, opts.lifetimeMs ?? 60_000);
  timer.unref();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  server.unref();
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    route: (path, handler) => routes.set(path, handler),
    requestsTo: (path) => requests.filter((r) => r.path.split('?')[0] === path),
    close,
  };
}

export interface ServeOptions {
  /** Honour `Range: bytes=N-` with 206 (default true); false answers 200 with the whole file. */
  ranges?: boolean;
  /** On the first request, send the headers and this many body bytes, then drop the connection. */
  dropFirstAt?: number;
  headers?: Record<string, string>;
}

/** Serves `bytes` like a static file server (Content-Length, optional Range support). */
export function serveBytes(bytes: Uint8Array, opts: ServeOptions = {}): Handler {
  const size = bytes.byteLength;
  return (req, res, hit) => {
    let start = 0;
    const range = (opts.ranges ?? true) && req.headers.range?.match(/^bytes=(\d+)-$/);
    const headers: Record<string, string | number> = {
      'content-type': 'application/octet-stream',
      ...opts.headers,
    };
    if (range) {
      start = Number(range[1]);
      if (start >= size) {
        res.writeHead(416, { ...headers, 'content-range': `bytes */${size}` }).end();
        return;
      }
      res.writeHead(206, {
        ...headers,
        'content-range': `bytes ${start}-${size - 1}/${size}`,
        'content-length': size - start,
      });
    } else {
      res.writeHead(200, { ...headers, 'content-length': size, 'accept-ranges': 'bytes' });
    }
    const body = bytes.subarray(start);
    if (hit === 1 && opts.dropFirstAt !== undefined) {
      res.write(body.subarray(0, opts.dropFirstAt - start), () =>
        setTimeout(() => res.socket?.destroy(), 20),
      );
      return;
    }
    res.end(body);
  };
}

/** A redirect to `location` (relative or absolute), with extra headers (e.g. the Hub's X-Linked-Etag). */
export function redirectTo(location: string, status = 302, headers: Record<string, string> = {}): Handler {
  return (_req, res) => {
    res.writeHead(status, { location, ...headers }).end();
  };
}

/** A port on 127.0.0.1 that nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
