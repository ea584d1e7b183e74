/** `pss stats`: per-unit saliency statistics over a labelled dataset; `pss stats merge`. */
import { realpath, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { defineCommand } from 'citty';
import { shardRange } from '../../data/dataset.js';
import { openDataset } from '../../data/open.js';
import { PssError } from '../../errors.js';
import { classNamesFor } from '../../image/labels.js';
import { checkWritable } from '../../io/files.js';
import { acquireLock } from '../../io/lock.js';
import { STATS_SHARDS, shardName } from '../../io/shards.js';
import { collectStats } from '../../jobs/collect-stats.js';
import { loadModel } from '../../models/load.js';
import { describeUnitCounts } from '../../models/units.js';
import { defaultBatch } from '../../runtime/batch.js';
import type { Aggregation } from '../../saliency/aggregation.js';
import { SaliencyEngine } from '../../saliency/engine.js';
import { readStats, writeStats } from '../../stats/file.js';
import { type MergePart, mergeStats } from '../../stats/merge.js';
import { readStatsShards } from '../../stats/shard-set.js';
import { DEFAULT_TAIL_QUANTILE, tailBytes } from '../../stats/tails.js';
import {
  aggregationArg,
  engineOptions,
  modelArgs,
  modelSpec,
  runtimeArgs,
  targetArg,
  targetFlag,
} from '../args.js';
import { intFlag } from '../parse.js';
import { type Progress, progressBar } from '../progress.js';
import { outputPath, resolveShard, shardArgs, shardText } from '../shard.js';

const merge = defineCommand({
  meta: {
    name: 'merge',
    description:
      'Merge statistics of shards (pss stats --shard i/n) into one file, exactly: a list of files, or the directory of a sharded run (--out-dir), which must hold every shard 0..n-1 once; refuses to count a dataset item twice.',
  },
  args: {
    out: {
      type: 'string',
      description: 'Merged statistics file to write',
      valueHint: 'file',
      required: true,
    },
  },
  async run({ args }) {
    const paths = args._ as string[];
    const dir = paths.length === 1 && (await isDirectory(paths[0])) ? paths[0] : undefined;
    if (!dir) await checkFileList(paths);
    await using _lock = await acquireLock(args.out, { label: 'pss stats merge' });
    await checkWritable(args.out);
    const parts: MergePart[] = dir
      ? await readStatsShards(dir)
      : await Promise.all(paths.map(async (path) => ({ path, stats: await readStats(path) })));
    let fitting: { q: number; bar: Progress } | undefined;
    const merged = mergeStats(parts, {
      onNote: (note) => console.error(`pss: note: ${note}`),
      onFit: (q, done, total) => {
        if (fitting?.q !== q) {
          fitting?.bar.stop();
          fitting = { q, bar: progressBar(`POT fit q=${q}`, total, 'filters') };
        }
        fitting.bar.update(done);
      },
    });
    fitting?.bar.stop();
    await writeStats(args.out, merged);
    const what = dir ? `the ${parts.length} shards in ${dir}` : `${paths.length} files`;
    console.log(`merged ${what}: ${merged.acc.count} images (${merged.meta.skipped} skipped) -> ${args.out}`);
  },
});

const isDirectory = (path: string) =>
  stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );

/** A list of files: at least two, none of them twice (under any name), no directory among them. */
async function checkFileList(paths: string[]): Promise<void> {
  if (paths.length < 2)
    throw new PssError(
      `give at least two statistics files to merge (got ${paths.length}), or one shard directory: pss stats merge part0.safetensors part1.safetensors --out all.safetensors, or pss stats merge shards/ --out all.safetensors`,
    );
  for (const p of paths)
    if (await isDirectory(p))
      throw new PssError(
        `${p} is a directory: give one shard directory alone, or a list of statistics files`,
      );
  const real = await Promise.all(paths.map((p) => realpath(p).catch(() => resolve(p))));
  real.forEach((r, j) => {
    const i = real.indexOf(r);
    if (i < j)
      throw new PssError(
        `${paths[j]} is given twice${paths[i] === paths[j] ? '' : ` (also as ${paths[i]})`}: give each shard once`,
      );
  });
}

const DEFAULT_BATCH = 4;
/** Measured on ResNet-50, 8 images: --batch 1 peaks at 2.0 GB in 22 s, --batch 4 at 4.8 GB in 42 s. */
const PARAMETER_BATCH = 1;

