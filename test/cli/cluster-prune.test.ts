/**
 * pss prune split over the tasks of a cluster job (--shard auto, --out-dir), then
 * `pss prune merge`: the merged folder is what one run over the whole dataset writes, byte
 * for byte but for the time taken; a shard of another run or an unfinished one is refused.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pss, pssAsync, tempDir } from '../helpers/cli.js';

const DATA = '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz';
const dir = tempDir();
const path = (f: string) => join(dir, f);
const SHARDS = 3;
const base = ['prune', '--data', DATA, '--limit', '400', '--k', '3', '--threads', '1'];
const json = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

/** Runs the n tasks of a Slurm array (ids 1..n, as --array=1-n gives) at once, into `out`. */
async function slurmArray(out: string, more: string[] = []) {
  const tasks = Array.from({ length: SHARDS }, (_, i) => {
    const env = {
      SLURM_ARRAY_TASK_ID: String(i + 1),
      SLURM_ARRAY_TASK_MIN: '1',
      SLURM_ARRAY_TASK_COUNT: String(SHARDS),
    };
    const child = pssAsync([...base, ...more, '--shard', 'auto', '--out-dir', out, '--resume'], { env });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    return new Promise<{ code: number | null; stderr: string }>((res) =>
      child.on('exit', (code) => res({ code, stderr })),
    );
  });
  for (const r of await Promise.all(tasks)) assert.equal(r.code, 0, r.stderr);
}

describe('pss prune on a cluster', {
  skip: !existsSync(DATA) && 'dataset-fashion-mnist is not installed',
}, () => {
  it('3 array tasks and pss prune merge give the folder of one run', async () => {
    const whole = path('whole');
    const one = pss([...base, '--out', whole]);
    assert.equal(one.code, 0, one.stderr);
    const shards = path('shards');
    await slurmArray(shards);
    const summary = json(join(shards, 'prune-00001-of-00003', 'summary.json'));
    assert.equal(summary.shard, '1/3');
    assert.deepEqual(summary.items, [133, 266]);

    const merged = path('merged');
    const r = pss(['prune', 'merge', shards, '--out', merged]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^merged the 3 shards in .*: 400 images, \d+ misclassified/);
    for (const f of ['prune.csv', 'run.json', 'summary.md', 'prune.png'])
      assert.ok(
        readFileSync(join(merged, f)).equals(readFileSync(join(whole, f))),
        `${f} as one run writes it`,
      );
    const [a, b] = [json(join(merged, 'summary.json')), json(join(whole, 'summary.json'))];
    assert.ok(a.misclassified > 10, `${a.misclassified} misclassified images to prune`);
    assert.deepEqual({ ...a, seconds: 0 }, { ...b, seconds: 0 });
  });

  it('a shard of another run (another --seed) or an unfinished one: one line, exit 1, nothing written', () => {
    const shards = path('shards');
    const foreign = path('foreign');
    cpSync(shards, foreign, { recursive: true });
    const task2 = {
      SLURM_ARRAY_TASK_ID: '3',
      SLURM_ARRAY_TASK_MIN: '1',
      SLURM_ARRAY_TASK_COUNT: String(SHARDS),
    };
    const rerun = pss([...base, '--seed', '1', '--shard', 'auto', '--out-dir', foreign], { env: task2 });
    assert.equal(rerun.code, 0, rerun.stderr);
    let r = pss(['prune', 'merge', foreign, '--out', path('m1')]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^pss: .*prune-00002-of-00003 is from a run with seed = 1, and .*prune-00000-of-00003 with 0: a shard of another run; .*\n$/,
    );
    assert.equal(existsSync(path('m1')), false);

    const unfinished = path('unfinished');
    cpSync(shards, unfinished, { recursive: true });
    rmSync(join(unfinished, 'prune-00001-of-00003', 'summary.json'));
    r = pss(['prune', 'merge', unfinished, '--out', path('m2')]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^pss: shard 1\/3 \(.*\) has not finished: it has no summary\.json; rerun shard 1\/3 with the same command and --resume\n$/,
    );
    assert.equal(existsSync(path('m2')), false);
  });
});
