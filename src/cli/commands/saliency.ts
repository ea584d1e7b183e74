/** `pss saliency`: the filter-saliency profile of one image. */
import { defineCommand } from 'citty';
import { PssError } from '../../errors.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { parseNpy } from '../../io/npy.js';
import { loadWeights, readFileOrFail } from '../../models/weights.js';
import { architecture } from '../../models/zoo.js';
import type { Device } from '../../runtime/session.js';
import { AGGREGATIONS, type Aggregation } from '../../saliency/aggregation.js';
import { SaliencyEngine } from '../../saliency/engine.js';
import { topFilters } from '../../saliency/rank.js';
import { aggregationArg, modelArgs, runtimeArgs } from '../args.js';
import { formatSummary } from '../format.js';
import { intFlag, requiredInt } from '../parse.js';

const command = defineCommand({
  meta: {
    name: 'saliency',
    description:
      'Which convolution filters have abnormally large loss gradients for this image (parameter-space saliency).',
  },
  args: {
    ...modelArgs,
    input: {
      type: 'string',
      description: 'Preprocessed image: float32 .npy of shape [3,H,W] or [1,3,H,W], already normalised',
      valueHint: 'x.npy',
      required: true,
    },
    label: { type: 'string', description: 'True class index of the image', valueHint: 'n', required: true },
    ...aggregationArg,
    top: {
      type: 'string',
      default: '10',
      description: 'How many of the most salient filters to list',
      valueHint: 'k',
    },
    json: {
      type: 'string',
      description: "Write the full result as JSON to this file ('-' for stdout)",
      valueHint: 'file',
    },
    ...runtimeArgs,
  },
  async run({ args }) {
    const arch = architecture(args.model);
    const label = requiredInt(args.label, 'label');
    const top = intFlag(args.top, 'top', 0)!;
    const threads = intFlag(args.threads, 'threads', 1);
    const mode = args.aggregation as Aggregation;
    if (!(mode in AGGREGATIONS)) throw new PssError(`unknown --aggregation ${mode}`);

    const npy = parseNpy(await readFileOrFail(args.input, 'input file'), `input ${args.input}`);
    const shape = npy.shape.length === 3 ? [1, ...npy.shape] : npy.shape;
    if (shape.length !== 4 || shape[0] !== 1)
      throw new PssError(
        `input ${args.input} has shape [${npy.shape.join(', ')}]; expected [3, H, W] or [1, 3, H, W]`,
      );
    const model = await loadWeights(arch, args.weights);

    await using engine = new SaliencyEngine(model, { device: args.device as Device, threads });
    const [result] = await engine.compute(
      { data: npy.data, shape: shape as [number, number, number, number] },
      [label],
      mode,
    );
    const ranked = mode === 'parameter' ? [] : topFilters(result.saliency, model.layers, top);
    const report = {
      model: model.name,
      weights: model.source,
      aggregation: mode,
      standardized: false,
      label,
      predicted: result.predicted,
      loss: result.loss,
      logits: Array.from(result.logits),
      layers: model.layers.map(({ name, offset, filters }) => ({ name, offset, filters })),
      saliency: Array.from(result.saliency),
      z: null,
      top: ranked.map((r) => ({ layer: r.layer, filter: r.filter, index: r.index, saliency: r.value })),
    };
    if (args.json === '-') {
      process.stdout.write(`${JSON.stringify(report)}\n`);
      return;
    }
    if (args.json) await writeFileAtomic(args.json, JSON.stringify(report));
    console.log(formatSummary({ ...report, top: ranked, json: args.json }));
  },
});

export default Object.assign(command, {
  help: {
    notes: [
      'The loss is the cross-entropy with the TRUE label, also when the model gets the image wrong. Without statistics (pss stats, coming) the ranking uses raw gradient magnitudes, which favour some layers; the JSON says "standardized": false.',
    ],
    examples: [
      [
        'pss saliency --model resnet50 --weights resnet50.safetensors --input shark.npy --label 2',
        'the 10 filters with the largest gradients for a shark image (class 2)',
      ],
      [
        'pss saliency --model resnet50 --weights w.safetensors --input x.npy --label 2 --json out.json',
        'also write everything (logits, loss, layer table, the whole saliency vector) as JSON',
      ],
    ],
  },
});
