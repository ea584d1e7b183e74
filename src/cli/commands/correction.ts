/** `pss correction`: Wang & Sato's correction protocol — one SGD step on the top-k units of each misclassified image. */
import { basename, join } from 'node:path';
import { defineCommand } from 'citty';
import { openDataset } from '../../data/open.js';
import { PssError } from '../../errors.js';
import { correctionChartPng, depthChartPng } from '../../figures/correction.js';
import { checkWritable, writeFilesAtomic } from '../../io/files.js';
import { CORRECTION_DEFAULTS, runCorrection } from '../../jobs/correction.js';
import {
  BOOTSTRAP,
  correctionCsv,
  correctionMarkdown,
  summarizeCorrection,
} from '../../jobs/correction-summary.js';
import { itemRange } from '../../jobs/profile.js';
import { loadModel } from '../../models/load.js';
import { SaliencyEngine } from '../../saliency/engine.js';
import { checkStatsTarget } from '../../stats/file.js';
import { resolveStats } from '../../stats/resolve.js';
import { withStandardization } from '../../stats/tails.js';
import {
  engineOptions,
  modelArgs,
  modelSpec,
  rankArgs,
  runtimeArgs,
  standardizeArgs,
  standardizeFlags,
} from '../args.js';
import { dataArg, phases, seconds } from '../experiments.js';
import { intFlag, numberFlag } from '../parse.js';

