/**
 * Heavy work (model loading, image decoding, ONNX Runtime runs) one job at a time, so that a
 * small machine is never asked for two computations at once; the page polls `status()`.
 * Closing refuses new jobs and drops the waiting ones (the server is stopping); the running
 * one cannot be interrupted (ONNX Runtime has no cancel), so `settled` waits for it a bounded time.
 */
import { HttpError } from './http.js';

export interface QueueStatus {
  /** What runs now, e.g. "explaining bag-1884.png with fashion-cnn". */
  busy: string | null;
  /** Milliseconds since it started. */
  elapsedMs: number | null;
  /** Jobs waiting behind it. */
  waiting: number;
}

interface Waiting {
  label: string;
  start: () => void;
  drop: (e: Error) => void;
}

const stopping = () => new HttpError(503, 'the server is stopping');

export class JobQueue {
  private readonly waiting: Waiting[] = [];
  private current?: { label: string; since: number; done: Promise<void> };
  private closed = false;

  /**
   * Runs `job` after every job queued before it. A job whose `signal` fires while it waits
   * (the browser gave up on the request) leaves the queue at once.
   */
  run<T>(label: string, job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.closed) return Promise.reject(stopping());
    if (signal?.aborted) return Promise.reject(new HttpError(499, 'the request was cancelled'));
    return new Promise<T>((resolve, reject) => {
      const entry: Waiting = {
        label,
        drop: reject,
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          const since = Date.now();
          // the queue moves on before the caller hears the result, so status() is current by then
          const current = { label, since, done: Promise.resolve() };
          const finish = () => {
            if (this.current === current) this.current = undefined;
            this.next();
          };
          this.current = current;
          current.done = (async () => {
            await null; // current is set before the job can finish
            try {
              const value = await job();
              finish();
              resolve(value);
            } catch (e) {
              finish();
              reject(e);
            }
          })();
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(entry);
        if (i < 0) return;
        this.waiting.splice(i, 1);
        reject(new HttpError(499, 'the request was cancelled'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
      this.next();
    });
  }

  private next(): void {
    if (this.current || this.closed) return;
    this.waiting.shift()?.start();
  }

  status(): QueueStatus {
    const c = this.current;
    return {
      busy: c?.label ?? null,
      elapsedMs: c ? Date.now() - c.since : null,
      waiting: this.waiting.length,
    };
  }

  /** Refuses new jobs and drops the waiting ones (503: the server is stopping). */
  close(): void {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.drop(stopping());
  }

  /**
   * After close(): resolves true once the running job (if any) has finished, false when it
   * still runs after `timeoutMs`.
   */
  async settled(timeoutMs: number): Promise<boolean> {
    const c = this.current;
    if (!c) return true;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const finished = await Promise.race([c.done.then(() => true), late]);
    clearTimeout(timer);
    return finished;
  }

  /** Resolves when every queued job has finished. */
  async idle(): Promise<void> {
    while (this.current || this.waiting.length) {
      await this.current?.done;
      await new Promise((r) => setImmediate(r));
    }
  }
}
