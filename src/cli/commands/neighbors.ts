/** `pss neighbors`: the images whose saliency profiles are closest to one image's. */
import { join } from 'node:path';
import { defineCommand } from 'citty';
import { imageGrid } from '../../figures/experiments.js';
import { displayFromTensor } from '../../image/display.js';
import { checkWritable, writeFilesAtomic } from '../../io/files.js';
import { candidateProfiles, nearestNeighbors, queryProfile, topSet } from '../../jobs/neighbors.js';
import { type Aggregation, perUnit } from '../../saliency/aggregation.js';
import { SaliencyEngine } from '../../saliency/engine.js';
import { softmax } from '../../saliency/report.js';
import { standardizationOf } from '../../saliency/standardize.js';
import { targetText } from '../../saliency/target.js';
import { statsForTarget } from '../../stats/file.js';
import { withStandardization } from '../../stats/tails.js';
import {
  aggregationArg,
  engineOptions,
  imageArgs,
  modelArgs,
  rankArgs,
  runtimeArgs,
  standardizeArgs,
  standardizeFlags,
  targetArg,
  targetFlag,
} from '../args.js';
import { dataArg, phases, queryContext, seconds } from '../experiments.js';
import { intFlag } from '../parse.js';

export const queryArgs = {
  ...imageArgs,
  index: {
    type: 'string',
    description: 'Use image i of --data (with its label) instead of --image/--input',
    valueHint: 'i',
  },
  label: { ...imageArgs.label, required: false },
} as const;

