/**
 * Which part of a dataset a run covers: `--shard i/n`, or `--shard auto`, which reads the
 * index and count that a cluster gives each of its tasks — a Kubernetes Indexed Job
 * (JOB_COMPLETION_INDEX; the count from --shards or PSS_SHARDS, since a pod does not see its
 * Job's completions) or a Slurm job array (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_MIN,
 * SLURM_ARRAY_TASK_COUNT, and SLURM_ARRAY_TASK_STEP when the array has a step).
 */
import { join } from 'node:path';
import type { ArgsDef } from 'citty';
import { PssError } from '../errors.js';
import { type ShardLayout, shardName } from '../io/shards.js';
import { intFlag } from './parse.js';

/** The variable a Kubernetes Job's manifest sets to its spec.completions. */
export const SHARD_COUNT_ENV = 'PSS_SHARDS';
/** The Job's uid, which the manifest passes down from the pod's batch.kubernetes.io/controller-uid label. */
export const JOB_UID_ENV = 'PSS_JOB_UID';
const K8S_INDEX = 'JOB_COMPLETION_INDEX';
const SLURM = {
  id: 'SLURM_ARRAY_TASK_ID',
  min: 'SLURM_ARRAY_TASK_MIN',
  max: 'SLURM_ARRAY_TASK_MAX',
  count: 'SLURM_ARRAY_TASK_COUNT',
  step: 'SLURM_ARRAY_TASK_STEP',
} as const;

export const shardArgs = {
  shard: {
    type: 'string',
    description: `Process only shard i of n (contiguous ranges), e.g. 0/4; or "auto": the index and count of a Kubernetes Indexed Job (${K8S_INDEX}, with --shards or ${SHARD_COUNT_ENV}) or of a Slurm array (${SLURM.id}, ${SLURM.min}, ${SLURM.count})`,
    valueHint: 'i/n|auto',
  },
  shards: {
    type: 'string',
    description: `With --shard auto: the number of shards (a Kubernetes Job's completions; default: $${SHARD_COUNT_ENV}, or the Slurm array's size)`,
    valueHint: 'n',
  },
} as const satisfies ArgsDef;

export interface Shard {
  index: number;
  count: number;
  /** Where --shard auto found them ("JOB_COMPLETION_INDEX=3, PSS_SHARDS=16"); absent for i/n. */
  from?: string;
  /**
   * With --shard auto, the cluster task ("k8s:<job uid>:3", "slurm:<array job id>:5"): its
   * output's lock, left by an instance that was killed on another host, is taken over.
   */
  task?: string;
}

type Env = Record<string, string | undefined>;

/** A variable that must hold a whole number (Kubernetes and Slurm write them in decimal). */
function wholeNumber(env: Env, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(Number(v)))
    throw new PssError(`--shard auto: ${name} is "${v}", not a whole number`);
  return Number(v);
}

/** The shard that --shard and --shards ask for; undefined for the whole dataset. */
export function resolveShard(
  shard: string | undefined,
  shards: string | undefined,
  env: Env = process.env,
): Shard | undefined {
  if (shard !== 'auto') {
    if (shards !== undefined)
      throw new PssError('--shards goes with --shard auto (with --shard i/n the count is n)');
    if (shard === undefined) return undefined;
    const m = /^(\d+)\/(\d+)$/.exec(shard);
    const [i, n] = m ? [Number(m[1]), Number(m[2])] : [Number.NaN, Number.NaN];
    if (!m || n < 1 || i >= n)
      throw new PssError(
        `--shard must look like i/n with 0 <= i < n, got "${shard}" (or --shard auto, for a task of a cluster job)`,
      );
    return { index: i, count: n };
  }
  const flagCount = intFlag(shards, 'shards', 1);
  const k8s = env[K8S_INDEX] !== undefined && env[K8S_INDEX] !== '';
  const slurm = env[SLURM.id] !== undefined && env[SLURM.id] !== '';
  if (k8s && slurm)
    throw new PssError(
      `--shard auto: both ${K8S_INDEX} (Kubernetes) and ${SLURM.id} (Slurm) are set; unset the one that does not belong, or give --shard i/n`,
    );
  if (!k8s && !slurm)
    throw new PssError(
      `--shard auto needs a Kubernetes Indexed Job (${K8S_INDEX}, with --shards n or ${SHARD_COUNT_ENV}) or a Slurm array (${SLURM.id}, ${SLURM.min}, ${SLURM.count}); none of them is set`,
    );
  const found = k8s ? fromKubernetes(env, flagCount) : fromSlurm(env);
  if (flagCount !== undefined && flagCount !== found.count)
    throw new PssError(
      `--shard auto: --shards ${flagCount} disagrees with ${found.from}, which make ${found.count} shards`,
    );
  return found;
}

