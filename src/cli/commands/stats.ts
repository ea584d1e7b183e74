/** `pss stats`: per-filter saliency statistics over a labelled dataset; `pss stats merge`. */
import { defineCommand } from 'citty';
import { openDataset } from '../../data/open.js';
import { PssError } from '../../errors.js';
import { loadModel } from '../../models/load.js';
import type { Aggregation } from '../../saliency/aggregation.js';
import { SaliencyEngine } from '../../saliency/engine.js';
import { collectStats } from '../../stats/collect.js';
import { readStats, writeStats } from '../../stats/file.js';
import { mergeStats } from '../../stats/merge.js';
import { aggregationArg, engineOptions, modelArgs, runtimeArgs } from '../args.js';
import { intFlag } from '../parse.js';
import { type Progress, progressBar } from '../progress.js';

const merge = defineCommand({
  meta: {
    name: 'merge',
    description: 'Merge statistics of shards (pss stats --shard i/n) into one file, exactly.',
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
    if (paths.length < 2) throw new PssError('give at least two statistics files to merge');
    const parts = await Promise.all(paths.map(async (path) => ({ path, stats: await readStats(path) })));
    const merged = mergeStats(parts);
    await writeStats(args.out, merged);
    console.log(
      `merged ${paths.length} files: ${merged.acc.count} images (${merged.meta.skipped} skipped) -> ${args.out}`,
    );
  },
});

function parseShard(s: string | undefined): [number, number] | undefined {
  if (s === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(s);
  const [i, n] = m ? [Number(m[1]), Number(m[2])] : [Number.NaN, Number.NaN];
  if (!m || n < 1 || i >= n) throw new PssError(`--shard must look like i/n with 0 <= i < n, got "${s}"`);
  return [i, n];
}

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
      description: 'Statistics file to write (.safetensors)',
      valueHint: 'file',
      required: true,
    },
    ...aggregationArg,
    batch: { type: 'string', default: '4', description: 'Images per ONNX Runtime run', valueHint: 'n' },
    shard: {
      type: 'string',
      description: 'Process only shard i of n (contiguous ranges), e.g. 0/4',
      valueHint: 'i/n',
    },
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
    const batch = intFlag(args.batch, 'batch', 1)!;
    const limit = intFlag(args.limit, 'limit', 1);
    const model = await loadModel(args);
    const data = await openDataset(args.data, model, limit);
    const engine = new SaliencyEngine(model, engineOptions(args));
    let bar: Progress | undefined;
    const checkpoint = `${args.out}.checkpoint`;
    const result = await collectStats(engine, data, {
      aggregation: args.aggregation as Aggregation,
      batch,
      shard: parseShard(args.shard),
      checkpoint,
      checkpointEvery: intFlag(args['checkpoint-every'], 'checkpoint-every', 1),
      resume: args.resume,
      strict: args.strict,
      onSkip: (id, reason) => console.error(`pss: skipped ${id}: ${reason}`),
      onProgress: ({ done, total, skipped }) => {
        bar ??= progressBar('stats', total);
        bar.update(done, { note: skipped ? `| ${skipped} skipped` : '' });
      },
    });
    bar?.stop();
    await engine[Symbol.asyncDispose]();
    if (result.acc.count < 2)
      throw new PssError(`only ${result.acc.count} image(s) could be read; statistics need at least 2`);
    await writeStats(args.out, result);
    const resumed = result.resumedFrom ? ` (resumed after ${result.resumedFrom})` : '';
    console.log(
      `${model.name}: ${result.meta.aggregation} statistics over ${result.acc.count} images${resumed}, ${result.meta.skipped} skipped -> ${args.out}`,
    );
  },
});

export default Object.assign(command, {
  help: {
    notes: [
      'Each image contributes its own gradient (per-sample, never a batch sum); mean and unbiased std are accumulated in float64. A checkpoint is written every --checkpoint-every images; after an interruption, rerun the same command with --resume to get exactly the result of an uninterrupted run. The file records the model, a hash of its weights, the aggregation and preprocessing, so it cannot be applied to another model by mistake.',
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
    ],
  },
});