const command = defineCommand({
  meta: {
    name: 'stats',
    description:
      'Per-filter mean and standard deviation of saliency over a labelled dataset, to standardise saliency (z-scores). Interruptible (--resume) and splittable (--shard, then pss stats merge).',
  },
  args: {
    ...modelArgs,
    data: {
      type: 'string',
      description:
        'Labelled images: a folder with one subfolder per class (classes = sorted folder names, as torchvision ImageFolder), a .csv or .jsonl list of (path, label), or an IDX images file (labels file found beside it)',
      valueHint: 'source',
      required: true,
    },
    out: {
      type: 'string',
      description: 'Statistics file to write (.safetensors); or --out-dir for a shard',
      valueHint: 'file',
    },
    'out-dir': {
      type: 'string',
      description: `With --shard: the folder of all shards' statistics, this one named by its index (${shardName(STATS_SHARDS, [3, 16])}); pss stats merge DIR merges them`,
      valueHint: 'dir',
    },
    ...aggregationArg,
    ...targetArg,
    tails: {
      type: 'boolean',
      default: true,
      description:
        "Keep each filter's largest values (above --tail-quantile), exactly, for --standardize pot; --no-tails keeps only mean and std",
    },
    'tail-quantile': {
      type: 'string',
      default: String(DEFAULT_TAIL_QUANTILE),
      description: 'The smallest POT quantile the tails serve (0.85 serves 0.85 and 0.95)',
      valueHint: 'q',
    },
    batch: {
      type: 'string',
      description: `Images per ONNX Runtime run (default: ${DEFAULT_BATCH}; ${PARAMETER_BATCH} with --aggregation parameter, whose per-sample gradients are as large as the model; on --device webgpu, ${defaultBatch('saliency', 'webgpu', DEFAULT_BATCH)} at 224x224 and more for smaller inputs)`,
      valueHint: 'n',
    },
    ...shardArgs,
    limit: { type: 'string', description: 'Use only the first n images of the dataset', valueHint: 'n' },
    'checkpoint-every': {
      type: 'string',
      default: '500',
      description: 'Images between checkpoints',
      valueHint: 'n',
    },
    resume: {
      type: 'boolean',
      description: 'Continue from the checkpoint (OUT.checkpoint) of an interrupted run',
    },
    strict: { type: 'boolean', description: 'Stop at the first unreadable image instead of skipping it' },
    ...runtimeArgs,
  },
  subCommands: { merge },
  async run({ args }) {
    const aggregation = args.aggregation as Aggregation;
    const batch = intFlag(args.batch, 'batch', 1);
    const limit = intFlag(args.limit, 'limit', 1);
    const found = resolveShard(args.shard, args.shards);
    const shard = found && ([found.index, found.count] as const);
    const out = outputPath(args, found, STATS_SHARDS, 'FILE');
    const checkpointEvery = intFlag(args['checkpoint-every'], 'checkpoint-every', 1);
    const checkpoint = `${out}.checkpoint`;
    // Before anything long: the output is ours alone, and it and the checkpoint can be written.
    await using _lock = await acquireLock(out, { label: 'pss stats', task: found?.task });
    await checkWritable(out);
    await checkWritable(checkpoint);
    if (found?.from) console.error(`pss stats: shard ${shardText(found)} (${found.from}) -> ${out}`);
    const tailQuantile = Number(args['tail-quantile']);
    if (!(tailQuantile > 0 && tailQuantile < 1))
      throw new PssError(`--tail-quantile must be a number in (0, 1), got "${args['tail-quantile']}"`);
    const model = await loadModel(modelSpec(args));
    const target = targetFlag(args.target, model, classNamesFor(model.numClasses, model.arch.classNames));
    const data = await openDataset(args.data, model, limit);
    const [begin, end] = shardRange(data.length, shard);
    if (end - begin < 2)
      throw new PssError(
        `${found ? `shard ${shardText(found)} of ` : ''}${data.description} has ${end - begin} item(s); statistics need at least 2 images`,
      );
    await using engine = new SaliencyEngine(model, engineOptions(args));
    let bar: Progress | undefined;
    let fitting: { q: number; bar: Progress } | undefined;
    const result = await collectStats(engine, data, {
      aggregation,
      target,
      tailQuantile: args.tails && tailQuantile,
      batch:
        batch ??
        defaultBatch(
          aggregation === 'parameter' ? 'parameter' : 'saliency',
          args.device,
          aggregation === 'parameter' ? PARAMETER_BATCH : DEFAULT_BATCH,
          model.arch.inputShape,
        ),
      shard,
      checkpoint,
      checkpointEvery,
      resume: args.resume,
      strict: args.strict,
      onSkip: (id, reason) => console.error(`pss: skipped ${id}: ${reason}`),
      onProgress: ({ done, total, skipped }) => {
        bar ??= progressBar('stats', total);
        bar.update(done, { note: skipped ? `| ${skipped} skipped` : '' });
      },
      onFit: (q, done, total) => {
        if (fitting?.q !== q) {
          bar?.stop();
          fitting?.bar.stop();
          fitting = { q, bar: progressBar(`POT fit q=${q}`, total, 'filters') };
        }
        fitting.bar.update(done);
      },
    });
    fitting?.bar.stop();
    bar?.stop();
    if (result.acc.count < 2) {
      const first = result.skippedItems[0];
      throw new PssError(
        `only ${result.acc.count} of the ${end - begin} item(s) tried could be read (${result.meta.skipped} skipped${first ? `; the first, ${first.id}: ${first.reason}` : ''}); statistics need at least 2 images`,
      );
    }
    await writeStats(out, result);
    const resumed = result.resumedFrom ? ` (resumed after ${result.resumedFrom})` : '';
    // Other unit sets than filters say what the vector holds.
    const units =
      model.units === 'filters' || aggregation === 'parameter'
        ? ''
        : ` of ${describeUnitCounts(model.layers)} (--units ${model.units})`;
    console.log(
      `${model.name}: ${result.meta.aggregation} statistics${units} over ${result.acc.count} images${resumed}, ${result.meta.skipped} skipped${result.tails ? `, tails above q = ${result.tails.quantile}` : ''} -> ${out}`,
    );
  },
});

