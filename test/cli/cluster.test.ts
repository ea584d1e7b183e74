/**
 * A Kubernetes Indexed Job played on one machine: n pss processes, each with the
 * JOB_COMPLETION_INDEX a pod gets and the PSS_SHARDS its manifest sets, all writing into one
 * shared folder; one is SIGKILLed mid-run and started again as Kubernetes restarts a failed
 * index (same index, same command, which carries --resume); then the merge Job. The result
 * must be the statistics of the same shards run without a kill, bit for bit, and those of a
 * single run over the whole dataset up to float64 rounding (Chan's merge adds in another order
 * than Welford's one pass, so a merge is never bit-identical to a single run).
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readStats } from '../../src/stats/file.js';
import { pss, pssAsync, tempDir } from '../helpers/cli.js';
import { maxRelDiff } from '../helpers/fixtures.js';

const dir = tempDir();
const path = (f: string) => join(dir, f);
const SHARDS = 4;
const IMAGES = 6000;
const VICTIM = 1;

/** An IDX pair of n random 29x29 images for TinyCNN. */
function writeIdx(n: number): string {
  const img = Buffer.alloc(16 + n * 29 * 29);
  img.writeUInt32BE(2051, 0);
  img.writeUInt32BE(n, 4);
  img.writeUInt32BE(29, 8);
  img.writeUInt32BE(29, 12);
  for (let i = 16; i < img.length; i++) img[i] = (i * 2654435761) >>> 24;
  const lab = Buffer.alloc(8 + n);
  lab.writeUInt32BE(2049, 0);
  lab.writeUInt32BE(n, 4);
  for (let i = 0; i < n; i++) lab[8 + i] = i % 10;
  writeFileSync(path('x-images-idx3-ubyte'), img);
  writeFileSync(path('x-labels-idx1-ubyte'), lab);
  return path('x-images-idx3-ubyte');
}

const data = writeIdx(IMAGES);
const common = [
  'stats',
  '--model',
  'tinycnn',
  '--weights',
  'examples/tinycnn-deterministic.safetensors',
  '--data',
  data,
  '--batch',
  '2',
  '--checkpoint-every',
  '100',
  '--threads',
  '1',
];
/** The container's command line in the Job's manifest: the same for every pod. */
const podCommand = (shards: string) => [...common, '--shard', 'auto', '--out-dir', shards, '--resume'];
const podEnv = (index: number) => ({
  JOB_COMPLETION_INDEX: String(index),
  PSS_SHARDS: String(SHARDS),
  PSS_JOB_UID: 'b7c1e2d4-job-uid',
});

const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((res) => {
    let stderr = '';
    child.stderr?.on('data', (d) => {
      stderr += d;
    });
    child.on('exit', (code, signal) => res({ code, signal, stderr }));
  });

/** Starts the n pods of a Job writing into `shards`. */
const startPods = (shards: string) =>
  Array.from({ length: SHARDS }, (_, i) => pssAsync(podCommand(shards), { env: podEnv(i) }));