const command = defineCommand({
  meta: {
    name: 'correction',
    description:
      "Wang & Sato's correction protocol: for each misclassified image, one SGD step (on its true label's cross-entropy) on the weights of its top-k units only, k = 1..25 cumulatively, for units chosen by z, by POT, at random, and by z within the last stage; the change in the wrong and the true class's confidence and the share flipped, with bootstrap intervals; a table, figures, and where each order's units lie by layer.",
  },
  args: {
    ...modelArgs,
    ...dataArg,
    items: {
      type: 'string',
      description: 'Use items a..b-1 of the dataset (a:b), e.g. those the statistics did not see',
      valueHint: 'a:b',
    },
    stats: {
      ...rankArgs.stats,
      required: true,
      description: 'Validation statistics with tails (pss stats): both the z and the POT orders need them',
    },
    'pot-quantile': standardizeArgs['pot-quantile'],
    k: {
      type: 'string',
      default: String(CORRECTION_DEFAULTS.k),
      description: 'Units updated, up to',
      valueHint: 'K',
    },
    lr: {
      type: 'string',
      default: String(CORRECTION_DEFAULTS.lr),
      description: 'SGD learning rate',
      valueHint: 'x',
    },
    seed: {
      type: 'string',
      default: '0',
      description: 'Seed of the random order and of the bootstrap',
      valueHint: 'n',
    },
    resamples: {
      type: 'string',
      default: String(BOOTSTRAP.resamples),
      description: 'Bootstrap resamples for the intervals',
      valueHint: 'n',
    },
    batch: {
      type: 'string',
      default: '16',
      description: 'Images per forward run (the prediction pass)',
      valueHint: 'n',
    },
    'out-dir': {
      type: 'string',
      default: 'pss-correction',
      description: 'Folder for correction.json, correction.csv, summary.md, correction.png and depth.png',
      valueHint: 'dir',
    },
    ...runtimeArgs,
  },
  async run({ args }) {
    const t0 = performance.now();
    const k = intFlag(args.k, 'k', 1)!;
    const lr = numberFlag(args.lr, 'lr', 0)!;
    if (!(lr > 0)) throw new PssError(`--lr must be a number > 0, got "${args.lr}"`);
    const seed = intFlag(args.seed, 'seed', 0)!;
    const resamples = intFlag(args.resamples, 'resamples', 1)!;
    const batch = intFlag(args.batch, 'batch', 1)!;
    const { q } = standardizeFlags({ 'pot-quantile': args['pot-quantile'] });
    const dir = args['out-dir'];
    await checkWritable(join(dir, 'correction.json'));
    const model = await loadModel(modelSpec(args));
    const all = await openDataset(args.data, model, intFlag(args.limit, 'limit', 1));
    let data = all;
    let offset = 0;
    if (args.items !== undefined) {
      const m = /^(\d+):(\d+)$/.exec(args.items.trim());
      const [a, b] = m ? [Number(m[1]), Number(m[2])] : [Number.NaN, Number.NaN];
      if (!(a < b && b <= all.length))
        throw new PssError(
          `--items must be a:b with 0 <= a < b <= ${all.length} (the dataset's items), got "${args.items}"`,
        );
      data = itemRange(all, a, b);
      offset = a;
    }
    const plain = await resolveStats(args.stats, model, 'filter');
    checkStatsTarget(plain, 'true');
    const stats = withStandardization(plain, 'pot', q)!;
    await using engine = new SaliencyEngine(model, engineOptions(args));
    const bars = phases();
    const run = await runCorrection(engine, data, {
      reference: { ...stats.reference, pot: stats.reference.pot! },
      k,
      lr,
      seed,
      batch,
      offset,
      onProgress: (phase, done, total) => bars.update(phase, done, total),
      onSkip: (id, reason) => console.error(`pss: skipped ${id}: ${reason}`),
    });
    bars.stop();
    if (!run.misclassified)
      throw new PssError(`the model gets every one of the ${run.images} images right: nothing to correct`);
    const summary = summarizeCorrection(run, k, { resamples, seed });
    const names = run.layers.map((l) => l.name);
    const title = `${model.name} on ${basename(args.data)}${args.items ? ` [${args.items}]` : ''}`;
    const report = {
      model: model.name,
      weights: model.source,
      dataset: data.description,
      units: model.units,
      statistics: { file: stats.path, count: stats.stats.acc.count, dataset: stats.stats.meta.dataset },
      pot: { quantile: q },
      lr,
      seed,
      lastStage: run.lastStage,
      skipped: run.skipped.length,
      layers: run.layers,
      ...summary,
      seconds: seconds(t0),
    };
    const files: Record<string, string | Uint8Array> = {
      'correction.json': JSON.stringify(report, null, 1),
      'correction.csv': correctionCsv(run.rows),
      'summary.md': correctionMarkdown(summary, `pss correction: ${title}`, names),
      'correction.png': await correctionChartPng(
        summary,
        'Correction by one SGD step on the top-k units',
        title,
      ),
    };
    for (const d of summary.depth)
      files[`depth-top${d.k}.png`] = await depthChartPng(d, names, `Where the top ${d.k} units lie`, title);
    await writeFilesAtomic(dir, files);
    const at = (kk: number) => Math.min(kk, k) - 1;
    console.log(
      `${model.name}: ${run.misclassified} misclassified of ${run.images} images; lr ${lr}, k = 1..${k}`,
    );
    for (const c of summary.curves)
      console.log(
        `  ${c.strategy.padEnd(10)}  corrected at k = ${at(10) + 1}: ${(100 * c.corrected[at(10)].mean).toFixed(1)}%, at k = ${k}: ${(100 * c.corrected[k - 1].mean).toFixed(1)}%; mean Δp(true) at k = ${k}: ${(100 * c.dTrue[k - 1].mean).toFixed(2)} points`,
      );
    for (const d of summary.depth)
      console.log(
        `  top ${d.k}: total variation from the filters' spread over layers: z ${d.tvZ.toFixed(3)}, POT ${d.tvPot.toFixed(3)}`,
      );
    console.log(`files in ${dir}/: ${Object.keys(files).join(', ')} (${report.seconds} s)`);
  },
});

export default Object.assign(command, {
  help: {
    notes: [
      'Each step starts from the original weights: for k units, W[c] -= lr * dL/dW[c] for each of the k filters c (their biases and every other parameter stay), with L the cross-entropy of the true label; k = 1..K adds one unit at a time. The orders: z (largest first), POT (smallest tail probability first; --pot-quantile), random (seeded per image), and z among the last stage only (the layers sharing the last conv layer’s name up to its first part not common to all, e.g. ResNet’s layer4). The statistics should come from other images than the ones corrected (--items).',
    ],
    examples: [
      [
        'pss stats --data /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --shard 0/2 --out fm-half0.safetensors && pss correction --data /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --items 5000:10000 --stats fm-half0.safetensors',
        'the bundled Fashion-MNIST model: statistics on one half of the test set, the protocol on the other',
      ],
    ],
  },
});
