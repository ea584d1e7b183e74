/**
 * deploy/slurm/: the array script run as Slurm runs it — by bash, once per task, with the
 * variables an `sbatch --array=1-3` task gets (a range that does not start at 0) — and then
 * the merge script: the statistics of the whole dataset, every item once.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { readStats } from '../../src/stats/file.js';
import { tempDir } from '../helpers/cli.js';

const dir = tempDir();
const IMAGES = 60;

/** An IDX pair of n 29x29 images for TinyCNN. */
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
  writeFileSync(join(dir, 's-images-idx3-ubyte'), img);
  writeFileSync(join(dir, 's-labels-idx1-ubyte'), lab);
  return join(dir, 's-images-idx3-ubyte');
}

const env = {
  ...process.env,
  NO_COLOR: '1',
  PSS: `${process.execPath} ${resolve('bin/pss.mjs')}`,
  MODEL: 'tinycnn',
  WEIGHTS: resolve('examples/tinycnn-deterministic.safetensors'),
  DATA: writeIdx(IMAGES),
  SHARDS: join(dir, 'shards'),
  OUT: join(dir, 'val.safetensors'),
  PSS_ARGS: '--batch 2',
  JOB_COMPLETION_INDEX: undefined,
};

const bash = (script: string, more: Record<string, string> = {}) =>
  new Promise<{ code: number | null; out: string }>((res) => {
    const child = spawn('bash', [join('deploy/slurm', script)], { env: { ...env, ...more } });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('exit', (code) => res({ code, out }));
  });

describe('deploy/slurm', { timeout: 60_000 }, () => {
  it('an array of 3 tasks (--array=1-3), then the merge: every image once', async () => {
    const header = readFileSync('deploy/slurm/stats-array.sbatch', 'utf8');
    assert.match(header, /^#SBATCH --array=0-\d+$/m);
    assert.match(header, /--shard auto --out-dir "\$SHARDS" --resume/);
    const tasks = [1, 2, 3].map((id) =>
      bash('stats-array.sbatch', {
        SLURM_ARRAY_JOB_ID: '4242',
        SLURM_ARRAY_TASK_ID: String(id),
        SLURM_ARRAY_TASK_MIN: '1',
        SLURM_ARRAY_TASK_MAX: '3',
        SLURM_ARRAY_TASK_COUNT: '3',
        SLURM_CPUS_PER_TASK: '1',
      }),
    );
    for (const r of await Promise.all(tasks)) assert.equal(r.code, 0, r.out);
    assert.deepEqual(readdirSync(env.SHARDS).sort(), [
      'stats-00000-of-00003.safetensors',
      'stats-00001-of-00003.safetensors',
      'stats-00002-of-00003.safetensors',
    ]);
    const merged = await bash('stats-merge.sbatch');
    assert.equal(merged.code, 0, merged.out);
    assert.match(merged.out, /merged the 3 shards in .*: 60 images/);
    const stats = await readStats(env.OUT);
    assert.equal(stats.acc.count, IMAGES);
    assert.deepEqual(
      stats.meta.coverage?.map((c) => c.ranges),
      [[[0, IMAGES]]],
    );
  });

  it('a merge with a task missing: one line, exit 1', async () => {
    const gap = join(dir, 'gap');
    mkdirSync(gap);
    for (const i of [0, 2]) {
      const name = `stats-0000${i}-of-00003.safetensors`;
      copyFileSync(join(env.SHARDS, name), join(gap, name));
    }
    const r = await bash('stats-merge.sbatch', { SHARDS: gap, OUT: join(dir, 'none.safetensors') });
    assert.equal(r.code, 1);
    assert.match(r.out, /^pss: .*gap is missing shard 1 of 3 \(stats-00001-of-00003\.safetensors\)\n$/);
  });
});
