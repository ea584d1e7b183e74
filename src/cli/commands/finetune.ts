/** `pss finetune`: fine-tune only the most salient filters on one misclassified image (paper §4). */
import { defineCommand } from 'citty';
import { PssError } from '../../errors.js';
import { checkWritable, writeFileAtomic } from '../../io/files.js';
import { serializeSafeTensors } from '../../io/safetensors.js';
import { finetuneFilters, tunedRunner, withParams } from '../../jobs/finetune.js';
import { candidateProfiles, nearestNeighbors, queryProfile } from '../../jobs/neighbors.js';
import { predictDataset } from '../../jobs/scan.js';
import { type Aggregation, perUnit } from '../../saliency/aggregation.js';
import { SaliencyEngine } from '../../saliency/engine.js';
import { type RankBy, topK } from '../../saliency/rank.js';
import { standardizationOf } from '../../saliency/standardize.js';
import { targetText } from '../../saliency/target.js';
import { parseUnits, unitsName } from '../../saliency/units.js';
import { statsForTarget } from '../../stats/file.js';
import { withStandardization } from '../../stats/tails.js';
import { seededRandom } from '../../util/random.js';
import {
  aggregationArg,
  engineOptions,
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
import { queryArgs } from './neighbors.js';

export const FINETUNE_DEFAULTS = { k: 10, steps: 10, lr: 0.01, neighbors: 10 } as const;

const command = defineCommand({
  meta: {
    name: 'finetune',
    description:
      'Fine-tune only the k most salient filters of one misclassified image on that image (plain SGD on its cross-entropy), then see whether it is corrected, whether its nearest misclassified images in saliency space are corrected more often than random misclassified images, and what happens to the accuracy on --data.',
  },
  args: {
    ...modelArgs,
    ...dataArg,
    ...queryArgs,
    stats: rankArgs.stats,
    ...targetArg,
    ...standardizeArgs,
    rank: rankArgs.rank,
    ...aggregationArg,
    k: {
      type: 'string',
      default: String(FINETUNE_DEFAULTS.k),
      description: 'How many of the most salient filters to update',
      valueHint: 'n',
    },
    steps: {
      type: 'string',
      default: String(FINETUNE_DEFAULTS.steps),
      description: 'SGD steps',
      valueHint: 'n',
    },
    lr: {
      type: 'string',
      default: String(FINETUNE_DEFAULTS.lr),
      description: 'Learning rate (plain SGD, no momentum or weight decay)',
      valueHint: 'x',
    },
    neighbors: {
      type: 'string',
      default: String(FINETUNE_DEFAULTS.neighbors),
      description: 'How many saliency neighbours (and random misclassified images) to check',
      valueHint: 'n',
    },
    'until-correct': {
      type: 'boolean',
      description: 'Stop as soon as the image is classified correctly (--steps is then the most)',
    },
    random: { type: 'boolean', description: 'Update k random filters instead (a control)' },
    filters: {
      type: 'string',
      description:
        'Update these units instead of the top k, e.g. conv5:29,conv1:4 (filters), fc:5 (a neuron with --units filters+neurons); a unit named twice counts once',
      valueHint: 'layer:i,...',
    },
    seed: {
      type: 'string',
      default: '0',
      description: 'Seed for the random misclassified images (and --random filters)',
      valueHint: 'n',
    },
    batch: { type: 'string', default: '16', description: 'Images per saliency run', valueHint: 'n' },
    json: {
      type: 'string',
      description: "Write the full result as JSON to this file ('-' for stdout)",
      valueHint: 'file',
    },
    save: {
      type: 'string',
      description: 'Write the fine-tuned weights (all parameters) to this .safetensors file',
      valueHint: 'file',
    },
    ...runtimeArgs,
  },
  async run({ args }) {
    const t0 = performance.now();
    const aggregation = perUnit(args.aggregation as Aggregation, 'finetune');
    const k = intFlag(args.k, 'k', 1)!;
    const steps = intFlag(args.steps, 'steps', 0)!;
    const lr = Number(args.lr);
    if (!(lr > 0 && Number.isFinite(lr))) throw new PssError(`--lr must be a number > 0, got "${args.lr}"`);
    const nNeighbors = intFlag(args.neighbors, 'neighbors', 0)!;
    const seed = intFlag(args.seed, 'seed', 0)!;
    const batch = intFlag(args.batch, 'batch', 1)!;
    const how = standardizeFlags(args);
    const {
      model,
      names,
      data,
      query,
      stats: plain,
    } = await queryContext(args, aggregation, (m) => {
      if (k > m.unitCount)
        throw new PssError(
          `--k must be between 1 and ${m.unitCount} (the ${unitsName(m.layers)} of ${m.name}), got ${k}`,
        );
      if (args.filters !== undefined && parseUnits(args.filters, m) && args.random)
        throw new PssError('--filters and --random are alternatives: give only one');
    });
    // Outputs are written at the end of a long run: find out now if they cannot be.
    for (const out of [args.save, args.json]) if (out && out !== '-') await checkWritable(out);
    const chosen = args.filters === undefined ? undefined : parseUnits(args.filters, model);
    const target = targetFlag(args.target, model, names);
    const stats = withStandardization(
      statsForTarget(plain, targetText(target), args.stats !== undefined),
      how.method,
      how.q,
    );
    const st = stats?.reference;
    await using engine = new SaliencyEngine(model, engineOptions(args));
    const rand = seededRandom(seed);

    // Before: the query's profile, the misclassified images and their profiles, the neighbours.
    const q = await queryProfile(engine, query.batch, query.label, { aggregation, stats: st, target });
    const bars = phases();
    const onProgress = (phase: string, done: number, total: number) => bars.update(phase, done, total);
    const onSkip = (id: string, reason: string) => console.error(`pss: skipped ${id}: ${reason}`);
    const cands = await candidateProfiles(engine, data, {
      aggregation,
      stats: st,
      target,
      batch,
      onProgress,
      onSkip,
    });
    bars.stop();
    const before = cands.predictions!;
    const found = await nearestNeighbors(
      data,
      { z: q.z, x: query.batch.data, index: query.index },
      cands.profiles,
      nNeighbors,
    );
    const taken = new Set([
      ...found.map((f) => f.profile.index),
      ...(query.index === undefined ? [] : [query.index]),
    ]);
    const pool = cands.profiles.filter((p) => !taken.has(p.index));
    const randomImages = rand.sample(pool.length, nNeighbors).map((i) => pool[i]);
    const filters = chosen
      ? chosen
      : args.random
        ? rand.sample(model.unitCount, k)
        : topK(q.z, k, args.rank as RankBy);

    // Fine-tune, then evaluate everything with the new weights.
    const tuned = await finetuneFilters(engine, query.batch, query.label, filters, {
      steps,
      lr,
      untilCorrect: args['until-correct'],
    });
    const runner = tunedRunner(engine, [...tuned.params.keys()], 4 * batch);
    const after = await predictDataset(model, data, (x) => runner.logits(x, { params: tuned.params }), {
      batch: 4 * batch,
      onProgress: (d, t) => bars.update('after', d, t),
    });
    bars.stop();
    const pos = new Map(after.indices.map((index, i) => [index, i]));
    const correctAfter = (index: number) => {
      const i = pos.get(index);
      return i !== undefined && after.predicted[i] === after.labels[i];
    };
    const predictedAfter = (index: number) => after.predicted[pos.get(index)!];
    const accuracy = (p: typeof before) =>
      p.indices.length ? p.predicted.filter((c, i) => c === p.labels[i]).length / p.indices.length : 0;
    const wrongBefore = new Set(cands.profiles.map((p) => p.index));
    const correctBefore = before.indices.filter((index) => !wrongBefore.has(index));
    const first = tuned.history[0];
    const last = tuned.history[tuned.history.length - 1];
    const name = (c: number) => names?.[c] ?? `class ${c}`;
    const image = (p: { index: number; id: string; label: number; predicted: number }, extra = {}) => ({
      index: p.index,
      id: p.id,
      label: p.label,
      predicted: p.predicted,
      predictedAfter: predictedAfter(p.index),
      correctedAfter: correctAfter(p.index),
      ...extra,
    });
    const neighbours = found.map((f) => image(f.profile, { cosine: f.cosine }));
    const randoms = randomImages.map((p) => image(p));
    const count = (xs: { correctedAfter: boolean }[]) => xs.filter((x) => x.correctedAfter).length;
    const report = {
      model: model.name,
      weights: model.source,
      dataset: data.description,
      aggregation,
      units: model.units,
      standardized: stats !== undefined,
      target: targetText(target),
      standardization: standardizationOf(st),
      pot: st?.pot ? { quantile: st.pot.q } : null,
      statistics: stats ? { file: stats.path, count: stats.stats.acc.count } : null,
      image: query.name,
      index: query.index ?? null,
      label: query.label,
      labelName: names?.[query.label],
      predicted: first.predicted,
      predictedName: names?.[first.predicted],
      chosen: chosen
        ? 'given'
        : args.random
          ? `${k} random`
          : `top ${k} (by ${st?.pot ? `POT P, q = ${st.pot.q}` : args.rank === 'abs-z' ? '|z|' : 'z'})`,
      filters: tuned.filters.map((f) => ({ ...f, z: q.z[f.index] })),
      steps: tuned.history.length - 1,
      maxSteps: steps,
      lr,
      history: tuned.history,
      // "corrected" only for an image that was wrong to begin with.
      wasCorrect: first.predicted === query.label,
      corrected: first.predicted !== query.label && last.predicted === query.label,
      predictedAfter: last.predicted,
      neighbors: { corrected: count(neighbours), of: neighbours.length, images: neighbours },
      random: { corrected: count(randoms), of: randoms.length, seed, images: randoms },
      misclassified: {
        before: wrongBefore.size,
        correctedAfter: [...wrongBefore].filter(correctAfter).length,
      },
      correct: {
        before: correctBefore.length,
        brokenAfter: correctBefore.filter((i) => !correctAfter(i)).length,
      },
      accuracy: { before: accuracy(before), after: accuracy(after), images: after.indices.length },
      seconds: seconds(t0),
    };
    if (args.save) {
      const m = withParams(model, tuned.params, `${model.source} fine-tuned on ${query.name}`);
      const tensors = Object.fromEntries(
        m.params.map((p) => [
          p.name,
          { dtype: 'F32' as const, shape: p.shape, data: m.weights.get(p.name)! },
        ]),
      );
      await writeFileAtomic(
        args.save,
        serializeSafeTensors(tensors, {
          finetuned: `${query.name}; ${report.chosen}; ${report.steps} steps, lr ${lr}`,
        }),
      );
    }
    if (args.json === '-') {
      process.stdout.write(`${JSON.stringify(report)}\n`);
      return;
    }
    if (args.json) await writeFileAtomic(args.json, JSON.stringify(report, null, 1));
    const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
    const list = tuned.filters.map((f) => `${f.layer}:${f.filter}`).join(', ');
    console.log(
      `${model.name}: ${query.name}, true ${name(query.label)}, predicted ${name(first.predicted)}${first.predicted === query.label ? ' (already correct)' : ''}`,
    );
    console.log(
      `fine-tuned the ${report.chosen} filters (${list}) for ${report.steps} steps of SGD, lr ${lr}${args['until-correct'] ? ' (until correct)' : ''}`,
    );
    console.log(
      `  loss ${first.loss.toFixed(4)} -> ${last.loss.toFixed(4)}; p(true) ${first.pTrue.toFixed(3)} -> ${last.pTrue.toFixed(3)}; now predicted ${name(last.predicted)}: ${report.wasCorrect ? (last.predicted === query.label ? 'still correct (it was not misclassified)' : 'now WRONG (it was correct before)') : report.corrected ? 'CORRECTED' : 'not corrected'}`,
    );
    console.log(
      `  saliency neighbours corrected: ${report.neighbors.corrected}/${report.neighbors.of} (nearest misclassified images by cosine of ${st?.pot ? '-log10 P (POT)' : stats ? 'z' : 'raw saliency'})`,
    );
    console.log(
      `  random misclassified corrected: ${report.random.corrected}/${report.random.of} (seed ${seed})`,
    );
    console.log(
      `  all misclassified corrected: ${report.misclassified.correctedAfter}/${report.misclassified.before}; correct images now wrong: ${report.correct.brokenAfter}/${report.correct.before}`,
    );
    console.log(
      `  accuracy on ${after.indices.length} images: ${pct(report.accuracy.before)} -> ${pct(report.accuracy.after)} (${report.seconds} s)`,
    );
    if (args.json) console.log(`Full result: ${args.json}`);
    if (args.save) console.log(`Fine-tuned weights: ${args.save}`);
  },
});

export default Object.assign(command, {
  help: {
    notes: [
      'Only the weight slices W[c, :, :, :] of the chosen filters change (their biases and every other parameter stay), by plain SGD on the cross-entropy of the one image with its true label; the gradients come from pss’s own graph, in which the layers holding those filters are inputs, so one ONNX Runtime session serves every step. The neighbours are the misclassified images of --data whose z profiles (before fine-tuning) are closest by cosine; as many random misclassified images are the control.',
    ],
    examples: [
      [
        'pss finetune --data /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz',
        'the bundled default example (a shirt taken for a T-shirt), checked on the 10,000 test images',
      ],
      [
        'pss finetune --data /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --index 817 --random --json ft.json',
        'test image 817, updating 10 random filters instead (the control)',
      ],
    ],
  },
});
