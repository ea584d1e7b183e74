/**
 * The explorer's --standardize z|pot: the API ranks by POT where the model's statistics keep
 * tails, exactly as `pss saliency --standardize pot` does for the same image, model and
 * statistics; it refuses POT, in one line, where they keep none; `pss serve --standardize pot`
 * starts on POT, or refuses to start.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Explorer } from '../../src/web/explorer.js';
import { type RunningServer, startServer } from '../../src/web/server.js';
import { pss } from '../helpers/cli.js';
import { serve } from './helpers.js';

// biome-ignore lint/suspicious/noExplicitAny: the server's JSON, checked field by field
type Json = Record<string, any>;
const IMAGE = 'coat-as-pullover-5381.png';
const EXAMPLE = `example:${IMAGE}`;
/** The embedded model's first statistics: mean and std, no tails. */
const UNTAILED = 'test/fixtures/fashion-cnn-stats-before-tails.safetensors';

const post = async (base: string, path: string, body: unknown) => {
  const res = await fetch(new URL(path, base), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Json };
};

/** `pss saliency` on the same example, its JSON report. */
function saliencyCli(...extra: string[]): Json {
  const r = pss([
    'saliency',
    '--image',
    `examples/fashion/${IMAGE}`,
    '--label',
    '4',
    '--json',
    '-',
    ...extra,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

describe('pss serve --standardize', () => {
  let explorer: Explorer;
  let server: RunningServer;
  const logs: string[] = [];
  const api = (path: string, body: unknown) => post(server.url, path, body);

  before(async () => {
    explorer = new Explorer();
    await explorer.loadInitial({ model: 'fashion-cnn' });
    server = await startServer({ explorer, port: 0, log: (m) => logs.push(m) });
  });
  after(async () => {
    await server?.close();
    await explorer?.[Symbol.asyncDispose]();
    assert.deepEqual(logs, [], 'no unexpected (500) errors');
  });

  it('offers POT on the bundled statistics and ranks as pss saliency --standardize pot does', async () => {
    const state = (await (await fetch(new URL('/api/state', server.url))).json()) as Json;
    assert.deepEqual(state.standardize, { method: 'z', potQuantile: 0.85 });
    const info = state.models.find((m: Json) => m.id === state.initial);
    assert.deepEqual(info.pot, { quantile: 0.85, refusal: null });

    const r = await api('/api/explain', { model: info.id, image: EXAMPLE, label: 4, standardize: 'pot' });
    assert.equal(r.status, 200, r.json.error);
    const cli = saliencyCli('--standardize', 'pot');
    assert.equal(cli.standardization, 'pot');
    assert.equal(r.json.standardization, 'pot');
    assert.equal(r.json.pot.quantile, 0.85);
    const ranked = cli.top.map((t: Json) => t.index);
    assert.deepEqual(
      r.json.profile.top.map((t: Json) => t.index),
      ranked,
    );
    // the boosted filters are POT's top k too, and every value shown is −log10 P
    assert.deepEqual(
      r.json.boosted.map((b: Json) => b.index),
      ranked,
    );
    // explain's own saliency (its second-order graph) agrees with saliency's to float32 rounding
    const close = (a: number | null, b: number | null) =>
      assert.ok(
        a === b || (a !== null && b !== null && Math.abs(a - b) <= 1e-4 * Math.abs(b)),
        `${a} vs ${b}`,
      );
    for (const t of r.json.profile.top) close(t.pot, cli.pot.score[t.index]);
    cli.pot.score.forEach((s: number | null, i: number) => {
      close(r.json.profile.values[i], s === null ? r.json.pot.cap : Math.min(s, r.json.pot.cap));
    });
    // P smallest first: −log10 P never rises down the table
    const scores = r.json.profile.top.map((t: Json) => t.pot ?? Number.POSITIVE_INFINITY);
    for (let i = 1; i < scores.length; i++) assert.ok(scores[i] <= scores[i - 1], `${scores}`);

    // z stays as it was, and is what a request without the field gets (the server's default)
    const z = await api('/api/explain', { model: info.id, image: EXAMPLE, label: 4 });
    assert.equal(z.json.standardization, 'z');
    assert.equal(z.json.pot, null);
    assert.deepEqual(
      z.json.profile.top.map((t: Json) => t.index),
      saliencyCli().top.map((t: Json) => t.index),
    );
    assert.notDeepEqual(
      z.json.profile.top.map((t: Json) => t.index),
      ranked,
    );
  });

  it('refuses POT in one line on statistics without tails; z still works', async () => {
    const up = await fetch(new URL('/api/files?kind=stats&name=old.safetensors', server.url), {
      method: 'POST',
      body: readFileSync(UNTAILED),
    });
    const { id } = (await up.json()) as Json;
    const m = await api('/api/models', { arch: 'fashion-cnn', stats: id });
    assert.equal(m.status, 200, m.json.error);
    // the model is told apart from the bundled one, its statistics by their upload name
    assert.equal(m.json.title, 'fashion-cnn (bundled) · statistics old.safetensors');
    assert.equal(m.json.statistics.file, 'old.safetensors');
    assert.match(
      m.json.pot.refusal,
      /^old\.safetensors keeps no tails .* recompute the statistics with pss stats$/,
    );
    const r = await api('/api/explain', { model: m.json.id, image: EXAMPLE, label: 4, standardize: 'pot' });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.split('\n').length, 1);
    assert.match(r.json.error, /old\.safetensors keeps no tails/);
    const z = await api('/api/explain', { model: m.json.id, image: EXAMPLE, label: 4, standardize: 'z' });
    assert.equal(z.status, 200, z.json.error);
    assert.equal(z.json.standardization, 'z');

    const bad = await api('/api/explain', { model: m.json.id, image: EXAMPLE, label: 4, standardize: 'p' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error, '"standardize" must be one of z, pot, got "p"');
  });

  it('pss serve --standardize pot starts on POT; with untailed statistics it does not start', async () => {
    const refused = pss(['serve', '--port', '0', '--standardize', 'pot', '--stats', UNTAILED]);
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
    assert.match(refused.stderr, /keeps no tails/);
    const bad = pss(['serve', '--port', '0', '--standardize', 'pot', '--pot-quantile', '0.5']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /POT at q = 0\.5 needs the top 5000/);

    const s = await serve(['--standardize', 'pot', '--pot-quantile', '0.95']);
    try {
      const state = (await (await fetch(new URL('/api/state', s.url))).json()) as Json;
      assert.deepEqual(state.standardize, { method: 'pot', potQuantile: 0.95 });
      const r = await post(s.url, '/api/explain', { model: state.initial, image: EXAMPLE, label: 4 });
      assert.equal(r.status, 200, r.json.error);
      assert.equal(r.json.standardization, 'pot');
      assert.equal(r.json.pot.quantile, 0.95);
      assert.deepEqual(
        r.json.profile.top.map((t: Json) => t.index),
        saliencyCli('--standardize', 'pot', '--pot-quantile', '0.95').top.map((t: Json) => t.index),
      );
    } finally {
      assert.equal(await s.stop(), 0, s.output());
    }
  });
});
