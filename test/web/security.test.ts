/**
 * `pss serve` under hostile requests, against the running command: device files, FIFOs and
 * oversized files as paths; DNS rebinding and foreign origins with --host 0.0.0.0; error
 * messages that could show a file's bytes or this machine's paths; concurrent big uploads
 * (memory bounded, measured from /proc); SIGTERM while busy.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ServeProcess, serve } from './helpers.js';

const SECRET = 'TOP-SECRET-3f9c1e';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw request to `url`'s server with any headers; `body` may be a stream writer. */
function raw(
  url: string,
  path: string,
  o: { method?: string; headers?: Record<string, string>; body?: Uint8Array | string } = {},
): Promise<Answer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { hostname, port, path, method: o.method ?? (o.body ? 'POST' : 'GET'), headers: o.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

const json = (body: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/** Peak resident memory of a process so far (kB), from /proc. */
const peakKb = (pid: number) =>
  Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

/** Streams `bytes` of zeros as the body of a POST, in 1 MB chunks; resolves with the answer. */
function stream(url: string, path: string, bytes: number): Promise<Answer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { hostname, port, path, method: 'POST', headers: { 'content-length': String(bytes) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
      },
    );
    req.on('error', reject);
    const chunk = Buffer.alloc(1 << 20);
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        const n = Math.min(chunk.length, bytes - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n)))
          return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

