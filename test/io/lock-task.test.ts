/**
 * Locks of cluster tasks (LockOptions.task): a Kubernetes pod or a Slurm task restarted on
 * another host finds the lock its killed predecessor left there. The same task's lock is
 * taken over; another task's, or one taken without a task, is still refused.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PssError } from '../../src/errors.js';
import { acquireLock, lockPath } from '../../src/io/lock.js';
import { tempDir } from '../helpers/cli.js';

const dir = tempDir();
let n = 0;
const target = () => join(dir, `stats-0000${n++}-of-00004.safetensors`);

/** A lock left by pid 7 in another pod (the pod's name is its hostname). */
const leftBy = (out: string, task?: string) =>
  writeFileSync(
    lockPath(out),
    JSON.stringify({
      pid: 7,
      host: 'pss-stats-1-x7k2p',
      since: new Date().toISOString(),
      command: 'pss stats --shard auto',
      label: 'pss stats',
      token: 't',
      ...(task ? { task } : {}),
    }),
  );

const refusedBy = (e: unknown) =>
  e instanceof PssError && /in use by pss stats \(pid 7 on pss-stats-1-x7k2p/.test(e.message);

describe('locks of cluster tasks', () => {
  it('the same task from another host: taken over, and the new lock records the task', async () => {
    const out = target();
    leftBy(out, 'k8s:uid-1:1');
    const lock = await acquireLock(out, { task: 'k8s:uid-1:1' });
    const now = JSON.parse(readFileSync(lockPath(out), 'utf8'));
    assert.equal(now.task, 'k8s:uid-1:1');
    assert.notEqual(now.host, 'pss-stats-1-x7k2p');
    lock.release();
  });

  it('another task, another job, or no task on either side: refused, naming the holder', async () => {
    for (const [left, mine] of [
      ['k8s:uid-1:1', 'k8s:uid-1:2'],
      ['k8s:uid-1:1', 'k8s:uid-2:1'],
      ['k8s:uid-1:1', undefined],
      [undefined, 'k8s:uid-1:1'],
    ] as const) {
      const out = target();
      leftBy(out, left);
      await assert.rejects(acquireLock(out, mine ? { task: mine } : {}), refusedBy, `${left} / ${mine}`);
    }
  });
});
