/** `pss saliency`: the filter-saliency profile of one image. */
import { defineCommand } from 'citty';
import { classNamesFor } from '../../image/labels.js';
import { writeJsonAtomic, writeJsonLine } from '../../io/json.js';
import { loadModel } from '../../models/load.js';
import type { Aggregation } from '../../saliency/aggregation.js';
import { SaliencyEngine } from '../../saliency/engine.js';
import type { RankBy } from '../../saliency/rank.js';
import { saliencyReport } from '../../saliency/report.js';
import { targetText } from '../../saliency/target.js';
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
import { intFlag } from '../parse.js';

const command = defineCommand({
  meta: {
    name: 'saliency',
    description:
      'Which convolution filters have abnormally large loss gradients for this image (parameter-space saliency), standardised against validation statistics when given.',
  },
  args: {
    ...modelArgs,
    ...imageArgs,
    ...aggregationArg,
    ...rankArgs,
    ...targetArg,
    ...standardizeArgs,
    json: {
      type: 'string',
      description: "Write the full result as JSON to this file ('-' for stdout)",
      valueHint: 'file',
    },
    ...runtimeArgs,
  },
  async run({ args }) {
    const aggregation = args.aggregation as Aggregation;
    const top = intFlag(args.top, 'top', 0)!;
    const model = await loadModel(modelSpec(args));
    const image = await readImageArg(args, model);
    const names = classNamesFor(model.numClasses, model.arch.classNames);
    const label = labelArg(args.label, model, names);
    const target = targetFlag(args.target, model, names);
    const how = standardizeFlags(args);
    const stats = withStandardization(
      statsForTarget(
        await resolveStats(args.stats, model, aggregation),
        targetText(target),
        args.stats !== undefined,
      ),
      how.method,
      how.q,
    );
    checkInputSize(stats, image.shape);

    await using engine = new SaliencyEngine(model, engineOptions(args));
    const [result] = await engine.compute(image, [label], aggregation, target);
    const { report, ranked } = saliencyReport(model, result, {
      target,
      reference: stats?.reference,
      rankBy: args.rank as RankBy,
      top,
      classNames: names,
    });
    if (args.json === '-') return writeJsonLine(report);
    if (args.json) await writeJsonAtomic(args.json, report);
    console.log(formatSummary(report, ranked, args.json));
  },
});

export default Object.assign(command, {
  help: {
    notes: [
      "--image gives the model what torchvision's eval transform gives it (PIL decoding, Resize with Pillow's antialiased bilinear filter, CenterCrop, Normalize; bit-exact on the test images), except that the EXIF orientation is applied.",
      'The loss is the cross-entropy with the TRUE label, also when the model gets the image wrong (--target predicted takes the model\'s own prediction, --target CLASS one class; the JSON records it). With --stats (from pss stats, same model and aggregation) filters are ranked by z = (s - mean) / std; without, by raw saliency, which favours some layers, and the JSON says "standardized": false.',
      '--standardize pot ranks filters by the extreme-value tail probability P of their saliency instead (DESIGN §1.5, Wang & Sato 2023): per filter, a generalised Pareto distribution fitted to the validation values above its --pot-quantile threshold (the statistics keep them), P smallest first; the summary and the JSON show -log10 P (0 at or below the threshold) beside z, and the JSON says "standardization": "pot".',
    ],
    examples: [
      [
        'pss saliency --model resnet50 --weights tv:resnet50 --image shark.jpg --label "great white shark" --stats resnet50-val.safetensors',
        'the 10 most salient filters, torchvision ImageNet weights, z-scores against validation statistics',
      ],
      [
        'pss saliency --model resnet50 --weights resnet50.safetensors --input shark.npy --label 2 --json out.json',
        'a preprocessed tensor; everything (logits, layer table, saliency vector, z) as JSON',
      ],
      ['pss saliency --model my-classifier.onnx --image x.png --label 3', 'any ONNX image classifier'],
      [
        'pss saliency --model resnet50 --weights tv:resnet50 --image shark.jpg --label 2 --stats val-predicted.safetensors --standardize pot --target predicted',
        'POT ranking of the saliency of the predicted class (statistics computed with --target predicted)',
      ],
    ],
  },
});
