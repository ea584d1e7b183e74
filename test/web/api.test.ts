/** The web explorer's server without a browser: the JSON API, its limits and errors, static files. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadInput } from '../../src/image/input.js';
import { loadModel } from '../../src/models/load.js';
import { Model } from '../../src/models/model.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { Explorer } from '../../src/web/explorer.js';
import { type RunningServer, startServer } from '../../src/web/server.js';
import { onnxWithUnknownOp } from './helpers.js';
import { onnxClassifier } from './onnx-models.js';

const EXAMPLE = 'example:shirt-as-tshirt-5806.png';

// biome-ignore lint/suspicious/noExplicitAny: the server's JSON, checked field by field
type Json = Record<string, any>;
const EXAMPLE_PNG = readFileSync('examples/fashion/shirt-as-tshirt-5806.png');

/** A raw request (any path, any Host header): status, headers, body. */
function raw(
  url: string,
  path: string,
  o: { method?: string; headers?: Record<string, string>; body?: Uint8Array } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method: o.method ?? 'GET', headers: o.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

describe('pss serve: the API', () => {
  let explorer: Explorer;
  let server: RunningServer;
  const logs: string[] = [];
  const cacheDir = process.env.PSS_CACHE_DIR;

  const post = async (path: string, body: unknown) => {
    const res = await fetch(new URL(path, server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Json };
  };
  const upload = async (path: string, bytes: Uint8Array, name: string) => {
    const sep = path.includes('?') ? '&' : '?';
    const res = await fetch(new URL(`${path}${sep}name=${encodeURIComponent(name)}`, server.url), {
      method: 'POST',
      body: bytes,
    });
    return { status: res.status, json: (await res.json()) as Json };
  };

  before(async () => {
    process.env.PSS_CACHE_DIR = mkdtempSync(join(tmpdir(), 'pss-cache-')); // an empty cache
    explorer = new Explorer();
    await explorer.loadInitial({ model: 'fashion-cnn' });
    server = await startServer({
      explorer,
      port: 0,
      limits: { imageBytes: 200_000, onnxBytes: 300_000 },
      log: (m) => logs.push(m),
    });
  });
  after(async () => {
    await server?.close();
    await explorer?.[Symbol.asyncDispose]();
    if (cacheDir === undefined) delete process.env.PSS_CACHE_DIR;
    else process.env.PSS_CACHE_DIR = cacheDir;
    assert.deepEqual(logs, [], 'no unexpected (500) errors');
  });

  it('serves the page and its scripts, and nothing else from disk', async () => {
    const page = await raw(server.url, '/');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
    assert.match(page.body, /<script type="module" src="app.js">/);
    assert.match(String((await raw(server.url, '/chart.js')).headers['content-type']), /^text\/javascript/);
    for (const path of [
      '/../package.json',
      '/%2e%2e/package.json',
      '/..%2fpackage.json',
      '/%2e%2e%2f%2e%2e%2fpackage.json',
      '/static/../../package.json',
      '/app.js/../../README.md',
      '//etc/passwd',
      '/%00',
      '/api/models/m1/examples/..%2f..%2fpackage.json',
      '/api/models/m1/examples/%2e%2e',
    ]) {
      const r = await raw(server.url, path);
      assert.ok(r.status === 404 || r.status === 400, `${path}: ${r.status}`);
      assert.doesNotMatch(r.body, /"name": "pss"|root:/, path);
      assert.ok(JSON.parse(r.body).error, path);
    }
    assert.equal((await raw(server.url, '/api/models/m1/examples/bag-1884.png')).status, 200);
  });

  it('refuses other hosts and other origins', async () => {
    const host = await raw(server.url, '/api/state', { headers: { host: 'evil.example:80' } });
    assert.equal(host.status, 403);
    assert.match(JSON.parse(host.body).error, /unexpected Host header/);
    const origin = await raw(server.url, '/api/state', { headers: { origin: 'http://evil.example' } });
    assert.equal(origin.status, 403);
    const same = await raw(server.url, '/api/state', {
      headers: { origin: server.url.replace(/\/$/, '') },
    });
    assert.equal(same.status, 200);
  });

  it('describes the loaded models and the architectures', async () => {
    const state = (await (await fetch(new URL('/api/state', server.url))).json()) as Json;
    const [m] = state.models;
    assert.equal(state.initial, m.id);
    assert.equal(m.name, 'fashion-cnn');
    assert.equal(m.standardized, true);
    assert.equal(m.unitCount, 224);
    assert.equal(m.examples.length, 12);
    assert.equal(m.examples.filter((e: { default: boolean }) => e.default).length, 1);
    const resnet = state.architectures.find((a: { name: string }) => a.name === 'resnet50');
    assert.equal(resnet.cached, null);
    assert.equal(state.limits.imageBytes, 200_000);
  });

  it('explains an example: prediction, top 5, the profile, four maps', async () => {
    const { status, json: r } = await post('/api/explain', { model: 'm1', image: EXAMPLE, label: 6, k: 5 });
    assert.equal(status, 200, r.error);
    assert.equal(r.predictedName, 'T-shirt/top');
    assert.equal(r.labelName, 'Shirt');
    assert.equal(r.probabilities.length, 5);
    assert.equal(r.boosted.length, 5);
    assert.equal(r.profile.values.length, 224);
    assert.deepEqual(
      r.profile.top.map((t: { index: number }) => t.index),
      r.boosted.map((b: { index: number }) => b.index),
    );
    for (const map of Object.values(r.maps)) assert.match(String(map), /^data:image\/png;base64,iVBOR/);

    const one = await post('/api/explain', {
      model: 'm1',
      image: EXAMPLE,
      label: 6,
      filters: [r.boosted[2].index],
      profile: false,
    });
    assert.equal(one.status, 200, one.json.error);
    assert.deepEqual(one.json.boosted, [r.boosted[2]]);
    assert.equal(one.json.profile, undefined);
    assert.notEqual(one.json.maps.pss, r.maps.pss);
  });

  it('predicts with filters zeroed, as a model whose weights have those filters zeroed would', async () => {
    const top = [125, 195, 177, 154, 4, 15, 209, 81, 5, 126];
    const plain = await post('/api/predict', { model: 'm1', image: EXAMPLE });
    const zeroed = await post('/api/predict', { model: 'm1', image: EXAMPLE, zero: top });
    assert.equal(plain.status, 200, plain.json.error);
    assert.equal(zeroed.json.zeroed, 10);
    assert.notDeepEqual(zeroed.json.probabilities, plain.json.probabilities);

    // the explorer's prediction against a copy of the weights with those rows set to zero (fashion-cnn's convs have no bias)
    const model = await loadModel({ model: 'fashion-cnn' });
    const weights = new Map(model.weights);
    for (const index of top) {
      const layer = [...model.layers].reverse().find((l) => l.offset <= index)!;
      const w = Float32Array.from(weights.get(layer.param)!);
      const per = w.length / layer.filters;
      w.fill(0, (index - layer.offset) * per, (index - layer.offset + 1) * per);
      weights.set(layer.param, w);
    }
    const pruned = new Model(model.arch, model.numClasses, weights, 'zeroed');
    const x = await loadInput(EXAMPLE_PNG, model);
    const batch = { data: x.data, shape: [1, ...x.shape] as [number, number, number, number] };
    await using b = new SaliencyEngine(pruned);
    const { logits: masked } = await explorer.predict(explorer.models.get('m1'), EXAMPLE, top);
    const [reference] = await b.compute(batch, [6]);
    for (let i = 0; i < 10; i++) assert.ok(Math.abs(masked[i] - reference.logits[i]) < 1e-4, `logit ${i}`);
  });

  it('uploads: a bad image, a truncated one and one over the limit get a message; a good one works', async () => {
    const text = await upload('/api/images', new TextEncoder().encode('not pixels'), 'notes.txt');
    assert.equal(text.status, 400);
    assert.equal(text.json.error, 'image file notes.txt is not a JPEG, PNG, WebP, GIF or TIFF image');
    const cut = await upload('/api/images', EXAMPLE_PNG.subarray(0, EXAMPLE_PNG.length - 40), 'cut.png');
    assert.equal(cut.status, 400);
    assert.match(cut.json.error, /^image file cut\.png is truncated or corrupt/);
    const big = await upload('/api/images', new Uint8Array(250_000), 'big.png');
    assert.equal(big.status, 413);
    assert.equal(big.json.error, 'the image big.png is 0.3 MB; the limit is 0.2 MB');
    const name = await upload('/api/images', EXAMPLE_PNG, '../../<b>shirt</b>\u0007.png');
    assert.equal(name.status, 200, name.json.error);
    assert.equal(name.json.name, 'b>.png'); // the last path component, control characters dropped
    const good = await upload('/api/images', EXAMPLE_PNG, 'shirt.png');
    assert.match(good.json.id, /^upload:u\d+$/);
    assert.deepEqual([good.json.width, good.json.height], [28, 28]);
    const p = await post('/api/predict', { model: 'm1', image: good.json.id });
    assert.equal(p.json.predictedName, 'T-shirt/top');
  });

  it('ONNX uploads: an unknown operator, an empty file, one over the limit', async () => {
    const odd = await upload('/api/models/onnx', onnxWithUnknownOp(), 'odd.onnx');
    assert.equal(odd.status, 400);
    assert.equal(odd.json.error, 'odd.onnx uses ONNX operators pss cannot differentiate: Foo');
    const empty = await upload('/api/models/onnx', new Uint8Array(0), 'empty.onnx');
    assert.equal(empty.status, 400);
    const big = await upload('/api/models/onnx', new Uint8Array(400_000), 'big.onnx');
    assert.equal(big.status, 413);
    assert.match(big.json.error, /the ONNX file big\.onnx is 0\.4 MB; the limit is 0\.3 MB/);
    const junk = await upload('/api/models/onnx', new Uint8Array(1000).fill(7), 'junk.onnx');
    assert.equal(junk.status, 400);
    assert.match(junk.json.error, /^junk\.onnx is not a valid ONNX model/);
  });

  it('ONNX uploads are checked at upload, with the preprocessing the page chose; a model can be released', async () => {
    for (const flaw of ['no-conv', 'two-inputs', 'map-output'] as const) {
      const r = await upload('/api/models/onnx', onnxClassifier({ flaw }), `${flaw}.onnx`);
      assert.equal(r.status, 400, `${flaw}: ${r.json.error}`);
      assert.match(r.json.error, new RegExp(`^${flaw}\\.onnx`));
    }
    const grey = await upload(
      '/api/models/onnx?preprocessing=auto',
      onnxClassifier({ channels: 1, size: 20 }),
      'g.onnx',
    );
    assert.equal(grey.status, 200, grey.json.error);
    assert.deepEqual(grey.json.preprocessing, {
      summary: 'resize 20 → crop 20×20, mean [0], std [1]',
      assumed: true,
    });
    assert.deepEqual(grey.json.inputShape, [1, 20, 20]);
    const description = encodeURIComponent('{"resize": 24, "mean": [0.5], "std": [0.2]}');
    const described = await upload(
      `/api/models/onnx?preprocessing=${description}`,
      onnxClassifier({ channels: 1, size: 20 }),
      'g.onnx',
    );
    assert.equal(described.status, 200, described.json.error);
    assert.notEqual(described.json.id, grey.json.id, 'another preprocessing is another model');
    assert.match(
      described.json.notes.join('\n'),
      /preprocessing from the description given: resize 24 → crop 20×20, mean \[0\.5\], std \[0\.2\]/,
    );
    const rgb = await upload(
      '/api/models/onnx?preprocessing=imagenet',
      onnxClassifier({ channels: 1, size: 20 }),
      'g.onnx',
    );
    assert.equal(rgb.status, 400);
    assert.equal(
      rgb.json.error,
      'the imagenet transform makes RGB inputs; g.onnx takes 1 channel (greyscale)',
    );
    const img = await upload('/api/images', EXAMPLE_PNG, 'shirt.png');
    const r = await post('/api/explain', { model: described.json.id, image: img.json.id, label: 3, k: 4 });
    assert.equal(r.status, 200, r.json.error);
    assert.equal(r.json.boosted.length, 4);

    const gone = await raw(server.url, `/api/models/${described.json.id}`, { method: 'DELETE' });
    assert.equal(gone.status, 200, gone.body);
    const state = (await (await fetch(new URL('/api/state', server.url))).json()) as Json;
    assert.ok(!state.models.some((m: { id: string }) => m.id === described.json.id));
    const after = await post('/api/predict', { model: described.json.id, image: img.json.id });
    assert.equal(after.status, 404);
    assert.match(after.json.error, /is not loaded \(it may have been released\)/);
    const pinned = await raw(server.url, '/api/models/m1', { method: 'DELETE' });
    assert.equal(pinned.status, 400);
    assert.equal((await raw(server.url, '/favicon.ico')).status, 200);
    const emptyK = await post('/api/explain', { model: 'm1', image: EXAMPLE, label: 1, k: '' });
    assert.equal(emptyK.status, 400);
    assert.match(emptyK.json.error, /"k" must be an integer/);
  });

  it('built-in models: local weights load; weights not in the cache are never downloaded', async () => {
    const cached = await post('/api/models', { arch: 'resnet50', weights: 'tv:resnet50' });
    assert.equal(cached.status, 400);
    assert.match(
      cached.json.error,
      /^tv:resnet50 is not in the server's download cache; .* does not download/,
    );
    const url = await post('/api/models', {
      arch: 'resnet18',
      weights: 'https://example.invalid/w.safetensors',
    });
    assert.match(url.json.error, /is not in the server.s download cache/);
    const unknown = await post('/api/models', { arch: 'resnet9000' });
    assert.match(unknown.json.error, /^unknown model "resnet9000"/);
    const path = await post('/api/models', {
      arch: 'tinycnn',
      weights: 'examples/tinycnn-deterministic.safetensors',
    });
    assert.equal(path.status, 400);
    assert.match(path.json.error, /the page cannot name files on the server .* --allow-paths/);
    const noWeights = await post('/api/models', { arch: 'tinycnn' });
    assert.match(noWeights.json.error, /tinycnn needs weights/);

    const weights = readFileSync('examples/tinycnn-deterministic.safetensors');
    const file = await upload('/api/files?kind=weights', weights, 'tiny.safetensors');
    assert.equal(file.status, 200, file.json.error);
    assert.match(file.json.id, /^upload:f\d+$/);
    const tiny = await post('/api/models', { arch: 'tinycnn', weights: file.json.id });
    assert.equal(tiny.status, 200, tiny.json.error);
    assert.equal(tiny.json.standardized, false);
    assert.deepEqual(tiny.json.examples, []);
    assert.equal(tiny.json.title, 'tinycnn · tiny.safetensors');
    const again = await post('/api/models', { arch: 'tinycnn', weights: file.json.id });
    assert.equal(again.json.id, tiny.json.id);
    const asStats = await post('/api/models', {
      arch: 'tinycnn',
      weights: file.json.id,
      stats: file.json.id,
    });
    assert.match(asStats.json.error, /was uploaded as a weights file, not a statistics file/);
    const img = await upload('/api/images', EXAMPLE_PNG, 'shirt.png');
    const r = await post('/api/explain', { model: tiny.json.id, image: img.json.id, label: 3 });
    assert.equal(r.status, 200, r.json.error);
    assert.equal(r.json.standardized, false);
    assert.equal(r.json.profile.values.length, tiny.json.unitCount);
  });

  it('bad requests get {error} with a 4xx status', async () => {
    const cases: [string, unknown, number, RegExp][] = [
      [
        '/api/explain',
        { model: 'm1', image: EXAMPLE, label: 10 },
        400,
        /"label" must be an integer in \[0, 9\]/,
      ],
      ['/api/explain', { model: 'm1', image: EXAMPLE }, 400, /"label" is required/],
      ['/api/explain', { model: 'm1', image: EXAMPLE, label: 1, k: 0 }, 400, /"k" must be/],
      ['/api/explain', { model: 'm1', image: EXAMPLE, label: 1, filters: [] }, 400, /"filters" is empty/],
      [
        '/api/explain',
        { model: 'm1', image: EXAMPLE, label: 1, filters: [224] },
        400,
        /out of range 0\.\.223/,
      ],
      ['/api/explain', { model: 'm9', image: EXAMPLE, label: 1 }, 404, /model m9 is not loaded/],
      ['/api/explain', { model: 'm1', image: 'example:nope.png', label: 1 }, 404, /has no example nope\.png/],
      ['/api/explain', { model: 'm1', image: 'upload:u999', label: 1 }, 404, /no longer on the server/],
      ['/api/explain', { model: 'm1', image: '/etc/passwd', label: 1 }, 400, /"image" must be example:/],
      ['/api/predict', { model: 'm1', image: EXAMPLE, zero: 'all' }, 400, /"zero" must be a list/],
      ['/api/predict', [1, 2], 400, /must be a JSON object/],
      ['/api/nothing', {}, 404, /not found/],
    ];
    for (const [path, body, status, message] of cases) {
      const r = await post(path, body);
      assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.json.error}`);
      assert.match(r.json.error, message);
    }
    const notJson = await raw(server.url, '/api/explain', {
      method: 'POST',
      body: new TextEncoder().encode('{'),
    });
    assert.equal(notJson.status, 400);
    assert.equal((await raw(server.url, '/api/state', { method: 'DELETE' })).status, 405);
    assert.equal((await post('/api/state', {})).status, 405);
    // and it still answers
    assert.equal((await post('/api/predict', { model: 'm1', image: EXAMPLE })).status, 200);
  });

  it('loads a model over another unit set: its table, an explanation naming neurons, a neuron turned off', async () => {
    const state = (await (await fetch(new URL('/api/state', server.url))).json()) as Json;
    assert.deepEqual(Object.keys(state.unitSets), ['filters', 'filters+neurons', 'all']);
    const bad = await post('/api/models', { arch: 'fashion-cnn', units: 'heads' });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /^"units" must be one of filters, filters\+neurons, all, got "heads"$/);
    const { status, json: m } = await post('/api/models', { arch: 'fashion-cnn', units: 'filters+neurons' });
    assert.equal(status, 200, m.error);
    assert.deepEqual(
      [m.unitSet, m.unitCount, m.unitCounts],
      ['filters+neurons', 234, '224 filters, 10 neurons'],
    );
    assert.deepEqual(m.units.at(-1), { name: 'fc', offset: 224, filters: 10, kind: 'neuron' });
    // the bundled statistics cover filters only: raw saliency
    assert.equal(m.standardized, false);
    const r = await post('/api/explain', { model: m.id, image: EXAMPLE, label: 6, k: 234 });
    assert.equal(r.status, 200, r.json.error);
    assert.equal(r.json.profile.values.length, 234);
    const neurons = r.json.profile.top.filter((t: Json) => t.kind === 'neuron');
    assert.equal(neurons.length, 10);
    for (const t of neurons) assert.equal(t.layer, 'fc');
    // turning the predicted class's neuron off: the model predicts something else
    const plain = await post('/api/predict', { model: m.id, image: EXAMPLE });
    const off = await post('/api/predict', {
      model: m.id,
      image: EXAMPLE,
      zero: [224 + plain.json.predicted],
    });
    assert.equal(off.status, 200, off.json.error);
    assert.notEqual(off.json.predicted, plain.json.predicted);
    const outOfRange = await post('/api/predict', { model: m.id, image: EXAMPLE, zero: [234] });
    assert.match(outOfRange.json.error, /"zero": unit index 234 is out of range 0\.\.233/);
  });

  it('runs concurrent requests one at a time', async () => {
    const results = await Promise.all(
      [6, 0, 2].map((label) => post('/api/explain', { model: 'm1', image: EXAMPLE, label, profile: false })),
    );
    assert.deepEqual(
      results.map((r) => r.json.labelName),
      ['Shirt', 'T-shirt/top', 'Pullover'],
    );
  });
});

describe('pss serve --units', () => {
  it('the model of the command line is loaded over the unit set it names, the bundled one too', async () => {
    await using explorer = new Explorer();
    await explorer.loadInitial({ model: 'fashion-cnn', units: 'filters+neurons' });
    const loaded = explorer.models.loaded() as Json[];
    const initial = loaded.find((m) => m.id === explorer.initialId)!;
    assert.deepEqual([initial.unitSet, initial.unitCount], ['filters+neurons', 234]);
    // the bundled default stays as it is, beside it
    assert.ok(loaded.some((m) => m.unitSet === 'filters' && m.unitCount === 224));
  });
});
