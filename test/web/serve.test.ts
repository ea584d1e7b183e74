/** `pss serve` as a command: starts, prints its URL, stops cleanly on Ctrl+C; bad flags exit 1. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pss } from '../helpers/cli.js';
import { serve } from './helpers.js';

describe('pss serve', () => {
  it('prints its URL on 127.0.0.1, answers, and exits 0 on SIGINT', async () => {
    const s = await serve();
    try {
      assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const state = (await (await fetch(new URL('/api/state', s.url))).json()) as {
        models: { name: string }[];
      };
      assert.equal(state.models[0].name, 'fashion-cnn');
    } finally {
      assert.equal(await s.stop(), 0, s.output());
    }
    assert.match(s.output(), /stopping/);
  });

  it('refuses a port in use, a bad port and a bad model with one line', async () => {
    const s = await serve();
    try {
      const port = new URL(s.url).port;
      const r = pss(['serve', '--port', port]);
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr.trim(),
        `pss: port ${port} is in use: choose another with --port (0 = any free port)`,
      );
    } finally {
      await s.stop();
    }
    let r = pss(['serve', '--port', '70000']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--port must be at most 65535/);
    r = pss(['serve', '--port', '0', '--model', 'resnet9000']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unknown model "resnet9000"/);
  });

  it('has help with examples', () => {
    const r = pss(['serve', '--help']);
    assert.equal(r.code, 0);
    for (const s of [
      '--port',
      '--host',
      '--allow-origin',
      '--allow-paths',
      '--model',
      '--weights',
      '--preprocessing',
      '--stats',
      'Examples:',
    ])
      assert.ok(r.stdout.includes(s), s);
  });
});
