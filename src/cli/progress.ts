/**
 * The progress bar on stderr, one for everything: counts (images, batches) and bytes
 * (downloads: sizes, speed, ETA). It is drawn on a terminal only, so piped output and JSON
 * stay clean: `PSS_PROGRESS=1` draws it anyway (a line a second when stderr is no terminal),
 * `PSS_PROGRESS=0` never, and a set `CI` keeps it off unless PSS_PROGRESS=1.
 */
import { basename } from 'node:path';
import cliProgress from 'cli-progress';
import type { DownloadProgress } from '../models/download/index.js';

export interface Progress {
  update(done: number, extra?: Record<string, string | number>): void;
  stop(): void;
}

export interface BarOptions {
  /** Where the bar goes (default: process.stderr). */
  stream?: NodeJS.WritableStream;
  /** Draw it or not (default: as the module comment says). */
  enabled?: boolean;
}

/** Whether a bar is drawn on `stream` when the caller does not say. */
export function showProgress(stream: NodeJS.WritableStream = process.stderr): boolean {
  const env = process.env.PSS_PROGRESS;
  if (env === '1') return true;
  if (env === '0') return false;
  return Boolean((stream as { isTTY?: boolean }).isTTY) && !process.env.CI;
}

/** Sizes and speeds in the bar: SI units, as download tools show them (400 kB, 1.2 MB/s). */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)} ${units[i]}`;
}

/** The speed is taken over the last few seconds, so a stall or a resume shows at once. */
const SPEED_WINDOW_MS = 5000;
/** Columns the bar leaves to the numbers beside it (and a margin). */
const NUMBERS_WIDTH = 53;

/**
 * A bar for `total` items of `unit` ("images"; "bytes" shows sizes and a percentage). With
 * bytes `total` may be unknown: then the bar shows what came and the speed.
 */
export function progressBar(
  label: string,
  total: number | undefined,
  unit = 'images',
  options: BarOptions = {},
): Progress & { setTotal(total: number | undefined): void } {
  const stream = options.stream ?? process.stderr;
  if (!(options.enabled ?? showProgress(stream))) return { update() {}, stop() {}, setTotal() {} };
  const bytes = unit === 'bytes';
  const { isTTY, columns } = stream as { isTTY?: boolean; columns?: number };
  const count = bytes ? '{percentage}% | {done} / {size}' : `{value}/{total} ${unit}`;
  const bar = new cliProgress.SingleBar({
    stream,
    format:
      bytes && total === undefined
        ? `${label} {done} | {rate}`
        : `${label} |{bar}| ${count} | {rate} | ETA {eta_formatted}${bytes ? '' : ' {note}'}`,
    barsize: columns ? Math.max(8, Math.min(30, columns - NUMBERS_WIDTH - label.length)) : 24,
    etaBuffer: 50,
    hideCursor: true,
    clearOnComplete: false,
    // gracefulExit stays off: its SIGINT handler would keep Ctrl-C from stopping pss (src/cli/signals.ts)
    noTTYOutput: !isTTY,
    notTTYSchedule: 1000,
  });
  // Samples start with the first update: a resumed job or download starts part-way.
  let samples: [number, number][] = [];
  const rate = (value: number): string => {
    const now = performance.now();
    if (samples.length && value < samples[samples.length - 1][1]) samples = []; // started over
    samples.push([now, value]);
    while (samples.length > 2 && now - samples[0][0] > SPEED_WINDOW_MS) samples.shift();
    const [t0, v0] = samples[0];
    if (now - t0 < 1) return '…';
    const perSecond = (value - v0) / ((now - t0) / 1000);
    return bytes ? `${formatBytes(perSecond)}/s` : `${perSecond.toFixed(1)}/s`;
  };
  const fields = (value: number, rate: string, size = bar.getTotal()) => {
    return { rate, done: formatBytes(value), size: size ? formatBytes(size) : '?', note: '' };
  };
  bar.start(total ?? 0, 0, fields(0, '…', total ?? 0));
  return {
    update(done, extra = {}) {
      bar.update(done, { ...fields(done, rate(done)), ...extra });
    },
    setTotal(size) {
      bar.setTotal(size ?? 0);
    },
    stop() {
      bar.stop();
    },
  };
}

/** A download's progress callback (loadModel's `onProgress`) that draws the bar, one per download. */
export function downloadProgress(options: BarOptions = {}): (progress: DownloadProgress) => void {
  let bar: ReturnType<typeof progressBar> | undefined;
  let total: number | undefined;
  return ({ label, received, total: size, done }) => {
    if (done) {
      bar?.stop();
      bar = undefined;
      return;
    }
    if (!bar) {
      bar = progressBar(basename(label), size, 'bytes', options);
      total = size;
    } else if (size !== total) {
      bar.setTotal(size);
      total = size;
    }
    bar.update(received);
  };
}
