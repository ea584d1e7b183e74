/** Progress bars on stderr (only on a terminal, so piped output and JSON stay clean). */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, extra?: Record<string, string | number>): void;
  stop(): void;
}

export function progressBar(label: string, total: number, unit = 'images'): Progress {
  if (!process.stderr.isTTY || process.env.CI) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} |{bar}| {value}/{total} ${unit} | {rate}/s | ETA {eta_formatted} {note}`,
      barsize: 30,
      etaBuffer: 50,
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  const start = Date.now();
  let first = -1;
  bar.start(total, 0, { rate: '-', note: '' });
  return {
    update(done, extra = {}) {
      if (first < 0) first = done;
      const secs = (Date.now() - start) / 1000;
      const rate = secs > 0 ? ((done - first) / secs).toFixed(1) : '-';
      bar.update(done, { rate, note: '', ...extra });
    },
    stop() {
      bar.stop();
    },
  };
}