function fromKubernetes(env: Env, flagCount: number | undefined): Shard {
  const index = wholeNumber(env, K8S_INDEX)!;
  const envCount = wholeNumber(env, SHARD_COUNT_ENV);
  if (flagCount === undefined && envCount === undefined)
    throw new PssError(
      `--shard auto: ${K8S_INDEX} is ${index}, but the number of shards is unknown (a pod does not see its Job's completions): give --shards n or set ${SHARD_COUNT_ENV} to the Job's spec.completions`,
    );
  if (flagCount !== undefined && envCount !== undefined && flagCount !== envCount)
    throw new PssError(`--shard auto: --shards ${flagCount} disagrees with ${SHARD_COUNT_ENV}=${envCount}`);
  const count = flagCount ?? envCount!;
  const from = `${K8S_INDEX}=${index}, ${flagCount !== undefined ? `--shards ${count}` : `${SHARD_COUNT_ENV}=${count}`}`;
  if (count < 1)
    throw new PssError(`--shard auto: ${SHARD_COUNT_ENV} is 0; a Job has at least one completion`);
  if (index >= count)
    throw new PssError(
      `--shard auto: ${from}: the index must be below the count; set ${SHARD_COUNT_ENV} to the Job's spec.completions`,
    );
  return { index, count, from, task: `k8s:${env[JOB_UID_ENV] || '-'}:${index}` };
}

/** Slurm numbers tasks MIN, MIN+STEP, ..., MAX: the shard is their rank. A list that is no such range is refused. */
function fromSlurm(env: Env): Shard {
  const id = wholeNumber(env, SLURM.id)!;
  const min = wholeNumber(env, SLURM.min);
  const count = wholeNumber(env, SLURM.count);
  if (min === undefined || count === undefined)
    throw new PssError(
      `--shard auto: ${SLURM.id} is ${id}, but ${[min === undefined && SLURM.min, count === undefined && SLURM.count].filter(Boolean).join(' and ')} ${min === undefined && count === undefined ? 'are' : 'is'} not set (Slurm sets them in array jobs, sbatch --array)`,
    );
  const step = wholeNumber(env, SLURM.step) ?? 1;
  const max = wholeNumber(env, SLURM.max);
  const from = `${SLURM.id}=${id}, ${SLURM.min}=${min}, ${SLURM.count}=${count}${step !== 1 ? `, ${SLURM.step}=${step}` : ''}`;
  const rank = (id - min) / (step || 1);
  const regular = max === undefined || min + (count - 1) * step === max;
  if (count < 1 || step < 1 || !regular || !Number.isInteger(rank) || rank < 0 || rank >= count)
    throw new PssError(
      `--shard auto: ${from}${max === undefined ? '' : `, ${SLURM.max}=${max}`}: the array is not a range A-B (or A-B:step), so its tasks are not shards 0..n−1; submit with e.g. --array=0-${Math.max(count, 1) - 1}`,
    );
  return { index: rank, count, from, task: `slurm:${env.SLURM_ARRAY_JOB_ID || '-'}:${id}` };
}

/** "i/n", as the files record a shard. */
export const shardText = (s: Shard) => `${s.index}/${s.count}`;

/**
 * Where a run writes: `--out` as given, or its shard's name inside `--out-dir`. `--out-dir`
 * names shards, so it needs --shard.
 */
export function outputPath(
  args: { out?: string; 'out-dir'?: string },
  shard: Shard | undefined,
  layout: ShardLayout,
  outWhat: string,
): string {
  const dir = args['out-dir'];
  if (args.out !== undefined && dir !== undefined)
    throw new PssError(`give --out ${outWhat} or --out-dir DIR, not both`);
  if (dir !== undefined) {
    if (!shard)
      throw new PssError(
        `--out-dir writes one shard's output, named by its index: give --shard i/n or --shard auto, or write the whole run to --out ${outWhat}`,
      );
    return join(dir, shardName(layout, [shard.index, shard.count]));
  }
  if (args.out === undefined)
    throw new PssError(
      `Missing required argument: --out ${outWhat} (or, for one shard of a cluster job, --out-dir DIR)`,
    );
  return args.out;
}
