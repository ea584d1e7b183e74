/** `pss prune`: does turning off the most salient filters fix misclassifications? (paper §4) */
import { join } from 'node:path';
import { defineCommand } from 'citty';
import { openDataset } from '../../data/open.js';
import { PssError } from '../../errors.js';
import { pruneChartPng } from '../../figures/experiments.js';
import { checkWritable, writeFilesAtomic } from '../../io/files.js';
import { acquireLock } from '../../io/lock.js';
import { runPrune } from '../../jobs/prune.js';
import { pruneMarkdown } from '../../jobs/prune-summary.js';
import { loadModel } from '../../models/load.js';
import { type Aggregation, perUnit } from '../../saliency/aggregation.js';
import { SaliencyEngine } from '../../saliency/engine.js';
import type { RankBy } from '../../saliency/rank.js';
import { resolveStats } from '../../stats/resolve.js';
import { aggregationArg, engineOptions, modelArgs, modelSpec, rankArgs, runtimeArgs } from '../args.js';
import { dataArg, phases, seconds } from '../experiments.js';
import { intFlag } from '../parse.js';

const { stats: statsFlag, rank: rankFlag } = rankArgs;

const command = defineCommand({
  meta: {
    name: 'prune',
    description:
      "For every misclassified image of a dataset, turn off (zero) its k most salient filters, k = 1..K, and count how often the prediction becomes correct — against k random and k least-salient filters. The paper's pruning experiment.",
  },
  args: {
    ...modelArgs,
    ...dataArg,
    stats: statsFlag,
    rank: rankFlag,
    ...aggregationArg,
    k: { type: 'string', default: '10', description: 'Turn off up to K filters (k = 1..K)', valueHint: 'K' },
    seed: { type: 'string', default: '0', description: 'Seed of the random-filter control', valueHint: 'n' },
    batch: {
      type: 'string',
      default: '16',
      description: 'Images per saliency run (the masked forward passes run 4x as many rows at once)',
      valueHint: 'n',
    },
    out: {
      type: 'string',
      description: 'Folder for prune.csv, summary.json, summary.md, prune.png and run.json',
      valueHint: 'dir',
      required: true,
    },
    resume: {
      type: 'boolean',
      description: 'Keep the images already in OUT/prune.csv (same run.json) and do the rest',
    },
    ...runtimeArgs,
  },
  async run({ args }) {
    const t0 = performance.now();
    const aggregation = perUnit(args.aggregation as Aggregation, 'prune');
    const k = intFlag(args.k, 'k', 1)!;
    const seed = intFlag(args.seed, 'seed', 0)!;
    const batch = intFlag(args.batch, 'batch', 1)!;
    const limit = intFlag(args.limit, 'limit', 1);
    const rankBy = args.rank as RankBy;
    // Before anything long: the folder is ours alone (two runs would interleave prune.csv) and writable.
    await using _lock = await acquireLock(args.out, { label: 'pss prune' });
    await checkWritable(join(args.out, 'prune.csv'));
    const model = await loadModel(modelSpec(args));
    if (k > model.filterCount)
      throw new PssError(
        `--k must be between 1 and ${model.filterCount} (the filters of ${model.name}), got ${k}`,
      );
    const data = await openDataset(args.data, model, limit);
    const stats = await resolveStats(args.stats, model, aggregation);
    await using engine = new SaliencyEngine(model, engineOptions(args));
    const statistics = stats
      ? { file: stats.path, count: stats.stats.acc.count, dataset: stats.stats.meta.dataset }
      : null;
    const identity = {
      model: model.name,
      weightsHash: model.weightsHash(),
      dataset: data.description,
      aggregation,
      statistics: stats ? `${stats.path} (${stats.stats.acc.count} images)` : null,
      rank: rankBy,
      k,
      seed,
    };
    const bars = phases();
    let skipped = 0;
    const result = await runPrune(engine, data, {
      k,
      rankBy,
      seed,
      aggregation,
      stats: stats?.reference,
      batch,
      out: args.out,
      resume: args.resume,
      identity,
      onProgress: (phase, done, total) => bars.update(phase, done, total),
      onSkip: (id, reason) => {
        skipped++;
        console.error(`pss: skipped ${id}: ${reason}`);
      },
    });
    bars.stop();
    const p = result.predictions;
    const correct = p.indices.length - result.misclassified;
    const how = stats
      ? `z-scores against ${stats.stats.acc.count} images (${stats.path}), ranked by ${rankBy === 'abs-z' ? '|z|' : 'z'}`
      : `raw saliency (no statistics: give --stats), ranked by ${rankBy === 'abs-z' ? '|value|' : 'value'}`;
    const summary = {
      model: model.name,
      weights: model.source,
      dataset: data.description,
      images: p.indices.length,
      skipped,
      accuracy: p.indices.length ? correct / p.indices.length : 0,
      misclassified: result.misclassified,
      aggregation,
      standardized: stats !== undefined,
      statistics,
      rankBy,
      seed,
      resumed: result.resumed,
      seconds: seconds(t0),
      // per strategy, index k − 1: images corrected, their fraction, mean Δp(true), mean Δp(predicted)
      results: result.summary,
    };
    const title = `${model.name}: misclassified images corrected by zeroing k filters`;
    const md = [
      `# pss prune: ${model.name} on ${data.description}`,
      '',
      `${p.indices.length} images, ${result.misclassified} misclassified (accuracy ${(100 * summary.accuracy).toFixed(2)}%); saliency: ${aggregation}, ${how}; random seed ${seed}.`,
      '',
      pruneMarkdown(result.summary),
    ].join('\n');
    // The summary files go in together: never a summary.md of this run beside an older chart.
    await writeFilesAtomic(args.out, {
      'summary.json': JSON.stringify(summary, null, 1),
      'summary.md': md,
      ...(result.summary.images ? { 'prune.png': await pruneChartPng(result.summary, title) } : {}),
    });
    const resumed = result.resumed ? ` (${result.resumed} taken over from the earlier run)` : '';
    console.log(
      `${model.name}: ${p.indices.length} images, ${result.misclassified} misclassified${resumed}; saliency: ${how}`,
    );
    console.log('');
    console.log(pruneMarkdown(result.summary));
    console.log(
      `files in ${args.out}/: prune.csv, summary.json, summary.md${result.summary.images ? ', prune.png' : ''} (${summary.seconds} s)`,
    );
  },
});

export default Object.assign(command, {
  help: {
    notes: [
      'Per misclassified image, three orders of filters are turned off cumulatively: salient (largest z first, or largest |z| with --rank abs-z), least-salient (the same ranking from the other end) and random (seeded per image). Turning a filter off zeroes its conv output channel for that image alone — exactly what zeroing its weights and bias does — so all (image, strategy, k) variants run as rows of one batched forward pass. prune.csv has one row per image x strategy x k: whether the image became correct, the new prediction, and the change in the probability of the true and of the originally predicted class. It is written as images finish; after an interruption, rerun with --resume.',
    ],
    examples: [
      [
        'pss prune --data /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --out prune-fashion',
        'the bundled Fashion-MNIST model and its statistics over the 10,000 test images',
      ],
      [
        'pss prune --data /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --limit 1500 --rank abs-z --out prune-1500',
        "the first 1,500 images, ranked by |z| as in the authors' study",
      ],
      [
        'pss prune --model resnet50 --weights tv:resnet50 --stats resnet50-val.safetensors --data val.csv --out prune-r50 --resume',
        'an ImageNet model; continues an interrupted run',
      ],
    ],
  },
});
