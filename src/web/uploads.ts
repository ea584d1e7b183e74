/**
 * Upload bodies, streamed to files in the server's own temporary folder under a size limit:
 * memory holds one chunk per upload, never a whole body. At most `slots` bodies are received
 * at once; the others wait their turn unread (TCP holds the client back), so disk use is
 * bounded too. A client that goes away mid-upload is one line in the log (ClientGone).
 * The folder is private (0700) and removed when the server closes or the process exits.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PssError } from '../errors.js';
import { NotFound } from './errors.js';
import { type HttpError, MB, tooBig } from './http.js';
import type { Redactor } from './redact.js';

/** A file received from the page, on disk. */
export interface Upload {
  /** The name the page gave (display only). */
  name: string;
  path: string;
  bytes: number;
  sha256: string;
}

/** The client closed the connection before its body was complete (nobody to answer). */
export class ClientGone extends Error {
  constructor(readonly received: number) {
    super('the client disconnected during the upload');
  }
}

/**
 * Beyond the limit, a body is read and dropped (so that the browser gets the 413 instead of a
 * reset connection) up to this many bytes more; a larger one has its connection closed.
 */
const DRAIN_LIMIT = 1024 * MB;

/** Counting semaphore: `take` resolves when a slot is free. */
class Slots {
  private free: number;
  private readonly queue: (() => void)[] = [];
  constructor(n: number) {
    this.free = n;
  }
  async take(signal: AbortSignal): Promise<() => void> {
    if (this.free > 0) this.free--;
    else
      await new Promise<void>((resolve, reject) => {
        const go = () => {
          signal.removeEventListener('abort', gone);
          resolve();
        };
        const gone = () => {
          this.queue.splice(this.queue.indexOf(go), 1);
          reject(new ClientGone(0));
        };
        this.queue.push(go);
        signal.addEventListener('abort', gone, { once: true });
      });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue.shift();
      if (next) next();
      else this.free++;
    };
  }
}

export class UploadStore {
  readonly dir: string;
  private next = 1;
  private readonly slots: Slots;
  private readonly receiving = new Set<IncomingMessage>();
  private readonly kept = new Map<string, KeptFile>();
  private readonly cleanup = () => rmSync(this.dir, { recursive: true, force: true });

  constructor(
    private readonly redactor: Redactor,
    slots = 2,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'pss-serve-'));
    redactor.name(this.dir, "the server's upload folder");
    this.slots = new Slots(slots);
    process.once('exit', this.cleanup);
  }

  /**
   * Streams the request body to a new file of at most `limit` bytes; `what` names it in the
   * 413 message ("the image x.png"). `signal` fires when the client goes away.
   */
  async receive(
    req: IncomingMessage,
    name: string,
    limit: number,
    what: string,
    signal: AbortSignal,
  ): Promise<Upload> {
    const declared = Number(req.headers['content-length'] ?? Number.NaN);
    if (declared > limit) throw await refuse(req, tooBig(what, declared, limit));
    const release = await this.slots.take(signal);
    // names that never prefix each other, so the redactor can map each to its display name
    const path = join(this.dir, `u${this.next++}.upload`);
    this.receiving.add(req);
    try {
      const { bytes, sha256 } = await streamTo(req, path, limit, what);
      this.redactor.name(path, name);
      return { name, path, bytes, sha256 };
    } catch (e) {
      await rm(path, { force: true });
      throw e;
    } finally {
      this.receiving.delete(req);
      release();
    }
  }

  /** Keeps an upload for the page to name; the oldest of its kind beyond `max` is removed. */
  keep(u: Upload, kind: FileKind, max = 4): KeptFile {
    const file: KeptFile = { ...u, id: `f${this.next++}`, kind };
    this.kept.set(file.id, file);
    const same = [...this.kept.values()].filter((f) => f.kind === kind);
    for (const old of same.slice(0, Math.max(0, same.length - max))) {
      this.kept.delete(old.id);
      rmSync(old.path, { force: true });
    }
    return file;
  }

  /** A kept file named by the page ("upload:f1") — of the kind the page says it is. */
  file(ref: string, kind: FileKind): KeptFile {
    const f = this.kept.get(ref.replace(/^upload:/, ''));
    if (!f) throw new NotFound(`that ${kindName(kind)} is no longer on the server; upload it again`);
    if (f.kind !== kind)
      throw new PssError(`${f.name} was uploaded as a ${kindName(f.kind)}, not a ${kindName(kind)}`);
    return f;
  }

  /** Removes a file that is no longer needed. */
  async discard(u: Upload | undefined): Promise<void> {
    if (u) await rm(u.path, { force: true });
  }

  /** Ends the uploads in progress (the server is stopping). */
  abortAll(): void {
    for (const req of this.receiving) req.destroy();
  }

  /** Ends the uploads in progress and removes the folder. */
  close(): void {
    this.kept.clear();
    this.abortAll();
    this.cleanup();
    process.off('exit', this.cleanup);
  }
}

/**
 * Reads and drops what remains of a refused body (up to DRAIN_LIMIT, so that the browser
 * gets the answer instead of a reset connection), then gives the error to answer.
 */
function refuse(req: IncomingMessage, error: HttpError): Promise<HttpError> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (req.complete || declared > DRAIN_LIMIT) return Promise.resolve(error);
  return new Promise((resolve) => {
    let dropped = 0;
    const done = () => resolve(error);
    req.on('data', (chunk: Buffer) => {
      dropped += chunk.length;
      if (dropped > DRAIN_LIMIT) done();
    });
    req.once('end', done);
    req.once('close', done);
    req.resume();
  });
}

/** Pipes the body into a new file, counting and hashing it; over `limit`, stops and refuses (413). */
function streamTo(
  req: IncomingMessage,
  path: string,
  limit: number,
  what: string,
): Promise<{ bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
    const hash = createHash('sha256');
    let size = 0;
    let failed = false;
    const fail = (e: Error | Promise<Error>) => {
      if (failed) return;
      failed = true;
      req.unpipe(out);
      out.destroy();
      Promise.resolve(e).then(reject);
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (failed) return;
      if (size > limit) fail(refuse(req, tooBig(what, size, limit)));
      else hash.update(chunk);
    });
    req.once('close', () => {
      if (!req.complete) fail(new ClientGone(size));
    });
    req.once('error', () => fail(new ClientGone(size)));
    out.once('error', (e) => fail(e));
    out.once('finish', () => {
      if (!failed) resolve({ bytes: size, sha256: hash.digest('hex') });
    });
    req.pipe(out);
  });
}

// ------------------------------------------------------------------ files kept for later use

/** What an uploaded file is for. */
export type FileKind = 'weights' | 'stats' | 'preprocessing';

/** An uploaded file kept for the page to name ("upload:f1"). */
export interface KeptFile extends Upload {
  id: string;
  kind: FileKind;
}

const KIND_NAMES: Record<FileKind, string> = {
  weights: 'weights file',
  stats: 'statistics file',
  preprocessing: 'preprocessing description',
};
export const kindName = (kind: FileKind) => KIND_NAMES[kind];