const command = defineCommand({
  meta: {
    name: 'neighbors',
    description:
      "The images of a dataset whose standardised saliency profiles are closest (cosine) to one image's — among the misclassified images by default — as a captioned grid and JSON. Images that go wrong alike have similar profiles.",
  },
  args: {
    ...modelArgs,
    ...dataArg,
    ...queryArgs,
    stats: rankArgs.stats,
    ...targetArg,
    ...standardizeArgs,
    ...aggregationArg,
    n: { type: 'string', default: '8', description: 'How many neighbours', valueHint: 'n' },
    all: { type: 'boolean', description: 'Search every image, not only the misclassified ones' },
    top: {
      type: 'string',
      default: '10',
      description: 'Count how many of the query’s top-k filters (by z) each neighbour shares',
      valueHint: 'k',
    },
    batch: { type: 'string', default: '16', description: 'Images per saliency run', valueHint: 'n' },
    'out-dir': {
      type: 'string',
      default: 'pss-neighbors',
      description: 'Folder for neighbors.json and neighbors.png',
      valueHint: 'dir',
    },
    ...runtimeArgs,
  },
  async run({ args }) {
    const t0 = performance.now();
    const aggregation = perUnit(args.aggregation as Aggregation, 'neighbors');
    const n = intFlag(args.n, 'n', 1)!;
    const top = intFlag(args.top, 'top', 1)!;
    const batch = intFlag(args.batch, 'batch', 1)!;
    const how = standardizeFlags(args);
    const { model, names, data, query, stats: plain } = await queryContext(args, aggregation);
    await checkWritable(join(args['out-dir'], 'neighbors.json'));
    const target = targetFlag(args.target, model, names);
    const stats = withStandardization(
      statsForTarget(plain, targetText(target), args.stats !== undefined),
      how.method,
      how.q,
    );
    const st = stats?.reference;
    await using engine = new SaliencyEngine(model, engineOptions(args));
    const q = await queryProfile(engine, query.batch, query.label, { aggregation, stats: st, target });
    const bars = phases();
    const cands = await candidateProfiles(engine, data, {
      aggregation,
      stats: st,
      target,
      batch,
      all: args.all,
      onProgress: (phase, done, total) => bars.update(phase, done, total),
      onSkip: (id, reason) => console.error(`pss: skipped ${id}: ${reason}`),
    });
    bars.stop();
    const found = await nearestNeighbors(
      data,
      { z: q.z, x: query.batch.data, index: query.index },
      cands.profiles,
      n,
    );
    const name = (c: number) => names?.[c] ?? `class ${c}`;
    const qTop = topSet(q.z, top);
    const pair = (label: number, predicted: number) => `${label}>${predicted}`;
    const queryPair = pair(q.label, q.predicted);
    const samePair = found.filter((f) => pair(f.profile.label, f.profile.predicted) === queryPair).length;
    const baseRate = cands.profiles.length
      ? cands.profiles.filter((p) => pair(p.label, p.predicted) === queryPair).length / cands.profiles.length
      : 0;
    const probs = softmax(q.logits);
    const report = {
      model: model.name,
      dataset: data.description,
      aggregation,
      units: model.units,
      standardized: stats !== undefined,
      target: targetText(target),
      standardization: standardizationOf(st),
      pot: st?.pot ? { quantile: st.pot.q } : null,
      statistics: stats ? { file: stats.path, count: stats.stats.acc.count } : null,
      searched: args.all ? 'all' : 'misclassified',
      candidates: cands.profiles.length,
      query: {
        image: query.name,
        index: query.index ?? null,
        label: q.label,
        labelName: names?.[q.label],
        predicted: q.predicted,
        predictedName: names?.[q.predicted],
        probability: probs[q.predicted],
      },
      top,
      neighbors: found.map((f) => ({
        index: f.profile.index,
        id: f.profile.id,
        label: f.profile.label,
        labelName: names?.[f.profile.label],
        predicted: f.profile.predicted,
        predictedName: names?.[f.profile.predicted],
        cosine: f.cosine,
        sharedTop: [...topSet(f.profile.z, top)].filter((i) => qTop.has(i)).length,
      })),
      // neighbours with the query's (true, predicted) pair, and that pair's share among all candidates
      sameConfusion: { neighbors: samePair, of: found.length, baseRate },
      seconds: seconds(t0),
    };
    const verdict = (label: number, predicted: number) =>
      label === predicted ? `${name(label)} (correct)` : `${name(label)} → ${name(predicted)}`;
    const cells = [
      {
        image: query.display,
        title: 'query',
        caption: verdict(q.label, q.predicted),
        frame: '#d62728',
      },
      ...found.map((f, i) => ({
        image: displayFromTensor(f.x, [1, ...model.arch.inputShape], model.arch.preprocessing),
        title: `#${i + 1}  cos ${f.cosine.toFixed(3)}`,
        caption: verdict(f.profile.label, f.profile.predicted),
      })),
    ];
    const dir = args['out-dir'];
    await writeFilesAtomic(dir, {
      'neighbors.json': JSON.stringify(report, null, 1),
      'neighbors.png': await imageGrid(cells, { columns: Math.min(5, cells.length) }),
    });

    const what = st?.pot
      ? `POT scores (-log10 P, q = ${st.pot.q}) against ${stats!.stats.acc.count} images`
      : stats
        ? `z-scores against ${stats.stats.acc.count} images`
        : 'raw saliency (no statistics)';
    console.log(
      `${model.name}: query ${query.name}: ${verdict(q.label, q.predicted)}; ${found.length} nearest of ${cands.profiles.length} ${report.searched} images by cosine of ${what}:`,
    );
    const w = Math.max(2, ...found.map((f) => String(f.profile.index).length));
    for (const [i, f] of report.neighbors.entries())
      console.log(
        `  ${String(i + 1).padStart(2)}  #${String(f.index).padEnd(w)}  cos ${f.cosine.toFixed(3)}  shares ${f.sharedTop}/${top} top filters  ${verdict(f.label, f.predicted)}`,
      );
    if (q.label !== q.predicted)
      console.log(
        `${samePair}/${found.length} neighbours share the query's confusion ${verdict(q.label, q.predicted)} (${(100 * baseRate).toFixed(1)}% of the candidates do)`,
      );
    console.log(`files in ${dir}/: neighbors.json, neighbors.png (${report.seconds} s)`);
  },
});

export default Object.assign(command, {
  help: {
    notes: [
      'The profiles are the standardised filter saliency z (with --stats, or the bundled statistics of the default model), each w.r.t. the image’s own true label. The query itself is left out (by --index, or when a dataset image has its pixels).',
    ],
    examples: [
      [
        'pss neighbors --data /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz',
        'neighbours of the bundled default example (a shirt taken for a T-shirt) among the misclassified test images',
      ],
      [
        'pss neighbors --data /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --index 817 --n 12 --all',
        'test image 817, among all 10,000 test images',
      ],
    ],
  },
});
