import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { PssError } from '../../src/errors.js';
import { serializeNpy } from '../../src/io/npy.js';
import { serializeSafeTensors, type TensorToWrite } from '../../src/io/safetensors.js';
import type { Architecture } from '../../src/models/architecture.js';
import {
  cacheFileName,
  cacheRoot,
  parseWeightsSpec,
  type ResolveOptions,
  resolveWeights,
} from '../../src/models/download/index.js';
import { fillOptional, mapHubNames, type NamedTensor } from '../../src/models/hub-names.js';
import { Model } from '../../src/models/model.js';
import { tinycnn } from '../../src/models/tinycnn.js';
import { loadWeights } from '../../src/models/weights.js';
import { closedPort, redirectTo, serveBytes, startServer, type TestServer } from '../helpers/http-server.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'pss-fetch-'));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A valid safetensors file of about 400 kB. */
function safetensorsBytes(n = 100_000, seed = 1): Uint8Array {
  const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.001 + seed));
  return serializeSafeTensors({ w: { dtype: 'F32', shape: [n], data } });
}

const BYTES = safetensorsBytes();
const HALF = Math.floor(BYTES.byteLength / 2);

/** Options for a fresh cache. */
const fresh = (extra: ResolveOptions = {}): ResolveOptions & { cacheDir: string } => ({
  cacheDir: tempDir(),
  ...extra,
});
const downloads = (cacheDir: string) => readdirSync(join(cacheDir, 'downloads')).sort();

/** Asserts a PssError with one line matching every pattern. */
async function rejectsWith(p: Promise<unknown>, ...patterns: RegExp[]) {
  await assert.rejects(p, (e: Error) => {
    assert.ok(e instanceof PssError, `a PssError, got ${e.stack}`);
    assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
    for (const re of patterns) assert.match(e.message, re);
    return true;
  });
}

