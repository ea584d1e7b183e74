/** `pss prune`: does turning off the most salient filters fix misclassifications? (paper §4) */
import { join } from 'node:path';
import { defineCommand } from 'citty';
import { openDataset } from '../../data/open.js';
import { PssError } from '../../errors.js';
import { pruneChartPng } from '../../figures/experiments.js';
import { classNamesFor } from '../../image/labels.js';
import { checkWritable, writeFilesAtomic } from '../../io/files.js';
import { acquireLock } from '../../io/lock.js';
import { PRUNE_SHARDS, shardName } from '../../io/shards.js';
import { runPrune } from '../../jobs/prune.js';
import { mergePruneShards } from '../../jobs/prune-merge.js';
import {
  PRUNE_FILES,
  type PruneReport,
  pruneHow,
  pruneMarkdown,
  pruneReportMarkdown,
} from '../../jobs/prune-summary.js';
import { loadModel } from '../../models/load.js';
import { DEFAULT_UNIT_SET } from '../../models/units.js';
import { defaultBatch } from '../../runtime/batch.js';
import { type Aggregation, perUnit } from '../../saliency/aggregation.js';
import { SaliencyEngine } from '../../saliency/engine.js';
import type { RankBy } from '../../saliency/rank.js';
import { standardizationOf } from '../../saliency/standardize.js';
import { targetText } from '../../saliency/target.js';
import { unitsName } from '../../saliency/units.js';
import { statsForTarget } from '../../stats/file.js';
import { resolveStats } from '../../stats/resolve.js';
import { withStandardization } from '../../stats/tails.js';
import {
  aggregationArg,
  engineOptions,
  modelArgs,
  modelSpec,
  rankArgs,
  runtimeArgs,
  standardizeArgs,
  standardizeFlags,
  targetArg,
  targetFlag,
} from '../args.js';
import { dataArg, phases, seconds } from '../experiments.js';
import { intFlag } from '../parse.js';
import { outputPath, resolveShard, shardArgs, shardText } from '../shard.js';

const { stats: statsFlag, rank: rankFlag } = rankArgs;

/** summary.json, summary.md and the chart go in together (and, for a merge, prune.csv and run.json). */
async function writeReport(
  out: string,
  report: PruneReport,
  more: Record<string, string> = {},
): Promise<void> {
  const title = `${report.model}: misclassified images corrected by zeroing k filters`;
  await writeFilesAtomic(out, {
    ...more,
    [PRUNE_FILES.markdown]: pruneReportMarkdown(report),
    ...(report.results.images ? { [PRUNE_FILES.chart]: await pruneChartPng(report.results, title) } : {}),
    // Last: a folder with summary.json is a finished one.
    [PRUNE_FILES.summary]: JSON.stringify(report, null, 1),
  });
}

const merge = defineCommand({
  meta: {
    name: 'merge',
    description:
      'Merge the shards of a split pruning run (pss prune --shard ... --out-dir DIR) into the folder one run over the whole dataset writes; every shard 0..n-1 must be there once, finished, and of the same run.',
  },
  args: {
    out: {
      type: 'string',
      description: 'Folder for the merged prune.csv, run.json, summary.json, summary.md and prune.png',
      valueHint: 'dir',
      required: true,
    },
  },
  async run({ args }) {
    const dirs = args._ as string[];
    if (dirs.length !== 1)
      throw new PssError(
        `give the one shard directory to merge (got ${dirs.length} operands): pss prune merge shards/ --out prune-all`,
      );
    await using _lock = await acquireLock(args.out, { label: 'pss prune merge' });
    const m = await mergePruneShards(dirs[0]);
    await checkWritable(join(args.out, PRUNE_FILES.summary));
    await writeReport(args.out, m.report, {
      [PRUNE_FILES.csv]: m.csv,
      [PRUNE_FILES.run]: JSON.stringify(m.identity, null, 1),
    });
    console.log(
      `merged the ${m.shards} shards in ${dirs[0]}: ${m.report.images} images, ${m.report.misclassified} misclassified; saliency: ${pruneHow(m.report)}`,
    );
    console.log('');
    console.log(pruneMarkdown(m.report.results));
    console.log(`files in ${args.out}/: ${Object.values(PRUNE_FILES).join(', ')}`);
  },
});