Object.assign(merge, {
  help: {
    operands: '<files... | dir>',
    notes: [
      'Each file records the dataset items it covers; a file given twice, two shards that share items, or a run together with one of its own shards is refused, so no item counts twice. Files written by earlier versions of pss record no items: then only a repeated file or shard i/n is caught, and the merge says so.',
      'A directory (one operand) is the --out-dir of a sharded run: every shard 0..n-1 must be there exactly once (a missing one is named, with a hint when it left a checkpoint), each file must hold the shard its name says, and all must share model, weights, aggregation, preprocessing and data — a shard of another run is refused. Other files in the folder (locks, checkpoints) are left alone.',
    ],
    examples: [
      [
        'pss stats merge part0.safetensors part1.safetensors part2.safetensors --out all.safetensors',
        'the shards 0/3, 1/3 and 2/3 of one dataset, merged exactly',
      ],
      [
        'pss stats merge shards/ --out all.safetensors',
        'every shard a Kubernetes Indexed Job or Slurm array wrote into shards/',
      ],
    ],
  },
});

export default Object.assign(command, {
  help: {
    notes: [
      'Each image contributes its own gradient (per-sample, never a batch sum); mean and unbiased std are accumulated in float64. A checkpoint is written every --checkpoint-every images; after an interruption, rerun the same command with --resume to get exactly the result of an uninterrupted run. The file records the model, a hash of its weights, the aggregation and preprocessing, so it cannot be applied to another model by mistake, and the dataset items it covers, so that pss stats merge never counts one twice.',
      `The tails (for --standardize pot, DESIGN §1.5) are each filter's largest ceil((1 - q) N) + 2 values, N the dataset's size, float32, kept exactly while streaming (a heap per filter), so that shards merge exactly and --resume continues bit for bit: ${(tailBytes(26560, 50000, 0.85) / 2 ** 20).toFixed(0)} MiB for ResNet-50's 26,560 filters over 50,000 images at q = 0.85 (the mean and std: 0.6 MiB); --no-tails leaves them out. When a whole run (not a --shard) or a merge finishes, every filter's GPD is fitted at q = 0.85 and 0.95 and kept in the file (13 ms per filter at 9,000 peaks on a 2-core machine: for ResNet-50 over 50,000 images some 6-7 minutes, once; other q are fitted when asked for). --aggregation parameter keeps none.`,
      '--aggregation parameter keeps a float64 mean and M2 for every element of every parameter (DESIGN §1.3): for ResNet-50, 25.6M parameters, the file is 409 MB and a run peaks at 2.0 GB of memory with --batch 1 (its default; 4.8 GB with --batch 4, and no faster). pss saliency --aggregation parameter --stats FILE standardises with it; explain, prune, neighbors and finetune need per-filter statistics.',
      'While it runs, OUT.lock marks the output as taken: a second run on the same --out stops at once and says which process has it.',
      `On a cluster, --shard auto takes the index from a Kubernetes Indexed Job (JOB_COMPLETION_INDEX; the count from --shards or PSS_SHARDS, which the Job's manifest sets to its completions) or a Slurm array (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_COUNT), and --out-dir DIR writes ${shardName(STATS_SHARDS, [3, 16])} there. Give --resume on every start, so that a retried task continues its checkpoint. deploy/README.md has the Job, the Slurm script and the container image.`,
    ],
    examples: [
      [
        'pss stats --model resnet50 --weights w.safetensors --data imagenet/val --out resnet50-val.safetensors',
        'statistics over an ImageNet-style folder',
      ],
      [
        'pss stats --model resnet50 --weights w.safetensors --data val.csv --out part0.safetensors --shard 0/2',
        'one half of a CSV list (path,label); run 1/2 elsewhere, then merge',
      ],
      ['pss stats merge part0.safetensors part1.safetensors --out all.safetensors', 'exact merge of shards'],
      [
        'pss stats --model resnet50 --weights w.safetensors --data /data/val --shard auto --out-dir /work/shards --resume',
        'one task of a Kubernetes Indexed Job (PSS_SHARDS set) or a Slurm array; then pss stats merge /work/shards --out val.safetensors',
      ],
    ],
  },
});
