/**
 * pss stats keeps the tails and the target end to end: shards merge to exactly the tails of
 * one run, a run killed with SIGKILL and resumed keeps the same tails bit for bit, --target is
 * recorded and statistics of another target are refused.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { serializeNpy } from '../../src/io/npy.js';
import { serializeSafeTensors } from '../../src/io/safetensors.js';
import { Model } from '../../src/models/model.js';
import { tinycnn } from '../../src/models/tinycnn.js';
import { readStats } from '../../src/stats/file.js';
import { tailCapacity } from '../../src/stats/tails.js';
import { pss, tempDir } from '../helpers/cli.js';

const dir = tempDir();
const path = (f: string) => join(dir, f);
const model = Model.deterministic(tinycnn);
const weights = path('tinycnn.safetensors');
writeFileSync(
  weights,
  serializeSafeTensors(
    Object.fromEntries(
      model.params.map((p) => [
        p.name,
        { dtype: 'F32' as const, shape: p.shape, data: model.weights.get(p.name)! },
      ]),
    ),
  ),
);
const base = ['stats', '--model', 'tinycnn', '--weights', weights];

/** An IDX images file of n pseudo-random 29x29 images and its labels file. */
function writeIdx(name: string, n: number) {
  const img = Buffer.alloc(16 + n * 29 * 29);
  img.writeUInt32BE(2051, 0);
  img.writeUInt32BE(n, 4);
  img.writeUInt32BE(29, 8);
  img.writeUInt32BE(29, 12);
  for (let i = 16; i < img.length; i++) img[i] = (i * 2654435761) >>> 24;
  const lab = Buffer.alloc(8 + n);
  lab.writeUInt32BE(2049, 0);
  lab.writeUInt32BE(n, 4);
  for (let i = 0; i < n; i++) lab[8 + i] = (i * 7) % 10;
  writeFileSync(path(`${name}-images-idx3-ubyte`), img);
  writeFileSync(path(`${name}-labels-idx1-ubyte`), lab);
  return path(`${name}-images-idx3-ubyte`);
}

describe('pss stats: tails and target', () => {
  it('merging 3 shards gives exactly the tails of a single run', async () => {
    const idx = writeIdx('m', 90);
    const whole = path('whole.safetensors');
    const r0 = pss([...base, '--data', idx, '--out', whole, '--target', 'predicted']);
    assert.equal(r0.code, 0, r0.stderr);
    const parts = [0, 1, 2].map((i) => path(`part${i}.safetensors`));
    parts.forEach((p, i) => {
      const r = pss([...base, '--data', idx, '--out', p, '--shard', `${i}/3`, '--target', 'predicted']);
      assert.equal(r.code, 0, r.stderr);
    });
    const merged = path('merged.safetensors');
    const r = pss(['stats', 'merge', ...parts, '--out', merged]);
    assert.equal(r.code, 0, r.stderr);
    const [a, b] = [await readStats(whole), await readStats(merged)];
    assert.equal(a.meta.target, 'predicted');
    assert.equal(b.meta.target, 'predicted');
    assert.equal(a.tails!.width, tailCapacity(90, 0.85));
    assert.equal(a.tails!.units, model.unitCount);
    assert.deepEqual(b.tails, a.tails);
    // Shards of another target are not merged with these.
    const other = path('part-true.safetensors');
    assert.equal(pss([...base, '--data', idx, '--out', other, '--shard', '2/3']).code, 0);
    const bad = pss(['stats', 'merge', parts[0], parts[1], other, '--out', path('bad.safetensors')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /differs from .* in target: true vs predicted/);
  });

  it('a run killed with SIGKILL and resumed keeps the same tails, bit for bit', async () => {
    const idx = writeIdx('k', 1500);
    const args = [...base, '--data', idx, '--batch', '2', '--checkpoint-every', '100'];
    const full = path('full.safetensors');
    assert.equal(pss([...args, '--out', full]).code, 0);

    const out = path('killed.safetensors');
    const child = spawn(process.execPath, ['bin/pss.mjs', ...args, '--out', out], { stdio: 'ignore' });
    const exited = new Promise((res) => child.on('exit', res));
    const deadline = Date.now() + 60_000;
    while (!existsSync(`${out}.checkpoint`) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    await exited;
    assert.ok(existsSync(`${out}.checkpoint`), 'a checkpoint was written before the kill');
    assert.equal(existsSync(out), false, 'no output from the killed run');
    const ck = await readStats(`${out}.checkpoint`);
    assert.ok(ck.tails && ck.tails.count < 1500, 'the checkpoint holds the tails so far');

    const r = pss([...args, '--out', out, '--resume']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /resumed after \d+/);
    const [a, b] = [await readStats(full), await readStats(out)];
    assert.equal(a.tails!.width, tailCapacity(1500, 0.85));
    assert.deepEqual(b.tails, a.tails);
    assert.deepEqual(Array.from(b.acc.m2), Array.from(a.acc.m2));
    // A resume with other tail flags is refused by name.
    const again = path('again.safetensors');
    const c2 = spawn(process.execPath, ['bin/pss.mjs', ...args, '--out', again], { stdio: 'ignore' });
    const e2 = new Promise((res) => c2.on('exit', res));
    while (!existsSync(`${again}.checkpoint`) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    c2.kill('SIGKILL');
    await e2;
    const refused = pss([...args, '--out', again, '--resume', '--tail-quantile', '0.9']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /tails above q = 0.85 .* this run keeps tails above q = 0.9/);
  });

  it('statistics of another target are refused', () => {
    const idx = writeIdx('t', 10);
    const st = path('pred.safetensors');
    assert.equal(pss([...base, '--data', idx, '--out', st, '--target', 'predicted', '--no-tails']).code, 0);
    const x = path('x.npy');
    writeFileSync(x, serializeNpy(new Float32Array(3 * 29 * 29).fill(0.1), [3, 29, 29]));
    const run = ['saliency', '--model', 'tinycnn', '--weights', weights, '--input', x, '--label', '3'];
    const bad = pss([...run, '--stats', st]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /^pss: .*holds statistics of saliency with --target predicted; this run uses --target true/,
    );
    const ok = pss([...run, '--stats', st, '--target', 'predicted', '--json', '-']);
    assert.equal(ok.code, 0, ok.stderr);
    const out = JSON.parse(ok.stdout);
    assert.equal(out.target, 'predicted');
    assert.equal(out.targetClass, out.predicted);
    assert.equal(out.standardized, true);
    const cls = JSON.parse(pss([...run, '--target', '6', '--json', '-']).stdout);
    assert.equal(cls.target, 'class:6');
    assert.equal(cls.targetClass, 6);
    assert.equal(pss([...run, '--target', '12']).code, 1);
  });
});