const PRUNE_BATCH = 16;

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
    ...standardizeArgs,
    ...targetArg,
    ...aggregationArg,
    k: { type: 'string', default: '10', description: 'Turn off up to K filters (k = 1..K)', valueHint: 'K' },
    seed: { type: 'string', default: '0', description: 'Seed of the random-filter control', valueHint: 'n' },
    batch: {
      type: 'string',
      description: `Images per saliency run (default: ${PRUNE_BATCH}; on --device webgpu, ${defaultBatch('saliency', 'webgpu', PRUNE_BATCH)} at 224x224 and more for smaller inputs); the masked forward passes run 4x as many rows at once`,
      valueHint: 'n',
    },
    out: {
      type: 'string',
      description:
        'Folder for prune.csv, summary.json, summary.md, prune.png and run.json; or --out-dir for a shard',
      valueHint: 'dir',
    },
    ...shardArgs,
    'out-dir': {
      type: 'string',
      description: `With --shard: the folder of all shards, this one's results in a folder named by its index (${shardName(PRUNE_SHARDS, [3, 16])}/); pss prune merge DIR merges them`,
      valueHint: 'dir',
    },
    resume: {
      type: 'boolean',
      description: 'Keep the images already in OUT/prune.csv (same run.json) and do the rest',
    },
    ...runtimeArgs,
  },
  subCommands: { merge },
  async run({ args }) {
    const t0 = performance.now();
    const aggregation = perUnit(args.aggregation as Aggregation, 'prune');
    const k = intFlag(args.k, 'k', 1)!;
    const seed = intFlag(args.seed, 'seed', 0)!;
    const batch = intFlag(args.batch, 'batch', 1);
    const limit = intFlag(args.limit, 'limit', 1);
    const rankBy = args.rank as RankBy;
    const shard = resolveShard(args.shard, args.shards);
    const out = outputPath(args, shard, PRUNE_SHARDS, 'DIR');
    // Before anything long: the folder is ours alone (two runs would interleave prune.csv) and writable.
    await using _lock = await acquireLock(out, { label: 'pss prune', task: shard?.task });
    await checkWritable(join(out, PRUNE_FILES.csv));
    if (shard?.from) console.error(`pss prune: shard ${shardText(shard)} (${shard.from}) -> ${out}`);
    const model = await loadModel(modelSpec(args));
    if (k > model.unitCount)
      throw new PssError(
        `--k must be between 1 and ${model.unitCount} (the ${unitsName(model.layers)} of ${model.name}), got ${k}`,
      );
    const data = await openDataset(args.data, model, limit);
    const standardize = standardizeFlags(args);
    const target = targetFlag(args.target, model, classNamesFor(model.numClasses, model.arch.classNames));
    const stats = withStandardization(
      statsForTarget(
        await resolveStats(args.stats, model, aggregation),
        targetText(target),
        args.stats !== undefined,
      ),
      standardize.method,
      standardize.q,
    );
    const pot = stats?.reference.pot;
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
      ...(pot && { standardize: `pot q=${pot.q}` }),
      // Only when not the default, so that run.json of earlier runs still resumes.
      ...(target !== 'true' && { target: targetText(target) }),
      ...(model.units !== DEFAULT_UNIT_SET && { units: model.units }),
      rank: rankBy,
      k,
      seed,
      ...(shard ? { shard: shardText(shard) } : {}),
    };
    const bars = phases();
    let skipped = 0;
    const result = await runPrune(engine, data, {
      k,
      rankBy,
      seed,
      aggregation,
      stats: stats?.reference,
      batch: batch ?? defaultBatch('saliency', args.device, PRUNE_BATCH, model.arch.inputShape),
      out,
      shard: shard && [shard.index, shard.count],
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
    const report: PruneReport = {
      model: model.name,
      weights: model.source,
      dataset: data.description,
      images: p.indices.length,
      skipped,
      accuracy: p.indices.length ? (p.indices.length - result.misclassified) / p.indices.length : 0,
      misclassified: result.misclassified,
      aggregation,
      standardized: stats !== undefined,
      standardization: standardizationOf(stats?.reference),
      target: targetText(target),
      pot: pot ? { quantile: pot.q } : null,
      statistics,
      rankBy,
      seed,
      resumed: result.resumed,
      seconds: seconds(t0),
      ...(shard ? { shard: shardText(shard), items: result.items } : {}),
      results: result.summary,
    };
    await writeReport(out, report);
    const resumed = result.resumed ? ` (${result.resumed} taken over from the earlier run)` : '';
    console.log(
      `${model.name}: ${p.indices.length} images, ${result.misclassified} misclassified${resumed}; saliency: ${pruneHow(report)}`,
    );
    console.log('');
    console.log(pruneMarkdown(result.summary));
    console.log(
      `files in ${out}/: prune.csv, summary.json, summary.md${result.summary.images ? ', prune.png' : ''} (${report.seconds} s)`,
    );
  },
});

Object.assign(merge, {
  help: {
    operands: '<dir>',
    notes: [
      `DIR is the --out-dir of a sharded run: ${shardName(PRUNE_SHARDS, [0, 4])}/ ... ${shardName(PRUNE_SHARDS, [3, 4])}/. A missing, unfinished (no summary.json), duplicated or foreign shard (another model, weights, data, statistics, k, seed or ranking) is refused in one line. The merged prune.csv has the rows one run over the whole dataset writes, in its order, and the summary is computed from them.`,
    ],
    examples: [
      [
        'pss prune merge shards/ --out prune-all',
        'the shards a Kubernetes Indexed Job or Slurm array wrote into shards/',
      ],
    ],
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
