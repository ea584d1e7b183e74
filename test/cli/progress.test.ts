/** The one progress bar (src/cli/progress.ts): counts and bytes, and downloads drawn through it. */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { downloadProgress, formatBytes, progressBar, showProgress } from '../../src/cli/progress.js';
import { serializeSafeTensors } from '../../src/io/safetensors.js';
import { resolveWeights } from '../../src/models/download/index.js';
import { serveBytes, startServer, type TestServer } from '../helpers/http-server.js';

/** A stream that keeps what is written to it. */
function capture() {
  const stream = new PassThrough();
  const out = { stream, text: '' };
  stream.on('data', (d) => (out.text += d));
  return out;
}

describe('the progress bar', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  it('draws a download (bytes, speed, ETA) from resolveWeights’ onProgress', async () => {
    const n = 100_000;
    const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.001 + 1));
    server.route(
      '/d/w.safetensors',
      serveBytes(serializeSafeTensors({ w: { dtype: 'F32', shape: [n], data } })),
    );
    const out = capture();
    await resolveWeights(`${server.url}/d/w.safetensors`, {
      cacheDir: mkdtempSync(join(tmpdir(), 'pss-progress-')),
      onProgress: downloadProgress({ stream: out.stream, enabled: true }),
    });
    assert.match(
      out.text,
      /^w\.safetensors \|=+\| 100% \| 400 kB \/ 400 kB \| [\d.]+ [kMG]?B\/s \| ETA \d+s$/m,
    );
  });

  it('a download of unknown size shows what came and the speed', () => {
    const out = capture();
    const draw = downloadProgress({ stream: out.stream, enabled: true });
    draw({ label: 'https://host/x/w.pth', received: 0, done: false });
    draw({ label: 'https://host/x/w.pth', received: 2_500_000, done: false });
    draw({ label: 'https://host/x/w.pth', received: 2_500_000, done: true });
    assert.match(out.text, /^w\.pth 2\.50 MB \| (…|[\d.]+ [kMG]?B\/s)$/m);
  });

  it('counts: done/total of a unit, the rate, the note', () => {
    const out = capture();
    const bar = progressBar('stats', 10, 'images', { stream: out.stream, enabled: true });
    bar.update(4, { note: '| 1 skipped' });
    bar.update(10);
    bar.stop();
    assert.match(out.text, /^stats \|=+\| 10\/10 images \| (…|[\d.]+\/s) \| ETA \d+s $/m);
  });

  it('off unless stderr is a terminal, PSS_PROGRESS overriding; nothing written when off', () => {
    const saved = process.env.PSS_PROGRESS;
    try {
      const pipe = new PassThrough();
      delete process.env.PSS_PROGRESS;
      assert.equal(showProgress(pipe), false);
      process.env.PSS_PROGRESS = '1';
      assert.equal(showProgress(pipe), true);
      process.env.PSS_PROGRESS = '0';
      assert.equal(showProgress(Object.assign(new PassThrough(), { isTTY: true })), false);
      const out = capture();
      const draw = downloadProgress({ stream: out.stream });
      draw({ label: 'w', received: 1, total: 2, done: false });
      draw({ label: 'w', received: 2, total: 2, done: true });
      assert.equal(out.text, '');
    } finally {
      if (saved === undefined) delete process.env.PSS_PROGRESS;
      else process.env.PSS_PROGRESS = saved;
    }
  });

  it('sizes in SI units', () => {
    assert.deepEqual([999, 1000, 400_072, 12_345_678, 3e9].map(formatBytes), [
      '999 B',
      '1.00 kB',
      '400 kB',
      '12.3 MB',
      '3.00 GB',
    ]);
  });
});
