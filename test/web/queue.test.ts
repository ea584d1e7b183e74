/** JobQueue: one heavy job at a time, abandoned requests leave the queue, failures do not stop it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JobQueue } from '../../src/web/queue.js';

describe('JobQueue', () => {
  it('never runs two jobs at once, and skips a job whose request was abandoned', async () => {
    const q = new JobQueue();
    let running = 0;
    let most = 0;
    const job = (ms: number) => async () => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, ms));
      running--;
      return ms;
    };
    const gone = new AbortController();
    const a = q.run('a', job(30));
    const b = q.run('b', job(10), gone.signal);
    const c = q.run('c', job(5));
    await new Promise((r) => setImmediate(r));
    assert.equal(q.status().busy, 'a');
    assert.equal(q.status().waiting, 2);
    const refused = assert.rejects(b, /cancelled/);
    gone.abort();
    assert.equal(await a, 30);
    await refused;
    assert.equal(await c, 5);
    assert.equal(most, 1);
    assert.deepEqual(q.status(), { busy: null, elapsedMs: null, waiting: 0 });
  });

  it('goes on after a failed job', async () => {
    const q = new JobQueue();
    await assert.rejects(
      q.run('bad', async () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(await q.run('good', async () => 1), 1);
  });
});

describe('JobQueue closing', () => {
  it('drops the waiting jobs, refuses new ones, and waits a bounded time for the running one', async () => {
    const q = new JobQueue();
    let finish: () => void = () => {};
    const long = q.run('long', () => new Promise<string>((r) => (finish = () => r('done'))));
    const waiting = q.run('next', async () => 'never');
    const dropped = assert.rejects(waiting, /the server is stopping/);
    await new Promise((r) => setImmediate(r));
    q.close();
    await dropped;
    await assert.rejects(
      q.run('late', async () => 1),
      /the server is stopping/,
    );
    const t0 = Date.now();
    assert.equal(await q.settled(100), false);
    assert.ok(Date.now() - t0 < 1000);
    finish();
    assert.equal(await long, 'done');
    assert.equal(await q.settled(100), true);
  });
});
