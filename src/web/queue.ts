/**
 * Heavy work (model loading, image decoding, ONNX Runtime runs) one job at a time, so that a
 * small machine is never asked for two computations at once; the page polls `status()`.
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

export class JobQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private current?: { label: string; since: number };
  private waiting = 0;

  /**
   * Runs `job` after every job queued before it. A job whose `signal` has fired by the time
   * its turn comes (the browser gave up on the request) is skipped.
   */
  run<T>(label: string, job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    this.waiting++;
    const result = this.tail.then(async () => {
      this.waiting--;
      if (signal?.aborted) throw new HttpError(499, 'the request was cancelled');
      this.current = { label, since: Date.now() };
      try {
        return await job();
      } finally {
        this.current = undefined;
      }
    });
    this.tail = result.catch(() => {});
    return result;
  }

  status(): QueueStatus {
    const c = this.current;
    return { busy: c?.label ?? null, elapsedMs: c ? Date.now() - c.since : null, waiting: this.waiting };
  }

  /** Resolves when every queued job has finished. */
  idle(): Promise<void> {
    return this.tail.then(() => {});
  }
}
