/**
 * pss stats and pss prune hold their --out for the whole run: a second run on the same --out
 * stops at once, in one line naming the holder; the lock goes when the holder is interrupted;
 * a lock left by a process that is gone is taken over.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pss, tempDir } from '../helpers/cli.js';
import { writeIdx, writeTinyWeights } from '../helpers/tinycnn-data.js';

const dir = tempDir();
const path = (f: string) => join(dir, f);
const weights = writeTinyWeights(dir);
const idx = writeIdx(dir, 3000);
const model = ['--model', 'tinycnn', '--weights', weights, '--data', idx];

/** Starts a pss run in the background and waits until it holds `lock`. */
async function holding(
  args: string[],
  lock: string,
): Promise<{ child: ChildProcess; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, ['bin/pss.mjs', ...args], { stdio: 'ignore' });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const deadline = Date.now() + 60_000;
  while (!existsSync(lock) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.ok(existsSync(lock), `${lock} appeared`);
  return { child, exited };
}

const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function inUse(r: ReturnType<typeof pss>, out: string, command: string, pid: number) {
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(
      `^pss: ${literal(out)} is in use by ${command} \\(pid ${pid} on ${literal(hostname())}, since \\d\\d:\\d\\d:\\d\\d\\); wait for it to finish, or delete ${literal(out)}\\.lock if that process is gone\\n$`,
    ),
  );
}

describe('one run per --out', () => {
  it('pss stats: a second run stops at once; Ctrl+C of the first removes the lock', async () => {
    const out = path('stats.safetensors');
    const args = ['stats', ...model, '--out', out, '--batch', '2'];
    const first = await holding(args, `${out}.lock`);
    const held = JSON.parse(readFileSync(`${out}.lock`, 'utf8'));
    assert.equal(held.pid, first.child.pid);
    assert.equal(held.command, `pss ${args.join(' ')}`);
    const t0 = Date.now();
    inUse(pss(args), out, 'pss stats', first.child.pid!);
    assert.ok(Date.now() - t0 < 10_000, 'at once, not after waiting');
    first.child.kill('SIGINT');
    assert.equal(await first.exited, 130);
    assert.equal(existsSync(`${out}.lock`), false, 'the lock is gone');
    assert.equal(existsSync(out), false, 'no output from the interrupted run');
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.startsWith('stats.safetensors.tmp')),
      [],
      'no temporary files left',
    );
  });

  it('pss prune: a second run on the same folder stops at once; SIGTERM of the first removes the lock', async () => {
    const out = path('prune-run');
    const args = ['prune', ...model, '--out', out, '--k', '2'];
    const first = await holding(args, `${out}.lock`);
    inUse(pss([...args, '--resume']), out, 'pss prune', first.child.pid!);
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 143);
    assert.equal(existsSync(`${out}.lock`), false);
  });

  it('a lock left by a process that is gone is taken over, and released when done', () => {
    const out = path('taken.safetensors');
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    writeFileSync(
      `${out}.lock`,
      JSON.stringify({
        pid: dead,
        host: hostname(),
        since: new Date().toISOString(),
        command: 'pss stats',
        label: 'pss stats',
        token: 'x',
      }),
    );
    const r = pss(['stats', ...model, '--out', out, '--limit', '10']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(existsSync(out), true);
    assert.equal(existsSync(`${out}.lock`), false);
  });

  it('a lock of another host is not taken over: the message says whose it is', () => {
    const out = path('remote.safetensors');
    writeFileSync(
      `${out}.lock`,
      JSON.stringify({
        pid: 1234,
        host: 'node-7',
        since: new Date().toISOString(),
        command: 'pss stats x',
        label: 'pss stats',
        token: 'x',
      }),
    );
    const r = pss(['stats', ...model, '--out', out, '--limit', '10']);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^pss: \S+ is in use by pss stats \(pid 1234 on node-7, since \d\d:\d\d:\d\d\); wait for it to finish, or delete \S+remote\.safetensors\.lock if that process is gone\n$/,
    );
    assert.equal(existsSync(out), false);
  });
});
