/** `pss explain`: the filter profile, the input-space map and Grad-CAM of one image, as files and a summary. */
import { basename } from 'node:path';
import { defineCommand } from 'citty';
import { PssError } from '../../errors.js';
import { explainImage } from '../../figures/explain-result.js';
import { filterSaliencyData, filterSaliencyPng, layerSummaryPng } from '../../figures/filter-saliency.js';
import { comparisonFigure } from '../../figures/gradcam.js';
import { encodePng } from '../../figures/heatmap.js';
import { reportHtml } from '../../figures/report-html.js';
import { classNamesFor } from '../../image/labels.js';
import { writeFilesAtomic } from '../../io/files.js';
import { serializeNpy } from '../../io/npy.js';
import { withExampleDefaults } from '../../models/examples.js';
import { loadModel } from '../../models/load.js';
import { defaultBatch } from '../../runtime/batch.js';
import { type Aggregation, perUnit } from '../../saliency/aggregation.js';
import { SaliencyEngine } from '../../saliency/engine.js';
import { EXPLAIN_DEFAULTS } from '../../saliency/explain.js';
import type { RankBy } from '../../saliency/rank.js';
import { targetText } from '../../saliency/target.js';
import { parseUnits, unitsName } from '../../saliency/units.js';
import { statsForTarget } from '../../stats/file.js';
import { checkInputSize, resolveStats } from '../../stats/resolve.js';
import { withStandardization } from '../../stats/tails.js';
import {
  aggregationArg,
  engineOptions,
  imageArgs,
  modelArgs,
  modelSpec,
  rankArgs,
  runtimeArgs,
  standardizeArgs,
  standardizeFlags,
  targetArg,
  targetFlag,
} from '../args.js';
import { formatSummary } from '../format.js';
import { labelArg, readImageArg } from '../inputs.js';
import { intFlag, numberFlag } from '../parse.js';