describe('pss serve: security', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pss-sec-'));
  const fifo = join(dir, 'pipe.safetensors');
  const big = join(dir, 'big.safetensors');
  const secret = join(dir, 'secret.safetensors');
  let open: ServeProcess;

  before(async () => {
    execFileSync('mkfifo', [fifo]);
    // sparse: 300 MB on paper, nothing on disk
    const fd = openSync(big, 'w');
    closeSync(fd);
    execFileSync('truncate', ['-s', '300M', big]);
    writeFileSync(secret, `${SECRET}\n${'x'.repeat(600)}`);
    open = await serve(['--allow-paths']);
  });
  after(async () => {
    await open?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('without --allow-paths the page names no file of the server at all', async () => {
    const s = await serve();
    try {
      for (const weights of ['/dev/zero', fifo, '/etc/passwd']) {
        const t0 = Date.now();
        const r = await raw(s.url, '/api/models', json({ arch: 'resnet18', weights }));
        assert.equal(r.status, 400, r.body);
        assert.match(JSON.parse(r.body).error, /cannot name files on the server .*--allow-paths/);
        assert.ok(Date.now() - t0 < 2000);
      }
      const r = await raw(s.url, `/api/models/onnx?name=m.onnx&stats=${encodeURIComponent('/dev/zero')}`, {
        body: 'x',
      });
      assert.equal(r.status, 400);
      assert.match(JSON.parse(r.body).error, /--allow-paths/);
    } finally {
      assert.equal(await s.stop(), 0);
    }
  });

  it('with --allow-paths: devices, FIFOs and oversized files are refused at once, and the server keeps answering', async () => {
    const cases: [string, string, RegExp][] = [
      ['weights', '/dev/zero', /\/dev\/zero is a device, not a regular file/],
      ['weights', fifo, /pipe\.safetensors is a FIFO \(named pipe\), not a regular file/],
      ['stats', '/dev/zero', /\/dev\/zero is a device, not a regular file/],
      ['stats', fifo, /pipe\.safetensors is a FIFO \(named pipe\), not a regular file/],
      [
        'stats',
        big,
        /big\.safetensors is 300\.0 MiB; the explorer reads statistics files of up to 256\.0 MiB/,
      ],
    ];
    for (const [field, path, message] of cases) {
      const t0 = Date.now();
      const body =
        field === 'weights' ? { arch: 'tinycnn', weights: path } : { arch: 'fashion-cnn', stats: path };
      const r = await raw(open.url, '/api/models', json(body));
      assert.equal(r.status, 400, `${field}=${path}: ${r.body}`);
      assert.match(JSON.parse(r.body).error, message);
      assert.ok(Date.now() - t0 < 2000, `${field}=${path} took ${Date.now() - t0} ms`);
    }
    const onnxStats = await raw(open.url, `/api/models/onnx?name=m.onnx&stats=${encodeURIComponent(fifo)}`, {
      body: 'x',
    });
    assert.equal(onnxStats.status, 400);
    const state = await raw(open.url, '/api/status');
    assert.deepEqual(JSON.parse(state.body), { busy: null, elapsedMs: null, waiting: 0 });
  });

  it('a file that does not parse is named without its bytes or its size; no absolute path reaches the page', async () => {
    for (const body of [
      { arch: 'fashion-cnn', stats: secret },
      { arch: 'tinycnn', weights: secret },
    ]) {
      const r = await raw(open.url, '/api/models', json(body));
      assert.equal(r.status, 400, r.body);
      const error = JSON.parse(r.body).error as string;
      assert.match(error, /could not be read as a .* \(the reason is in the server's log\)/);
      assert.ok(!error.includes('TOP-SECRET') && !/\b6\d\d bytes|\b0\.0 MB/.test(error), error);
    }
    // an uploaded file's messages name it by its upload name, never by the server's folder
    const up = await raw(open.url, '/api/files?kind=stats&name=mine.safetensors', { body: 'not statistics' });
    const id = JSON.parse(up.body).id;
    const r = await raw(open.url, '/api/models', json({ arch: 'fashion-cnn', stats: id }));
    assert.equal(r.status, 400);
    assert.match(JSON.parse(r.body).error, /mine\.safetensors/);
    assert.doesNotMatch(r.body, /pss-serve-|\/tmp\//);
    const state = await raw(open.url, '/api/state');
    assert.doesNotMatch(state.body, new RegExp(`${process.cwd()}|/tmp/|/root/|/home/`));
  });

  it('the command line model and its preprocessing file are shown without their absolute paths', async () => {
    const onnx = join(dir, 'model.onnx');
    const config = join(dir, 'grey.json');
    const { onnxClassifier } = await import('./onnx-models.js');
    writeFileSync(onnx, onnxClassifier({ channels: 1, size: 32 }));
    writeFileSync(config, JSON.stringify({ resize: 32, mean: [0.5], std: [0.5] }));
    const s = await serve(['--model', onnx, '--preprocessing', config]);
    try {
      const state = await raw(s.url, '/api/state');
      assert.equal(state.status, 200);
      assert.ok(!state.body.includes(dir), state.body.slice(0, 400));
      assert.match(state.body, /model\.onnx/);
      assert.match(state.body, /preprocessing from grey\.json: resize 32/);
      const { id, initial } = {
        id: JSON.parse(
          (
            await raw(s.url, '/api/images?name=p.png', {
              body: readFileSync('examples/fashion/bag-1884.png'),
            })
          ).body,
        ).id,
        initial: JSON.parse(state.body).initial,
      };
      const r = await raw(
        s.url,
        '/api/explain',
        json({ model: initial, image: id, label: 1, profile: false }),
      );
      assert.equal(r.status, 200, r.body);
      assert.ok(!r.body.includes(dir));
      assert.match(r.body, /preprocessing from grey\.json/);
    } finally {
      await s.stop();
    }
  });

  it('--host 0.0.0.0: a token is required and printed once; Host and Origin are checked against its own address', async () => {
    const s = await serve(['--host', '0.0.0.0']);
    try {
      const url = new URL(s.url);
      const token = url.searchParams.get('token')!;
      assert.match(token, /^[\w-]{32}$/);
      assert.match(s.output(), /WARNING: listening on every interface/);
      assert.equal(s.output().split(token).length - 1, 1, 'the token is printed once');
      const own = `${url.hostname}:${url.port}`;
      const bearer = { authorization: `Bearer ${token}` };
      // DNS rebinding: the attacker's name in Host, its page as Origin
      const rebound = await raw(s.url, '/api/state', {
        headers: { host: `evil.example:${url.port}`, origin: `http://evil.example:${url.port}`, ...bearer },
      });
      assert.equal(rebound.status, 403);
      const foreign = await raw(s.url, '/api/state', {
        headers: { host: own, origin: 'http://evil.example', ...bearer },
      });
      assert.equal(foreign.status, 403);
      // the Host header does not make an origin its own
      const spoofed = await raw(s.url, '/api/state', {
        headers: { host: 'evil.example', origin: 'http://evil.example', ...bearer },
      });
      assert.equal(spoofed.status, 403);
      const noToken = await raw(s.url, '/api/state', { headers: { host: own } });
      assert.equal(noToken.status, 401);
      assert.match(JSON.parse(noToken.body).error, /needs its token/);
      const wrong = await raw(s.url, '/api/state', { headers: { host: own, authorization: 'Bearer nope' } });
      assert.equal(wrong.status, 401);
      const ok = await raw(s.url, '/api/state', { headers: { host: own, origin: url.origin, ...bearer } });
      assert.equal(ok.status, 200);
      // the browser's way: the printed URL sets a cookie and redirects to the bare page
      const first = await raw(s.url, `/?token=${token}`, { headers: { host: own } });
      assert.equal(first.status, 303);
      assert.equal(first.headers.location, '/');
      const cookie = String(first.headers['set-cookie']).split(';')[0];
      assert.match(String(first.headers['set-cookie']), /HttpOnly; SameSite=Lax/);
      const page = await raw(s.url, '/', { headers: { host: own, cookie } });
      assert.equal(page.status, 200);
      assert.doesNotMatch(page.body, new RegExp(token));
    } finally {
      assert.equal(await s.stop(), 0);
    }
  });

  it('--allow-origin: that origin may drive it too; a malformed one is refused at start', async () => {
    const s = await serve(['--host', '127.0.0.1', '--allow-origin', 'http://myhost.example:9000']);
    try {
      const { port } = new URL(s.url);
      const r = await raw(s.url, '/api/state', {
        headers: { host: `127.0.0.1:${port}`, origin: 'http://myhost.example:9000' },
      });
      assert.equal(r.status, 200);
      const other = await raw(s.url, '/api/state', {
        headers: { host: `127.0.0.1:${port}`, origin: 'http://myhost.example:9001' },
      });
      assert.equal(other.status, 403);
    } finally {
      await s.stop();
    }
    const { pss } = await import('../helpers/cli.js');
    const bad = pss(['serve', '--port', '0', '--allow-origin', 'http://myhost/path']);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /^pss: --allow-origin takes origins such as http:\/\/myhost:8765 .*got "http:\/\/myhost\/path"\n$/,
    );
  });

  it('another loopback address is checked too (--host 127.0.0.2)', async () => {
    const s = await serve(['--host', '127.0.0.2']);
    try {
      const { port } = new URL(s.url);
      const evil = await raw(s.url, '/api/state', { headers: { host: `evil.example:${port}` } });
      assert.equal(evil.status, 403);
      const origin = await raw(s.url, '/api/state', {
        headers: { host: `127.0.0.2:${port}`, origin: `http://evil.example:${port}` },
      });
      assert.equal(origin.status, 403);
      assert.equal((await raw(s.url, '/api/state', { headers: { host: `127.0.0.2:${port}` } })).status, 200);
    } finally {
      await s.stop();
    }
  });

  it('six concurrent 120 MB uploads stream to disk: peak memory grows by less than 200 MB', async (t) => {
    const pid = open.child.pid!;
    // settle first: a request of each kind, so that lazily loaded code is counted in the baseline
    await raw(open.url, '/api/files?kind=weights&name=w', { body: 'x' });
    const base = peakKb(pid);
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) => stream(open.url, `/api/files?kind=weights&name=w${i}`, 120 << 20)),
    );
    for (const a of answers) assert.equal(a.status, 200, a.body);
    const grown = (peakKb(pid) - base) / 1024;
    t.diagnostic(`peak resident memory grew by ${grown.toFixed(0)} MB over 720 MB of uploads`);
    assert.ok(grown < 200, `peak resident memory grew by ${grown.toFixed(0)} MB`);
    // an upload over the limit is refused with its size, the server unharmed
    const onnx = await stream(open.url, '/api/models/onnx?name=huge.onnx', 210_000_000);
    assert.equal(onnx.status, 413);
    assert.match(JSON.parse(onnx.body).error, /huge\.onnx is 210 MB; the limit is 200 MB/);
  });

  it('a client that leaves mid-upload is one log line, not a stack', async () => {
    const { hostname, port } = new URL(open.url);
    await new Promise<void>((resolve) => {
      const req = request({
        hostname,
        port,
        path: '/api/images?name=x.png',
        method: 'POST',
        headers: { 'content-length': '5000000' },
      });
      req.on('error', () => resolve());
      req.write(Buffer.alloc(100_000));
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 200);
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.match(open.output(), /the client went away after \d+ bytes/);
    assert.doesNotMatch(open.output(), /\n\s+at /);
  });

  it('SIGTERM while busy (queued explanations, an unfinished upload) exits 0 within 5 s', async () => {
    const s = await serve();
    const { hostname, port } = new URL(s.url);
    const explain = json({ model: 'm1', image: 'example:bag-1884.png', label: 8 });
    const busy = Array.from({ length: 40 }, () => raw(s.url, '/api/explain', explain).catch(() => undefined));
    const slow = request({
      hostname,
      port,
      path: '/api/images?name=y.png',
      method: 'POST',
      headers: { 'content-length': '9000000' },
    });
    slow.on('error', () => {});
    slow.write(Buffer.alloc(10_000));
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    const exited = new Promise<number | null>((resolve) => s.child.once('exit', (code) => resolve(code)));
    s.child.kill('SIGTERM');
    const code = await exited;
    const took = Date.now() - t0;
    assert.equal(code, 0, s.output());
    assert.ok(took < 5000, `took ${took} ms`);
    slow.destroy();
    await Promise.all(busy);
  });
});
