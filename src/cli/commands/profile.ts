/** `pss profile`: dataset-level saliency profiles — naive against standardised, correct against incorrect. */
import { basename, join } from 'node:path';
import { defineCommand } from 'citty';
import type { Dataset } from '../../data/dataset.js';
import { openDataset } from '../../data/open.js';
import { PssError } from '../../errors.js';
import { profileChartPng } from '../../figures/profile.js';
import { checkWritable, writeFilesAtomic } from '../../io/files.js';
import {
  datasetProfile,
  depthSpread,
  itemRange,
  PROFILE_GROUPS,
  type ProfileView,
} from '../../jobs/profile.js';
import { loadModel } from '../../models/load.js';
import { type Aggregation, perUnit } from '../../saliency/aggregation.js';
import { SaliencyEngine } from '../../saliency/engine.js';
import { checkStatsTarget } from '../../stats/file.js';
import { resolveStats } from '../../stats/resolve.js';
import { withStandardization } from '../../stats/tails.js';
import { aggregationArg, engineOptions, modelArgs, modelSpec, rankArgs, runtimeArgs } from '../args.js';
import { dataArg, phases, seconds } from '../experiments.js';
import { intFlag } from '../parse.js';

const command = defineCommand({
  meta: {
    name: 'profile',
    description:
      "Dataset-level saliency profiles (Wang & Sato 2023, Figure 1): each layer's average saliency over a dataset, raw against standardised (z, and POT's -log10 P when the statistics keep tails), for all images, the correct ones, and the incorrect ones with the true and with the predicted label as target — figures and JSON.",
  },
  args: {
    ...modelArgs,
    ...dataArg,
    stats: {
      ...rankArgs.stats,
      description: 'Validation statistics (pss stats, --target true): adds the z and POT views',
    },
    ...aggregationArg,
    'pot-quantile': {
      type: 'string',
      default: '0.85',
      description: 'The POT threshold quantile (POT is shown when the statistics keep tails)',
      valueHint: 'q',
    },
    items: {
      type: 'string',
      description:
        'Use items a..b-1 of the dataset (a:b), e.g. the half that the statistics did not see (pss stats --shard 0/2 takes the first)',
      valueHint: 'a:b',
    },
    batch: { type: 'string', default: '16', description: 'Images per saliency run', valueHint: 'n' },
    'out-dir': {
      type: 'string',
      default: 'pss-profile',
      description: 'Folder for profile.json, average.png and correct-incorrect.png',
      valueHint: 'dir',
    },
    ...runtimeArgs,
  },
  async run({ args }) {
    const t0 = performance.now();
    const aggregation = perUnit(args.aggregation as Aggregation, 'profile');
    const batch = intFlag(args.batch, 'batch', 1)!;
    const q = Number(args['pot-quantile']);
    if (!(q > 0 && q < 1))
      throw new PssError(`--pot-quantile must be a number in (0, 1), got "${args['pot-quantile']}"`);
    const dir = args['out-dir'];
    await checkWritable(join(dir, 'profile.json'));
    const model = await loadModel(modelSpec(args));
    const all = await openDataset(args.data, model, intFlag(args.limit, 'limit', 1));
    const data = args.items === undefined ? all : itemsArg(args.items, all);
    let stats = await resolveStats(args.stats, model, aggregation);
    // Both targets are standardised by the reference distribution: the true label's.
    checkStatsTarget(stats, 'true');
    if (stats?.stats.tails) stats = withStandardization(stats, 'pot', q);
    await using engine = new SaliencyEngine(model, engineOptions(args));
    const bars = phases();
    const p = await datasetProfile(engine, data, {
      aggregation,
      batch,
      reference: stats?.reference,
      onProgress: (phase, done, total) => bars.update(phase, done, total),
      onSkip: (id, reason) => console.error(`pss: skipped ${id}: ${reason}`),
    });
    bars.stop();
    if (p.images === 0)
      throw new PssError(`none of the ${data.length} images of ${data.description} could be read`);

    const vec = (v: ArrayLike<number> | undefined) => (v ? Array.from(v) : undefined);
    const spread = Object.fromEntries(
      p.views.map((v) => {
        const s = depthSpread(p.groups.all.layers[v]!);
        return [
          v,
          { min: s.min, max: s.max, minLayer: p.layers[s.argmin].name, maxLayer: p.layers[s.argmax].name },
        ];
      }),
    );
    const report = {
      model: model.name,
      weights: model.source,
      dataset: data.description,
      aggregation,
      units: model.units,
      images: p.images,
      correct: p.correct,
      skipped: p.skipped.length,
      views: p.views,
      statistics: stats
        ? { file: stats.path, count: stats.stats.acc.count, dataset: stats.stats.meta.dataset }
        : null,
      pot: stats?.reference.pot ? { quantile: q } : null,
      layers: p.layers,
      depth: spread,
      groups: Object.fromEntries(
        PROFILE_GROUPS.map((g) => {
          const x = p.groups[g];
          const per = (which: 'filters' | 'layers') =>
            Object.fromEntries(p.views.map((v: ProfileView) => [v, vec(x[which][v])]));
          return [g, { images: x.images, layers: per('layers'), filters: per('filters') }];
        }),
      ),
      seconds: seconds(t0),
    };
    const title = `${model.name} on ${basename(args.data)}${args.items ? ` [${args.items}]` : ''}`;
    await writeFilesAtomic(dir, {
      'profile.json': JSON.stringify(report, null, 1),
      'average.png': await profileChartPng(
        p,
        'Average saliency profile, naive and standardised',
        ['all'],
        title,
      ),
      'correct-incorrect.png': await profileChartPng(
        p,
        'Correct and incorrect images, true and predicted label as target',
        ['correct', 'incorrect (true label)', 'incorrect (predicted label)'],
        title,
      ),
    });
    console.log(
      `${model.name}: ${p.images} images, ${p.correct} correct, ${p.images - p.correct} incorrect; views ${p.views.join(', ')}${stats ? '' : ' (give --stats for z and POT)'}`,
    );
    for (const v of p.views) {
      const s = spread[v];
      console.log(
        `  ${v.padEnd(3)}  layer means from ${fmt(s.min)} (${s.minLayer}) to ${fmt(s.max)} (${s.maxLayer})`,
      );
    }
    console.log(`files in ${dir}/: profile.json, average.png, correct-incorrect.png (${report.seconds} s)`);
  },
});

function itemsArg(text: string, data: Dataset): Dataset {
  const m = /^(\d+):(\d+)$/.exec(text.trim());
  const [a, b] = m ? [Number(m[1]), Number(m[2])] : [Number.NaN, Number.NaN];
  if (!(a < b && b <= data.length))
    throw new PssError(
      `--items must be a:b with 0 <= a < b <= ${data.length} (the dataset's items), got "${text}"`,
    );
  return itemRange(data, a, b);
}

const fmt = (v: number) => (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? v.toFixed(4) : v.toExponential(3));

export default Object.assign(command, {
  help: {
    notes: [
      'The saliency of every image is computed with its true label as the target; that of each misclassified image a second time with the predicted class as the target (for a correct image the two are the same). Each view is averaged over images, then over each layer’s filters; profile.json also has the per-filter means. With --stats, z uses the statistics’ mean and std for both targets; POT (-log10 P, capped at 400) needs statistics with tails (pss stats keeps them).',
    ],
    examples: [
      [
        'pss profile --data /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --stats fm-val.safetensors',
        'the bundled Fashion-MNIST model over its test set: raw, z and POT profiles',
      ],
    ],
  },
});