describe('resolveWeights', () => {
  let server: TestServer;
  let n = 0;
  /** A fresh path on the server for each test, so hit counts start at 1. */
  const path = (name = 'w.safetensors') => `/t${++n}/${name}`;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  it('a local path is returned as is; a missing one is a clear error', async () => {
    const dir = tempDir();
    const file = join(dir, 'w.safetensors');
    writeFileSync(file, BYTES);
    assert.equal(await resolveWeights(file), file);
    assert.equal(await resolveWeights(pathToFileURL(file).href), file);
    await rejectsWith(
      resolveWeights(join(dir, 'nope.safetensors')),
      /^weights file not found: .*nope\.safetensors$/,
    );
    await rejectsWith(resolveWeights(dir), /is a directory/);
  });

  it('downloads into the cache, records the SHA-256, and reuses the file without a request', async () => {
    const p = path();
    server.route(p, serveBytes(BYTES));
    const opts = fresh();
    const file = await resolveWeights(server.url + p, opts);
    assert.deepEqual(new Uint8Array(readFileSync(file)), BYTES);
    assert.equal(file, join(opts.cacheDir, 'downloads', cacheFileName(server.url + p)));
    const name = cacheFileName(server.url + p);
    assert.match(name, /^w-[0-9a-f]{12}\.safetensors$/);
    assert.deepEqual(downloads(opts.cacheDir), [name, `${name}.sha256`]);
    assert.equal(readFileSync(`${file}.sha256`, 'utf8'), `${sha256(BYTES)}  ${name}\n`);
    assert.equal(server.requestsTo(p).length, 1);
    assert.equal(await resolveWeights(server.url + p, opts), file);
    assert.equal(server.requestsTo(p).length, 1, 'the second call made no request');
  });

  it('resumes with a Range request when the connection drops half-way', async () => {
    const p = path();
    server.route(p, serveBytes(BYTES, { dropFirstAt: HALF }));
    const file = await resolveWeights(server.url + p, fresh());
    const reqs = server.requestsTo(p);
    assert.equal(reqs.length, 2);
    assert.equal(reqs[0].headers.range, undefined);
    const from = Number(reqs[1].headers.range?.match(/^bytes=(\d+)-$/)?.[1]);
    assert.ok(from > 0 && from <= HALF, `resumed from ${reqs[1].headers.range}`);
    assert.deepEqual(new Uint8Array(readFileSync(file)), BYTES);
  });

  it('resumes across calls: an interrupted download leaves a .part that the next call continues', async () => {
    const p = path();
    server.route(p, serveBytes(BYTES, { dropFirstAt: HALF }));
    const opts = fresh({ retries: 0 });
    await rejectsWith(resolveWeights(server.url + p, opts), /connection .* (was lost|closed)/, /try again/);
    const name = cacheFileName(server.url + p);
    assert.deepEqual(downloads(opts.cacheDir), [`${name}.part`]);
    const partial = statSync(join(opts.cacheDir, 'downloads', `${name}.part`)).size;
    assert.ok(partial > 0 && partial < BYTES.byteLength);
    const file = await resolveWeights(server.url + p, opts);
    assert.equal(server.requestsTo(p)[1].headers.range, `bytes=${partial}-`);
    assert.deepEqual(new Uint8Array(readFileSync(file)), BYTES);
    assert.deepEqual(downloads(opts.cacheDir), [name, `${name}.sha256`]);
  });

  it('restarts cleanly when the server answers a Range request with 200', async () => {
    const p = path();
    server.route(p, serveBytes(BYTES, { ranges: false, dropFirstAt: HALF }));
    const file = await resolveWeights(server.url + p, fresh());
    const reqs = server.requestsTo(p);
    assert.equal(reqs.length, 2);
    assert.match(String(reqs[1].headers.range), /^bytes=\d+-$/);
    assert.deepEqual(new Uint8Array(readFileSync(file)), BYTES);
  });

  it('retries after HTTP 503', async () => {
    const p = path();
    const ok = serveBytes(BYTES);
    server.route(p, (req, res, hit) => (hit === 1 ? res.writeHead(503).end() : ok(req, res, hit)));
    const file = await resolveWeights(server.url + p, fresh());
    assert.deepEqual(new Uint8Array(readFileSync(file)), BYTES);
  });

  it('refuses a file whose SHA-256 differs from the one the server announces, and keeps nothing', async () => {
    const p = path();
    server.route(p, serveBytes(BYTES, { headers: { 'x-linked-etag': `"${'0'.repeat(64)}"` } }));
    const opts = fresh();
    await rejectsWith(
      resolveWeights(server.url + p, opts),
      /refused and deleted: its SHA-256 is [0-9a-f]{64}, but the server announced 0{64}/,
    );
    assert.deepEqual(downloads(opts.cacheDir), []);
    // the caller's expected SHA-256 is checked too
    const q = path();
    server.route(q, serveBytes(BYTES));
    await rejectsWith(
      resolveWeights(server.url + q, fresh({ sha256: 'f'.repeat(64) })),
      /not the expected f{64}/,
    );
    assert.ok(await resolveWeights(server.url + q, fresh({ sha256: sha256(BYTES).toUpperCase() })));
  });

  it('refuses a corrupt (non-safetensors) download, and keeps nothing', async () => {
    const p = path('bad.safetensors');
    server.route(p, serveBytes(new TextEncoder().encode('<!doctype html><title>Sign in</title>')));
    const opts = fresh();
    await rejectsWith(
      resolveWeights(server.url + p, opts),
      /not a valid safetensors file \(header length/,
      /check the URL/,
    );
    assert.deepEqual(downloads(opts.cacheDir), []);
    // a truncated one too (the server sends fewer bytes than the header promises)
    const q = path();
    server.route(q, serveBytes(BYTES.subarray(0, HALF)));
    await rejectsWith(resolveWeights(server.url + q, fresh()), /not a valid safetensors file .*truncated/);
  });

  it('HTTP 404 and 401 are clear errors', async () => {
    const opts = fresh();
    await rejectsWith(
      resolveWeights(`${server.url}/nowhere/w.safetensors`, opts),
      /was not found \(HTTP 404\); check the URL, or download the file yourself and pass its path$/,
    );
    const p = path();
    server.route(p, (_req, res) => res.writeHead(401).end());
    await rejectsWith(resolveWeights(server.url + p, opts), /denied \(HTTP 401\).*private or gated/);
    assert.deepEqual(downloads(opts.cacheDir), []);
  });

  it('a refused connection is a clear "offline or unreachable" error', async () => {
    const port = await closedPort();
    await rejectsWith(
      resolveWeights(`http://127.0.0.1:${port}/w.safetensors`, fresh()),
      /cannot download http:\/\/127\.0\.0\.1:\d+\/w\.safetensors: cannot reach 127\.0\.0\.1:\d+: connection refused \(offline/,
      /download the file yourself and pass its path/,
    );
  });

  it('a server that never answers times out', async () => {
    const p = path();
    server.route(p, () => {});
    await rejectsWith(
      resolveWeights(server.url + p, fresh({ timeoutMs: 150, retries: 1 })),
      /timed out.*\(2 tries\)/,
    );
  });

  it('follows redirects (relative and absolute) and checks the Hub X-Linked-Etag of the first hop', async () => {
    const p = path();
    const cdn = `/cdn${p}`;
    server.route(p, redirectTo(`${cdn}?signature=x`, 302, { 'x-linked-etag': `"${sha256(BYTES)}"` }));
    server.route(cdn, redirectTo(`${server.url}/cdn2${p}`, 307));
    server.route(`/cdn2${p}`, serveBytes(BYTES, { headers: { etag: '"abc-123"' } }));
    const file = await resolveWeights(server.url + p, fresh());
    assert.deepEqual(new Uint8Array(readFileSync(file)), BYTES);
    assert.deepEqual(
      server.requests.filter((r) => r.path.includes(p)).map((r) => r.path),
      [p, `${cdn}?signature=x`, `/cdn2${p}`],
    );
  });

  it('two concurrent calls for one URL download it once', async () => {
    const p = path();
    server.route(p, serveBytes(BYTES));
    const opts = fresh();
    const [a, b] = await Promise.all([
      resolveWeights(server.url + p, opts),
      resolveWeights(server.url + p, opts),
    ]);
    assert.equal(a, b);
    assert.equal(server.requestsTo(p).length, 1);
  });

  it('gives up after 10 redirects, naming the loop', async () => {
    const p = path();
    server.route(p, redirectTo(p, 302));
    await rejectsWith(resolveWeights(server.url + p, fresh()), /cannot download .*: too many redirects$/);
    assert.equal(server.requestsTo(p).length, 11, 'the first request and 10 redirects');
    const q = path();
    server.route(q, redirectTo('ftp://example.org/w.safetensors', 301));
    await rejectsWith(
      resolveWeights(server.url + q, fresh()),
      /redirected to ftp:\/\/example\.org\/w\.safetensors$/,
    );
  });

  it('a body that stalls mid-transfer times out and resumes with a Range request', async () => {
    const p = path();
    const ok = serveBytes(BYTES);
    server.route(p, (req, res, hit) => {
      if (hit > 1) return ok(req, res, hit);
      res.writeHead(200, { 'content-length': BYTES.byteLength });
      res.write(BYTES.subarray(0, HALF)); // and nothing more, the connection left open
    });
    const file = await resolveWeights(server.url + p, fresh({ timeoutMs: 300 }));
    const reqs = server.requestsTo(p);
    assert.equal(reqs.length, 2);
    assert.equal(reqs[1].headers.range, `bytes=${HALF}-`);
    assert.deepEqual(new Uint8Array(readFileSync(file)), BYTES);
  });

  it('a .part that is already whole is finished by the server answering 416', async () => {
    const p = path();
    server.route(p, serveBytes(BYTES));
    const opts = fresh();
    const name = cacheFileName(server.url + p);
    mkdirSync(join(opts.cacheDir, 'downloads'));
    writeFileSync(join(opts.cacheDir, 'downloads', `${name}.part`), BYTES);
    const file = await resolveWeights(server.url + p, opts);
    assert.equal(server.requestsTo(p)[0].headers.range, `bytes=${BYTES.byteLength}-`);
    assert.deepEqual(new Uint8Array(readFileSync(file)), BYTES);
    assert.deepEqual(downloads(opts.cacheDir), [name, `${name}.sha256`]);
  });

  it('a resumed .part of another file is retried from zero once, then the file is right', async () => {
    const p = path();
    server.route(p, serveBytes(BYTES, { headers: { 'x-linked-etag': `"${sha256(BYTES)}"` } }));
    const opts = fresh();
    const name = cacheFileName(server.url + p);
    mkdirSync(join(opts.cacheDir, 'downloads'));
    writeFileSync(
      join(opts.cacheDir, 'downloads', `${name}.part`),
      safetensorsBytes(1000, 7).subarray(0, 100),
    );
    const file = await resolveWeights(server.url + p, opts);
    const reqs = server.requestsTo(p);
    assert.deepEqual(
      reqs.map((r) => r.headers.range),
      ['bytes=100-', undefined],
    );
    assert.deepEqual(new Uint8Array(readFileSync(file)), BYTES);
  });

  it('user:password@ in the URL is sent as basic authentication (fetch refuses it in the URL)', async () => {
    const p = path();
    server.route(p, serveBytes(BYTES));
    const url = new URL(server.url + p);
    url.username = 'me';
    url.password = 'p@ss';
    await resolveWeights(url.href, fresh());
    assert.equal(
      server.requestsTo(p)[0].headers.authorization,
      `Basic ${Buffer.from('me:p@ss').toString('base64')}`,
    );
  });

  it('reports progress through onProgress: bytes, the total, and done once at the end', async () => {
    const p = path();
    server.route(p, serveBytes(BYTES, { dropFirstAt: HALF }));
    const events: { received: number; total?: number; done: boolean; label: string }[] = [];
    const opts = fresh({ onProgress: (e) => events.push(e) });
    await resolveWeights(server.url + p, opts);
    assert.ok(events.length > 2);
    assert.ok(events.every((e) => e.label === server.url + p));
    assert.deepEqual(events.at(-1), {
      label: server.url + p,
      received: BYTES.byteLength,
      total: BYTES.byteLength,
      done: true,
    });
    assert.equal(events.filter((e) => e.done).length, 1);
    const second = events.findIndex((e, i) => i > 0 && e.received < events[i - 1].received);
    assert.equal(second, -1, 'the resume continues from the .part: received never goes back');
    assert.ok(events.every((e) => e.total === BYTES.byteLength));
    events.length = 0;
    await resolveWeights(server.url + p, opts);
    assert.equal(events.length, 0, 'a cached file is not downloaded: no progress');
    // a failure ends with done too (the CLI's bar is stopped before the error is printed)
    await rejectsWith(resolveWeights(`${server.url}/nowhere/x.safetensors`, opts), /HTTP 404/);
    assert.deepEqual(
      events.map((e) => e.done),
      [true],
    );
  });

  describe('Hub references', () => {
    const saved = process.env.PSS_HF_ENDPOINT;
    before(() => {
      process.env.PSS_HF_ENDPOINT = `${server.url}/`;
    });
    after(() => {
      if (saved === undefined) delete process.env.PSS_HF_ENDPOINT;
      else process.env.PSS_HF_ENDPOINT = saved;
    });

    it('hf:owner/repo[@revision][/file] and tv:<arch> map to /owner/repo/resolve/revision/file', () => {
      const u = server.url;
      const url = (s: string) => (parseWeightsSpec(s) as { url: string }).url;
      assert.equal(
        url('hf:timm/resnet50.tv_in1k'),
        `${u}/timm/resnet50.tv_in1k/resolve/main/model.safetensors`,
      );
      assert.equal(url('tv:resnet50'), `${u}/timm/resnet50.tv_in1k/resolve/main/model.safetensors`);
      assert.equal(url('tv:vgg16_bn'), `${u}/timm/vgg16_bn.tv_in1k/resolve/main/model.safetensors`);
      assert.equal(url('hf:me/net@v1.0/sub/w.safetensors'), `${u}/me/net/resolve/v1.0/sub/w.safetensors`);
      assert.equal(url('hf:me/net/w.safetensors'), `${u}/me/net/resolve/main/w.safetensors`);
      assert.equal(parseWeightsSpec('w.safetensors').kind, 'file');
      for (const bad of ['hf:', 'hf:justone', 'hf:a/b/../c', 'tv:', 'tv:../x'])
        assert.throws(() => parseWeightsSpec(bad), PssError, bad);
    });

    it('tv:resnet50 downloads timm/resnet50.tv_in1k through the Hub redirect', async () => {
      const hub = '/timm/resnet50.tv_in1k/resolve/main/model.safetensors';
      server.route(hub, redirectTo('/xet/blob-1', 302, { 'x-linked-etag': `"${sha256(BYTES)}"` }));
      server.route('/xet/blob-1', serveBytes(BYTES));
      const opts = fresh();
      const file = await resolveWeights('tv:resnet50', opts);
      assert.deepEqual(new Uint8Array(readFileSync(file)), BYTES);
      assert.match(file, /timm--resnet50\.tv_in1k--model-[0-9a-f]{12}\.safetensors$/);
      assert.equal(
        await resolveWeights('hf:timm/resnet50.tv_in1k', opts),
        file,
        'the same URL, the same file',
      );
      assert.equal(server.requestsTo(hub).length, 1);
    });

    it('hf: with a revision and a file in a folder', async () => {
      const hub = '/me/net/resolve/v1.0/sub/w.safetensors';
      server.route(hub, serveBytes(BYTES));
      const file = await resolveWeights('hf:me/net@v1.0/sub/w.safetensors', fresh());
      assert.match(file, /me--net@v1\.0--sub--w-[0-9a-f]{12}\.safetensors$/);
    });

    it('a tv: name timm does not publish gives a 404 that says what tv: means', async () => {
      await rejectsWith(
        resolveWeights('tv:nosuchnet', fresh()),
        /^tv:nosuchnet \(http:.*\/timm\/nosuchnet\.tv_in1k\/resolve\/main\/model\.safetensors\) was not found \(HTTP 404\); check the URL \(tv:nosuchnet means hf:timm\/nosuchnet\.tv_in1k; timm publishes/,
      );
    });
  });

  it('the cache root: PSS_CACHE_DIR, then XDG_CACHE_HOME/pss, then ~/.cache/pss', () => {
    assert.equal(cacheRoot({ PSS_CACHE_DIR: '/c', XDG_CACHE_HOME: '/x' }), '/c');
    assert.equal(cacheRoot({ XDG_CACHE_HOME: '/x' }), join('/x', 'pss'));
    assert.match(cacheRoot({}), /\.cache[/\\]pss$/);
  });
});

// ---- timm → torchvision names -------------------------------------------------------------

const t = (shape: number[], fill = 0): NamedTensor => ({
  shape,
  data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => fill + i),
});

describe('Hub name mapping', () => {
  it("maps timm's VGG head (pre_logits.fc1/fc2 convs, head.fc) to torchvision's classifier.0/3/6", () => {
    const timm = new Map([
      ['features.0.weight', t([64, 3, 3, 3])],
      ['features.0.bias', t([64])],
      // timm's shapes with 64 hidden units instead of 4096 (the mapping only looks at the names)
      ['pre_logits.fc1.weight', t([64, 512, 7, 7], 1)],
      ['pre_logits.fc1.bias', t([64])],
      ['pre_logits.fc2.weight', t([64, 64, 1, 1], 2)],
      ['pre_logits.fc2.bias', t([64])],
      ['head.fc.weight', t([1000, 64])],
      ['head.fc.bias', t([1000])],
    ]);
    const { tensors, renamed } = mapHubNames('vgg16', timm);
    assert.deepEqual([...tensors.keys()].sort(), [
      'classifier.0.bias',
      'classifier.0.weight',
      'classifier.3.bias',
      'classifier.3.weight',
      'classifier.6.bias',
      'classifier.6.weight',
      'features.0.bias',
      'features.0.weight',
    ]);
    assert.equal(renamed.length, 6);
    assert.deepEqual(tensors.get('classifier.0.weight')!.shape, [64, 25088]);
    assert.deepEqual(tensors.get('classifier.3.weight')!.shape, [64, 64]);
    assert.deepEqual(tensors.get('classifier.6.weight')!.shape, [1000, 64]);
    assert.deepEqual(tensors.get('classifier.0.bias')!.shape, [64]);
    // a reshape, not a copy: row-major [64, 512, 7, 7] is row-major [64, 25088]
    assert.equal(tensors.get('classifier.0.weight')!.data, timm.get('pre_logits.fc1.weight')!.data);
    // the input map is left alone; vgg16_bn uses the same table
    assert.ok(timm.has('pre_logits.fc1.weight'));
    assert.equal(mapHubNames('vgg19_bn', timm).renamed.length, 6);
  });

  it('leaves torchvision names alone, and other families unchanged', () => {
    const tv = new Map([
      ['classifier.0.weight', t([8, 4])],
      ['head.fc.weight', t([3, 8])], // classifier.6.weight is there: not renamed over it
      ['classifier.6.weight', t([10, 8])],
    ]);
    const { tensors, renamed } = mapHubNames('vgg11', tv);
    assert.deepEqual(renamed, []);
    assert.deepEqual([...tensors.keys()], [...tv.keys()]);
    assert.deepEqual(mapHubNames('resnet50', new Map([['fc.weight', t([10, 8])]])).renamed, []);
    assert.deepEqual(
      mapHubNames('tinycnn', new Map([['pre_logits.fc1.weight', t([1, 1, 1, 1])]])).renamed,
      [],
    );
  });

  it("maps DenseNet's pre-0.4 torchvision names (norm.1 → norm1)", () => {
    const { renamed } = mapHubNames(
      'densenet121',
      new Map([
        ['features.denseblock1.denselayer1.norm.1.weight', t([64])],
        ['features.denseblock1.denselayer1.conv.2.weight', t([32, 128, 3, 3])],
        ['features.norm5.weight', t([1024])],
      ]),
    );
    assert.deepEqual(renamed, [
      ['features.denseblock1.denselayer1.norm.1.weight', 'features.denseblock1.denselayer1.norm1.weight'],
      ['features.denseblock1.denselayer1.conv.2.weight', 'features.denseblock1.denselayer1.conv2.weight'],
    ]);
  });

  it("fills Inception-v3's AuxLogits when the checkpoint has none, with a warning", () => {
    const params = [
      { name: 'Mixed_6e.branch_pool.conv.weight', shape: [192, 768, 1, 1], role: 'conv' },
      { name: 'AuxLogits.conv0.conv.weight', shape: [128, 768, 1, 1], role: 'conv' },
      { name: 'AuxLogits.conv0.bn.running_var', shape: [128], role: 'bn-var' },
      { name: 'AuxLogits.fc.weight', shape: [1000, 768], role: 'linear' },
    ];
    const tensors = new Map([['Mixed_6e.branch_pool.conv.weight', t([192, 768, 1, 1])]]);
    const warnings = fillOptional('inception_v3', params, tensors, 'weights tv:inception_v3');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /^weights tv:inception_v3 has no AuxLogits tensors; filled 3 with zeros \(/);
    assert.ok(tensors.get('AuxLogits.conv0.conv.weight')!.data.every((v) => v === 0));
    assert.deepEqual(tensors.get('AuxLogits.fc.weight')!.shape, [1000, 768]);
    assert.ok(tensors.get('AuxLogits.conv0.bn.running_var')!.data.every((v) => v === 1));
    // a checkpoint with some AuxLogits tensors is not patched (a missing one stays an error)
    const partial = new Map([['AuxLogits.fc.weight', t([1000, 768])]]);
    assert.deepEqual(fillOptional('inception_v3', params, partial, 'w'), []);
    assert.equal(partial.size, 1);
    assert.deepEqual(fillOptional('resnet50', params, new Map(), 'w'), []);
  });
});

// ---- loadWeights with remote files and renamed tensors -------------------------------------

/** Architectures shaped like VGG and Inception-v3 (names only matter here; they never run). */
const miniVgg: Architecture = {
  name: 'vgg11',
  description: 'a VGG-shaped test network',
  defaultClasses: 10,
  inputShape: [3, 14, 14],
  classifier: 'classifier.6',
  preprocessing: tinycnn.preprocessing,
  define(net, numClasses) {
    net.conv2d('features.0', { in: 3, out: 4, kernel: 3, padding: 1, bias: true });
    net.linear('classifier.0', 4 * 7 * 7, 6);
    net.linear('classifier.3', 6, 6);
    net.linear('classifier.6', 6, numClasses);
    return (x) => x;
  },
};
const miniInception: Architecture = {
  ...miniVgg,
  name: 'inception_v3',
  classifier: 'fc',
  define(net, numClasses) {
    net.conv2d('Conv2d_1a_3x3.conv', { in: 3, out: 4, kernel: 3 });
    net.batchNorm2d('Conv2d_1a_3x3.bn', 4);
    net.conv2d('AuxLogits.conv0.conv', { in: 4, out: 2, kernel: 1 });
    net.batchNorm2d('AuxLogits.conv0.bn', 2);
    net.linear('AuxLogits.fc', 2, numClasses);
    net.linear('fc', 4, numClasses);
    return (x) => x;
  },
};

function writeTensors(tensors: Record<string, number[]>): string {
  const out: Record<string, TensorToWrite> = {};
  for (const [name, shape] of Object.entries(tensors))
    out[name] = { dtype: 'F32', shape, data: t(shape).data };
  const file = join(tempDir(), 'w.safetensors');
  writeFileSync(file, serializeSafeTensors(out));
  return file;
}

describe('loadWeights', () => {
  it('loads a timm-named VGG checkpoint into torchvision names (classes from head.fc)', async () => {
    const file = writeTensors({
      'features.0.weight': [4, 3, 3, 3],
      'features.0.bias': [4],
      'pre_logits.fc1.weight': [6, 4, 7, 7],
      'pre_logits.fc1.bias': [6],
      'pre_logits.fc2.weight': [6, 6, 1, 1],
      'pre_logits.fc2.bias': [6],
      'head.fc.weight': [7, 6],
      'head.fc.bias': [7],
    });
    const model = await loadWeights(miniVgg, file);
    assert.equal(model.numClasses, 7);
    assert.equal(model.weights.get('classifier.0.weight')!.length, 6 * 196);
    assert.deepEqual(model.warnings, []);
  });

  it('fills a missing Inception AuxLogits and says so in model.warnings', async () => {
    const file = writeTensors({
      'Conv2d_1a_3x3.conv.weight': [4, 3, 3, 3],
      'Conv2d_1a_3x3.bn.weight': [4],
      'Conv2d_1a_3x3.bn.bias': [4],
      'Conv2d_1a_3x3.bn.running_mean': [4],
      'Conv2d_1a_3x3.bn.running_var': [4],
      'fc.weight': [5, 4],
      'fc.bias': [5],
    });
    const model = await loadWeights(miniInception, file);
    assert.equal(model.warnings.length, 1);
    assert.match(model.warnings[0], /has no AuxLogits tensors; filled 7 with zeros/);
    assert.deepEqual([...model.weights.get('AuxLogits.fc.weight')!], new Array(10).fill(0));
  });

  it('loads from a URL; the model names the URL as its source', async () => {
    const server = await startServer();
    try {
      const model = Model.deterministic(tinycnn);
      const tensors: Record<string, TensorToWrite> = {};
      for (const p of model.params)
        tensors[p.name] = { dtype: 'F32', shape: p.shape, data: model.weights.get(p.name)! };
      server.route('/tiny.safetensors', serveBytes(serializeSafeTensors(tensors)));
      const url = `${server.url}/tiny.safetensors`;
      const loaded = await loadWeights(tinycnn, url, fresh());
      assert.equal(loaded.source, `weights ${url}`);
      assert.equal(loaded.weightsHash(), model.weightsHash());
    } finally {
      await server.close();
    }
  });
});

// ---- the command line ------------------------------------------------------------------------

/** Runs the built `pss` bin without blocking this process (the test server must keep answering). */
function pss(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(process.cwd(), 'bin/pss.mjs'), ...args], {
      env: { ...process.env, NO_COLOR: '1', PSS_PROGRESS: '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill(), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('pss saliency --weights URL', () => {
  let server: TestServer;
  const dir = tempDir();
  const cache = join(dir, 'cache');
  before(async () => {
    server = await startServer();
    const model = Model.deterministic(tinycnn);
    const tensors: Record<string, TensorToWrite> = {};
    for (const p of model.params)
      tensors[p.name] = { dtype: 'F32', shape: p.shape, data: model.weights.get(p.name)! };
    server.route('/w.safetensors', serveBytes(serializeSafeTensors(tensors)));
    const input = Float32Array.from({ length: 3 * 29 * 29 }, (_, i) => Math.cos(i));
    writeFileSync(join(dir, 'x.npy'), serializeNpy(input, [3, 29, 29]));
  });
  after(() => server.close());

  it('downloads the weights once, keeps stdout clean JSON, and reuses the cache', async () => {
    const url = `${server.url}/w.safetensors`;
    const args = [
      'saliency',
      '--model',
      'tinycnn',
      '--weights',
      url,
      '--input',
      join(dir, 'x.npy'),
      '--label',
      '1',
    ];
    const r = await pss([...args, '--json', '-'], { PSS_CACHE_DIR: cache });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', 'no progress bar when stderr is not a terminal');
    const out = JSON.parse(r.stdout);
    assert.equal(out.weights, `weights ${url}`);
    assert.equal(out.label, 1);
    assert.equal(out.saliency.length, 192);
    assert.ok(existsSync(join(cache, 'downloads', cacheFileName(url))));
    const again = await pss(args, { PSS_CACHE_DIR: cache });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /tinycnn: predicted class \d+ at [\d.]+%, true class 1 —/);
    assert.equal(server.requestsTo('/w.safetensors').length, 1);
  });

  it('PSS_PROGRESS=1 draws the download bar on stderr (the CLI passes onProgress); stdout stays JSON', async () => {
    const url = `${server.url}/w.safetensors`;
    const r = await pss(
      [
        'saliency',
        '--model',
        'tinycnn',
        '--weights',
        url,
        '--input',
        join(dir, 'x.npy'),
        '--label',
        '1',
        '--json',
        '-',
      ],
      { PSS_CACHE_DIR: join(dir, 'cache-bar'), PSS_PROGRESS: '1' },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /^w\.safetensors \|=+\| 100% \| [\d.]+ k?B \/ [\d.]+ k?B \| [\d.]+ [kMG]?B\/s \| ETA \d+s$/m,
    );
    assert.equal(JSON.parse(r.stdout).weights, `weights ${url}`);
  });

  it('a missing URL is one line and exit 1', async () => {
    const r = await pss(
      [
        'saliency',
        '--model',
        'tinycnn',
        '--weights',
        `${server.url}/gone.safetensors`,
        '--input',
        join(dir, 'x.npy'),
        '--label',
        '1',
      ],
      { PSS_CACHE_DIR: cache },
    );
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^pss: http:\/\/127\.0\.0\.1:\d+\/gone\.safetensors was not found \(HTTP 404\); check the URL, or download the file yourself and pass its path\n$/,
    );
  });
});