const command = defineCommand({
  meta: {
    name: 'explain',
    description:
      'Explain one image: the most salient filters, the pixels that drive them (input-space saliency), and Grad-CAM beside it — as PNGs, a JSON report and a one-page HTML report. With no arguments: the bundled Fashion-MNIST model on a misclassified example.',
  },
  args: {
    ...modelArgs,
    ...imageArgs,
    label: { ...imageArgs.label, required: false },
    ...aggregationArg,
    ...rankArgs,
    ...targetArg,
    ...standardizeArgs,
    k: {
      type: 'string',
      default: String(EXPLAIN_DEFAULTS.k),
      description: 'How many of the most salient filters to boost',
      valueHint: 'n',
    },
    boost: {
      type: 'string',
      default: String(EXPLAIN_DEFAULTS.boost),
      description: 'Boost factor for those filters',
      valueHint: 'x',
    },
    filters: {
      type: 'string',
      description:
        "Boost these units instead of the top k, e.g. layer4.2.conv3:17,conv1:3 (filters), fc:5 (a neuron with --units filters+neurons), attn:q3 (head 3's q with --units all); a unit named twice counts once",
      valueHint: 'layer:i,...',
    },
    random: { type: 'boolean', description: 'Boost k random filters instead (the baseline)' },
    'noise-iters': {
      type: 'string',
      default: String(EXPLAIN_DEFAULTS.noiseIters),
      description: 'Average the map over this many noised copies of the image',
      valueHint: 'n',
    },
    'noise-percent': {
      type: 'string',
      default: String(EXPLAIN_DEFAULTS.noisePercent),
      description: 'Noise level p: inputs (1 - p) x + p N(0, 1)',
      valueHint: 'p',
    },
    seed: {
      type: 'string',
      default: '0',
      description: 'Seed for the noise and the random baseline',
      valueHint: 'n',
    },
    'out-dir': {
      type: 'string',
      default: 'pss-explain',
      description: 'Folder for report.json, input_gradient.npy, the PNGs and report.html',
      valueHint: 'dir',
    },
    ...runtimeArgs,
  },
  async run({ args }) {
    const aggregation = perUnit(args.aggregation as Aggregation, 'explain');
    const model = await loadModel(modelSpec(args));
    const names = classNamesFor(model.numClasses, model.arch.classNames);

    // No image: the bundled model's default example, with its label.
    const {
      image: imagePath,
      input,
      label: labelText,
    } = withExampleDefaults(model.arch, args, !args.weights);
    if (imagePath === undefined && input === undefined)
      throw new PssError('no image: give --image photo.jpg (or --input x.npy) and --label');
    if (labelText === undefined)
      throw new PssError('--label is required: the true class of the image (an index or a name)');
    const label = labelArg(labelText, model, names);

    const batch = await readImageArg({ image: imagePath, input }, model);
    const standardize = standardizeFlags(args);
    const target = targetFlag(args.target, model, names);
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
    checkInputSize(stats, batch.shape);
    const filters = args.filters === undefined ? undefined : parseUnits(args.filters, model);
    if (filters && args.random)
      throw new PssError(
        '--filters and --random are alternatives: boost the filters you name, or k random ones',
      );
    const boost = numberFlag(args.boost, 'boost', 0)!;
    if (boost === 1)
      throw new PssError(
        "--boost 1 leaves s' equal to z, so cos(z, s') sits at its maximum and its input gradient is zero: the map would be empty; use a boost other than 1 (default 100)",
      );

    await using engine = new SaliencyEngine(model, engineOptions(args));
    const k = intFlag(args.k, 'k', 1)!;
    const explained = await explainImage(engine, batch, label, {
      aggregation,
      target,
      reference: stats?.reference,
      k,
      boost,
      rankBy: args.rank as RankBy,
      filters,
      random: args.random,
      noiseIters: intFlag(args['noise-iters'], 'noise-iters', 1),
      noisePercent: numberFlag(args['noise-percent'], 'noise-percent', 0, 1),
      // The CPU runs all rows at once; a GPU a batch that fits its memory.
      noiseBatch: defaultBatch('explain', args.device, Number.MAX_SAFE_INTEGER, batch.shape.slice(1)),
      seed: intFlag(args.seed, 'seed', 0),
      top: intFlag(args.top, 'top', 0),
      classNames: names,
    });
    const { explanation: ex, report, ranked, boosted, heatmap: heat, gradcam, scale, potChosen } = explained;
    const units = unitsName(model.layers);
    const how = filters
      ? `hand-picked ${units}`
      : args.random
        ? `${boosted.length} random ${units}`
        : potChosen
          ? `top ${boosted.length} ${units} by POT (q = ${pot!.q})`
          : `top ${boosted.length} ${units}`;
    const full = {
      ...report,
      image: imagePath ?? input,
      explain: {
        chosenBy: filters
          ? 'hand-picked'
          : args.random
            ? 'random'
            : potChosen
              ? 'pot'
              : report.standardized
                ? 'z'
                : 'raw',
        boosted,
        boost,
        noiseIters: intFlag(args['noise-iters'], 'noise-iters', 1),
        noisePercent: numberFlag(args['noise-percent'], 'noise-percent', 0, 1),
        cosine: ex.cos,
        gradcamShape: ex.gradcam.shape,
      },
    };

    // Everything is computed before anything is written; each file is written atomically.
    const probability = (c: number) => report.probabilities.find((p) => p.class === c)?.probability;
    const chart = filterSaliencyData(report);
    const title = `${model.name}: ${report.labelName ?? `class ${label}`} → predicted ${report.predictedName ?? `class ${report.predicted}`}`;
    const files: Record<string, Uint8Array | string> = {
      'report.json': JSON.stringify(full, null, 1),
      'input_gradient.npy': serializeNpy(ex.inputGradient, batch.shape.slice(1)),
      'heatmap.png': await encodePng(heat.overlay, { scale }),
      'heatmap_only.png': await encodePng(heat.heat, { scale }),
      'filter_saliency.png': await filterSaliencyPng(chart, { title }),
      'layer_summary.png': await layerSummaryPng(chart, { title }),
      'gradcam.png': await comparisonFigure({
        image: batch.display,
        pssOverlay: heat.overlay,
        gradcamPredicted: gradcam.predicted,
        gradcamTrue: gradcam.true,
        predicted: {
          class: report.predicted,
          name: report.predictedName,
          probability: probability(report.predicted),
        },
        label: { class: label, name: report.labelName, probability: probability(label) },
        pssCaption: `${how}, boost ×${full.explain.boost}`,
      }),
    };
    files['report.html'] = reportHtml(
      report,
      {
        heatmap: 'heatmap_only.png',
        overlay: 'heatmap.png',
        comparison: 'gradcam.png',
        filterSaliency: 'filter_saliency.png',
        layerSummary: 'layer_summary.png',
      },
      {
        image: imagePath ? basename(imagePath) : input,
        explain: {
          k: boosted.length,
          boost: full.explain.boost ?? EXPLAIN_DEFAULTS.boost,
          noiseIters: full.explain.noiseIters,
          noisePercent: full.explain.noisePercent,
          random: args.random,
        },
      },
    );
    const dir = args['out-dir'];
    await writeFilesAtomic(dir, files);

    console.log(formatSummary(report, ranked));
    console.log(`\nInput-space saliency of the ${how} (boost ×${full.explain.boost}); files in ${dir}/:`);
    console.log(`  ${Object.keys(files).join(', ')}`);
  },
});

export default Object.assign(command, {
  help: {
    notes: [
      "The map is the exact second derivative d/dx cos(z(x), s'), where z is the standardised filter saliency and s' is z with the chosen filters multiplied by --boost; it is post-processed as the original authors did (max over colour channels, |.|, clipped to its 90th-99th percentiles, blurred, JET). Grad-CAM of the predicted and of the true class on the last convolutional block is shown beside it.",
    ],
    examples: [
      ['pss explain', 'the bundled Fashion-MNIST model on a misclassified example; files in ./pss-explain'],
      [
        'pss explain --image examples/fashion/coat-as-pullover-5381.png',
        'another shipped example (its label comes from the manifest)',
      ],
      [
        'pss explain --model resnet50 --weights tv:resnet50 --image shark.jpg --label "great white shark" --stats resnet50-val.safetensors --out-dir shark',
        'an ImageNet photo with torchvision weights and validation statistics',
      ],
      ['pss explain --filters conv5:29 --out-dir filter29', 'the pixels behind one filter'],
    ],
  },
});
