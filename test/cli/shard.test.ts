/**
 * src/cli/shard.ts: which shard a task of a cluster job is, from the variables Kubernetes
 * and Slurm set (the environment passed in, as a pod or an array task would have it), and
 * where its output goes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { outputPath, resolveShard } from '../../src/cli/shard.js';
import { PssError } from '../../src/errors.js';
import { STATS_SHARDS } from '../../src/io/shards.js';

const refused = (f: () => unknown, pattern: RegExp) =>
  assert.throws(
    f,
    (e: Error) => e instanceof PssError && !e.message.includes('\n') && pattern.test(e.message),
  );

const slurm = (id: number, more: Record<string, string> = {}) => ({
  SLURM_ARRAY_JOB_ID: '900',
  SLURM_ARRAY_TASK_ID: String(id),
  SLURM_ARRAY_TASK_MIN: '1',
  SLURM_ARRAY_TASK_MAX: '4',
  SLURM_ARRAY_TASK_COUNT: '4',
  ...more,
});

describe('--shard', () => {
  it('i/n as given; none: the whole dataset', () => {
    assert.deepEqual(resolveShard('2/5', undefined, {}), { index: 2, count: 5 });
    assert.equal(resolveShard(undefined, undefined, {}), undefined);
    refused(
      () => resolveShard('5/5', undefined, {}),
      /--shard must look like i\/n with 0 <= i < n, got "5\/5"/,
    );
    refused(() => resolveShard('1/4', '4', {}), /--shards goes with --shard auto/);
  });

  it('auto in a Kubernetes pod: JOB_COMPLETION_INDEX, the count from PSS_SHARDS or --shards', () => {
    const pod = { JOB_COMPLETION_INDEX: '3', PSS_SHARDS: '16', PSS_JOB_UID: 'u-1' };
    assert.deepEqual(resolveShard('auto', undefined, pod), {
      index: 3,
      count: 16,
      from: 'JOB_COMPLETION_INDEX=3, PSS_SHARDS=16',
      task: 'k8s:u-1:3',
    });
    assert.equal(
      resolveShard('auto', '16', { JOB_COMPLETION_INDEX: '3' })?.from,
      'JOB_COMPLETION_INDEX=3, --shards 16',
    );
    refused(() => resolveShard('auto', '8', pod), /--shards 8 disagrees with PSS_SHARDS=16/);
    refused(
      () => resolveShard('auto', undefined, { JOB_COMPLETION_INDEX: '3' }),
      /the number of shards is unknown/,
    );
    refused(
      () => resolveShard('auto', undefined, { JOB_COMPLETION_INDEX: '16', PSS_SHARDS: '16' }),
      /the index must be below the count/,
    );
    refused(
      () => resolveShard('auto', undefined, { JOB_COMPLETION_INDEX: 'x', PSS_SHARDS: '2' }),
      /"x", not a whole number/,
    );
  });

  it('auto in a Slurm array: the rank of the task in its range, whatever the range starts at', () => {
    assert.deepEqual(
      [1, 2, 3, 4].map((id) => resolveShard('auto', undefined, slurm(id))?.index),
      [0, 1, 2, 3],
    );
    assert.equal(resolveShard('auto', undefined, slurm(4))?.task, 'slurm:900:4');
    // --array=0-30:10 is the tasks 0, 10, 20, 30.
    const step = { SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_MAX: '30', SLURM_ARRAY_TASK_STEP: '10' };
    assert.deepEqual(
      [0, 10, 20, 30].map((id) => resolveShard('auto', undefined, slurm(id, step))),
      [0, 1, 2, 3].map((index, i) => ({
        index,
        count: 4,
        from: `SLURM_ARRAY_TASK_ID=${10 * i}, SLURM_ARRAY_TASK_MIN=0, SLURM_ARRAY_TASK_COUNT=4, SLURM_ARRAY_TASK_STEP=10`,
        task: `slurm:900:${10 * i}`,
      })),
    );
    // --array=1,4,9: no range, no shards.
    refused(
      () =>
        resolveShard('auto', undefined, slurm(4, { SLURM_ARRAY_TASK_MAX: '9', SLURM_ARRAY_TASK_COUNT: '3' })),
      /is not a range A-B/,
    );
    refused(
      () => resolveShard('auto', undefined, { SLURM_ARRAY_TASK_ID: '2' }),
      /SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_COUNT are not set/,
    );
    refused(
      () => resolveShard('auto', '5', slurm(1)),
      /--shards 5 disagrees with SLURM_ARRAY_TASK_ID=1, .* which make 4 shards/,
    );
  });

  it('auto with neither, or both', () => {
    refused(() => resolveShard('auto', undefined, {}), /none of them is set/);
    refused(
      () => resolveShard('auto', undefined, { ...slurm(1), JOB_COMPLETION_INDEX: '0', PSS_SHARDS: '4' }),
      /both JOB_COMPLETION_INDEX \(Kubernetes\) and SLURM_ARRAY_TASK_ID \(Slurm\) are set/,
    );
  });

  it('--out-dir names the shard; --out is taken as it is', () => {
    const shard = { index: 3, count: 16 };
    assert.equal(
      outputPath({ 'out-dir': '/w' }, shard, STATS_SHARDS, 'FILE'),
      '/w/stats-00003-of-00016.safetensors',
    );
    assert.equal(outputPath({ out: 'a.safetensors' }, shard, STATS_SHARDS, 'FILE'), 'a.safetensors');
    assert.equal(
      outputPath({ 'out-dir': '/w' }, { index: 7, count: 123456 }, STATS_SHARDS, 'FILE'),
      '/w/stats-000007-of-123456.safetensors',
    );
    refused(() => outputPath({ out: 'a', 'out-dir': '/w' }, shard, STATS_SHARDS, 'FILE'), /not both/);
    refused(
      () => outputPath({ 'out-dir': '/w' }, undefined, STATS_SHARDS, 'FILE'),
      /give --shard i\/n or --shard auto/,
    );
    refused(() => outputPath({}, undefined, STATS_SHARDS, 'FILE'), /Missing required argument: --out FILE/);
  });
});
