/**
 * HTTP plumbing of the web explorer: errors answered as JSON `{error}`, small JSON bodies read
 * under a size limit (413 with a message; uploads stream to disk, uploads.ts), JSON-field
 * readers that answer 400.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** An error with the HTTP status to answer; its message is shown in the page. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Sizes in the messages are decimal megabytes, as browsers and file managers show them. */
export const MB = 1_000_000;
const formatMB = (n: number) => `${Number.isInteger(n / MB) ? n / MB : (n / MB).toFixed(1)} MB`;

/** The 413 for a body of `size` bytes over `limit`; `what` names it ("the image x.png"). */
export const tooBig = (what: string, size: number, limit: number) =>
  new HttpError(413, `${what} is ${formatMB(size)}; the limit is ${formatMB(limit)}`);

/** A small request body (JSON), at most `limit` bytes, in memory; a larger one is refused at once. */
export function readBody(req: IncomingMessage, limit: number, what: string): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? Number.NaN);
    if (declared > limit) {
      reject(tooBig(what, declared, limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > limit) reject(tooBig(what, size, limit));
      else resolve(new Uint8Array(Buffer.concat(chunks, size)));
    });
    req.on('error', reject);
  });
}

/** A JSON object body (at most 1 MB). */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const bytes = await readBody(req, MB, 'the request');
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new HttpError(400, 'the request body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new HttpError(400, 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}

const NO_STORE = { 'cache-control': 'no-store' };

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...NO_STORE,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { error: message });
}

// ------------------------------------------------------------------ JSON fields (400 when wrong)

export function stringField(body: Record<string, unknown>, key: string): string;
export function stringField(body: Record<string, unknown>, key: string, optional: true): string | undefined;
export function stringField(body: Record<string, unknown>, key: string, optional = false) {
  const v = body[key];
  if (v === undefined || v === null || v === '') {
    if (optional) return undefined;
    throw new HttpError(400, `"${key}" is required`);
  }
  if (typeof v !== 'string' || v.length > 4096) throw new HttpError(400, `"${key}" must be a string`);
  return v;
}

export function numberField(
  body: Record<string, unknown>,
  key: string,
  o: { min: number; max: number; integer?: boolean; fallback?: number },
): number {
  const v = body[key] ?? o.fallback;
  if (v === undefined) throw new HttpError(400, `"${key}" is required`);
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (
    typeof n !== 'number' ||
    !Number.isFinite(n) ||
    n < o.min ||
    n > o.max ||
    (o.integer && !Number.isInteger(n))
  )
    throw new HttpError(
      400,
      `"${key}" must be ${o.integer ? 'an integer' : 'a number'} in [${o.min}, ${o.max}], got ${JSON.stringify(v)}`,
    );
  return n;
}

/** A list of unit indices (positions in the saliency vector), each in [0, count). */
export function indexList(body: Record<string, unknown>, key: string, count: number): number[] | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length > count)
    throw new HttpError(400, `"${key}" must be a list of at most ${count} unit indices`);
  for (const i of v)
    if (!Number.isInteger(i) || i < 0 || i >= count)
      throw new HttpError(400, `"${key}": unit index ${JSON.stringify(i)} is out of range 0..${count - 1}`);
  return [...new Set(v as number[])];
}