describe('a Kubernetes Indexed Job on one machine', { timeout: 120_000 }, () => {
  it('n pods, one SIGKILLed and restarted with its index and --resume, then the merge: the statistics of an uninterrupted Job, bit for bit', async () => {
    const t0 = Date.now();
    // The reference: the same Job, no pod killed.
    const reference = path('reference');
    for (const r of await Promise.all(startPods(reference).map(exited))) assert.equal(r.code, 0, r.stderr);

    const shards = path('shards');
    const pods = startPods(shards);
    const ends = pods.map(exited);
    const checkpoint = join(shards, `stats-0000${VICTIM}-of-0000${SHARDS}.safetensors.checkpoint`);
    const deadline = Date.now() + 60_000;
    while (!existsSync(checkpoint) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    pods[VICTIM].kill('SIGKILL');
    const results = await Promise.all(ends);
    assert.equal(results[VICTIM].signal, 'SIGKILL', 'the victim was killed before it finished');
    results.forEach((r, i) => {
      if (i !== VICTIM) assert.equal(r.code, 0, r.stderr);
    });
    const victimFile = `stats-0000${VICTIM}-of-0000${SHARDS}.safetensors`;
    assert.ok(existsSync(checkpoint), 'the killed pod left its checkpoint');
    assert.ok(existsSync(join(shards, `${victimFile}.lock`)), 'and its lock: SIGKILL runs no handler');
    assert.equal(existsSync(join(shards, victimFile)), false, 'and no output');

    // A merge Job started now finds the gap and says which shard, in one line.
    const early = pss(['stats', 'merge', shards, '--out', path('early.safetensors')]);
    assert.equal(early.code, 1);
    assert.equal(
      early.stderr,
      `pss: ${shards} is missing shard ${VICTIM} of ${SHARDS} (${victimFile}); shard ${VICTIM} has a checkpoint or lock there: still running, or stopped (rerun with the same command and --resume)\n`,
    );
    assert.equal(existsSync(path('early.safetensors')), false);

    // Kubernetes restarts the failed index: a new pod (another hostname, often another node),
    // the same index and command. The dead pod's lock says another host, whose processes
    // cannot be looked at; it is the same task's, so it is taken over; the checkpoint continues.
    const lock = join(shards, `${victimFile}.lock`);
    const left = JSON.parse(readFileSync(lock, 'utf8'));
    assert.equal(left.task, `k8s:b7c1e2d4-job-uid:${VICTIM}`);
    writeFileSync(lock, JSON.stringify({ ...left, host: `pss-stats-${VICTIM}-x7k2p` }));
    const restarted = pss(podCommand(shards), { env: podEnv(VICTIM) });
    assert.equal(restarted.code, 0, restarted.stderr);
    assert.match(restarted.stdout, /resumed after \d+\)/);
    assert.match(
      restarted.stderr,
      new RegExp(`shard ${VICTIM}/${SHARDS} \\(JOB_COMPLETION_INDEX=${VICTIM}, PSS_SHARDS=${SHARDS}\\)`),
    );
    assert.deepEqual(
      readdirSync(shards).sort(),
      Array.from({ length: SHARDS }, (_, i) => `stats-0000${i}-of-0000${SHARDS}.safetensors`),
      'the shards alone: no checkpoint, lock or temporary file left',
    );

    // The merge Job.
    for (const [from, to] of [
      [shards, 'job.safetensors'],
      [reference, 'reference.safetensors'],
    ]) {
      const r = pss(['stats', 'merge', from, '--out', path(to)]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`merged the ${SHARDS} shards in .*: ${IMAGES} images`));
    }
    const [job, ref] = [
      await readStats(path('job.safetensors')),
      await readStats(path('reference.safetensors')),
    ];
    assert.equal(job.acc.count, IMAGES);
    assert.deepEqual(Array.from(job.acc.mean), Array.from(ref.acc.mean), 'mean, bit for bit');
    assert.deepEqual(Array.from(job.acc.m2), Array.from(ref.acc.m2), 'm2, bit for bit');
    const [killed, uninterrupted] = [
      await readStats(join(shards, victimFile)),
      await readStats(join(reference, victimFile)),
    ];
    assert.deepEqual(
      Array.from(killed.acc.m2),
      Array.from(uninterrupted.acc.m2),
      "the killed pod's shard too",
    );
    assert.deepEqual(job.meta.coverage, [{ dataset: job.meta.coverage![0].dataset, ranges: [[0, IMAGES]] }]);

    // One process over everything: equal up to the rounding of the merge.
    const single = pss([...common, '--out', path('single.safetensors')]);
    assert.equal(single.code, 0, single.stderr);
    const whole = await readStats(path('single.safetensors'));
    assert.equal(whole.acc.count, job.acc.count);
    assert.ok(maxRelDiff(job.acc.mean, whole.acc.mean) <= 1e-12);
    assert.ok(maxRelDiff(job.acc.std(), whole.acc.std()) <= 1e-12);
    console.log(
      `# Indexed Job simulation: ${SHARDS} pods x ${IMAGES / SHARDS} images, ${(Date.now() - t0) / 1000} s`,
    );
  });
});
