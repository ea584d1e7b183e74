/**
 * src/io/lock.ts: one holder at a time, a message naming it, stale locks taken over, and the
 * lock gone however the holder ends (release, error, exit, SIGINT/SIGTERM).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PssError } from '../../src/errors.js';
import { acquireLock, lockPath, releaseAllLocks, withLock } from '../../src/io/lock.js';
import { tempDir } from '../helpers/cli.js';

const dir = tempDir();
let n = 0;
const target = () => join(dir, `out${n++}.safetensors`);

async function refused(p: Promise<unknown>, pattern: RegExp) {
  await assert.rejects(p, (e: Error) => {
    assert.ok(e instanceof PssError, `a PssError, got ${e.stack}`);
    assert.ok(!e.message.includes('\n'));
    assert.match(e.message, pattern);
    return true;
  });
}

/** The pid of a process that has exited. */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

const owner = (pid: number, host = hostname()) =>
  JSON.stringify({
    pid,
    host,
    since: new Date().toISOString(),
    command: 'pss x',
    label: 'pss x',
    token: 't',
  });

describe('locks', () => {
  it('one holder at a time; the second is told who holds it', async () => {
    const out = target();
    const lock = await acquireLock(out, { label: 'pss stats' });
    assert.equal(lock.path, `${out}.lock`);
    const held = JSON.parse(readFileSync(lock.path, 'utf8'));
    assert.equal(held.pid, process.pid);
    assert.equal(held.host, hostname());
    assert.equal(held.label, 'pss stats');
    assert.ok(Math.abs(Date.parse(held.since) - Date.now()) < 60_000);
    assert.match(held.command, /^pss\b/);
    await refused(
      acquireLock(out),
      new RegExp(
        `^${out.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is in use by pss stats \\(pid ${process.pid} on ${hostname()}, since \\d\\d:\\d\\d:\\d\\d\\); wait for it to finish, or delete \\S+\\.lock if that process is gone$`,
      ),
    );
    lock.release();
    assert.equal(existsSync(lock.path), false);
    lock.release(); // twice is harmless
    (await acquireLock(out)).release();
  });

  it('a folder is locked beside it, trailing slashes or not', () => {
    assert.equal(lockPath('runs/prune/'), 'runs/prune.lock');
    assert.equal(lockPath('/'), '/.lock');
  });

  it('withLock releases on error', async () => {
    const out = target();
    await assert.rejects(
      withLock(out, async () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(existsSync(lockPath(out)), false);
  });

  it('takes over a lock whose process is gone, or that an earlier process with our pid left', async () => {
    for (const pid of [deadPid(), process.pid]) {
      const out = target();
      writeFileSync(lockPath(out), owner(pid));
      const lock = await acquireLock(out);
      assert.equal(JSON.parse(readFileSync(lock.path, 'utf8')).pid, process.pid);
      lock.release();
    }
  });

  it('does not take over a lock of another host, nor of a live process', async () => {
    let out = target();
    writeFileSync(lockPath(out), owner(deadPid(), 'elsewhere'));
    await refused(acquireLock(out), /is in use by pss x \(pid \d+ on elsewhere, since /);
    out = target();
    writeFileSync(lockPath(out), owner(process.ppid));
    await refused(acquireLock(out), new RegExp(`pid ${process.ppid} on `));
  });

  it('an unreadable lock file: waited for while it may be being written, then taken over', async () => {
    const out = target();
    writeFileSync(lockPath(out), '');
    const t0 = Date.now();
    await refused(acquireLock(out), /is in use by another process \(its lock file is unreadable\)/);
    assert.ok(Date.now() - t0 < 5_000);
    const old = new Date(Date.now() - 60_000);
    utimesSync(lockPath(out), old, old);
    (await acquireLock(out)).release();
  });

  it('with wait, waits for the holder', async () => {
    const out = target();
    const first = await acquireLock(out);
    let second = false;
    const waiting = withLock(
      out,
      async () => {
        second = true;
      },
      { wait: true, pollMs: 10 },
    );
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(second, false);
    first.release();
    await waiting;
    assert.equal(second, true);
  });

  it('concurrent callers in one process hold it one at a time (the new lock is ours from the moment it exists)', async () => {
    const target = join(tempDir(), 'out');
    let inside = 0;
    let most = 0;
    const work = async () => {
      inside++;
      most = Math.max(most, inside);
      await new Promise((r) => setTimeout(r, 1));
      inside--;
    };
    for (let round = 0; round < 300; round++)
      await Promise.all(Array.from({ length: 6 }, () => withLock(target, work, { wait: true, pollMs: 0 })));
    assert.equal(most, 1);
    assert.ok(!existsSync(lockPath(target)));
  });

  it('a release never removes a lock that someone else holds now', async () => {
    const out = target();
    const lock = await acquireLock(out);
    writeFileSync(lock.path, owner(process.ppid)); // taken over by another process
    lock.release();
    assert.equal(existsSync(lock.path), true);
    releaseAllLocks();
  });

  /** A child that takes the lock, says so, and waits; `setup` runs first (a signal handler). */
  function holder(out: string, setup = '') {
    const script = join(dir, `holder${n++}.mts`);
    writeFileSync(
      script,
      `import { acquireLock } from ${JSON.stringify(join(process.cwd(), 'src/io/lock.js'))};\n${setup}\n` +
        `await acquireLock(${JSON.stringify(out)});\nconsole.log('locked');\nsetInterval(() => {}, 1000);\n`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const locked = new Promise<void>((res) => child.stdout.on('data', () => res()));
    const exited = new Promise<{ code: number | null; signal: string | null }>((res) =>
      child.on('exit', (code, signal) => res({ code, signal })),
    );
    return { child, locked, exited };
  }

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal}: the lock goes, and the signal still ends the process`, async () => {
      const out = target();
      const h = holder(out);
      await h.locked;
      assert.equal(existsSync(lockPath(out)), true);
      h.child.kill(signal);
      assert.deepEqual(await h.exited, { code: null, signal });
      assert.equal(existsSync(lockPath(out)), false);
    });
  }

  it("SIGINT handled by the application (process.exit, as the CLI does): the 'exit' handler removes it", async () => {
    const out = target();
    const h = holder(out, "process.once('SIGINT', () => process.exit(130));");
    await h.locked;
    h.child.kill('SIGINT');
    assert.deepEqual(await h.exited, { code: 130, signal: null });
    assert.equal(existsSync(lockPath(out)), false);
  });
});
