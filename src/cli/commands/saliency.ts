/** `pss saliency`: the filter-saliency profile of one image. */
import { defineCommand } from 'citty';
import { PssError } from '../../errors.js';
import { classNamesFor, resolveLabel } from '../../image/labels.js';
import { loadImage } from '../../image/load.js';
import { preprocess } from '../../image/preprocess.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { parseNpy } from '../../io/npy.js';
import type { Model } from '../../models/model.js';
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
    image: {
      type: 'string',
      description:
        "Image file (JPEG, PNG, WebP, GIF, TIFF), preprocessed as torchvision's eval transform does for the model (or --input)",
      valueHint: 'photo.jpg',
    },
    input: {
      type: 'string',
      description:
        'Preprocessed image: float32 .npy of shape [3,H,W] or [1,3,H,W], already normalised (or --image)',
      valueHint: 'x.npy',
    },
    label: {
      type: 'string',
      description: 'True class of the image: an index, or for ImageNet models (1000 classes) a class name',
      valueHint: 'n|name',
      required: true,
    },
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
    const top = intFlag(args.top, 'top', 0)!;
    const threads = intFlag(args.threads, 'threads', 1);
    const mode = args.aggregation as Aggregation;
    if (!(mode in AGGREGATIONS)) throw new PssError(`unknown --aggregation ${mode}`);

    if ((args.image === undefined) === (args.input === undefined))
      throw new PssError(
        args.image === undefined
          ? 'no image: give an image file with --image photo.jpg, or a preprocessed tensor with --input x.npy'
          : '--image and --input are alternatives: give only one',
      );
    let npy: { data: Float32Array; shape: number[] };
    if (args.image !== undefined) {
      const [, h, w] = arch.inputShape;
      const x = preprocess(await loadImage(args.image), arch.preprocessing, [h, w]);
      npy = { data: x.data, shape: x.shape };
    } else {
      npy = parseNpy(await readFileOrFail(args.input!, 'input file'), `input ${args.input}`);
    }
    const shape = npy.shape.length === 3 ? [1, ...npy.shape] : npy.shape;
    if (shape.length !== 4 || shape[0] !== 1)
      throw new PssError(
        `input ${args.input} has shape [${npy.shape.join(', ')}]; expected [3, H, W] or [1, 3, H, W]`,
      );
    const model = await loadWeights(arch, args.weights);
    const names = classNamesFor(model.numClasses);
    const label = labelFlag(args.label, model, names);

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
      ...(names && { labelName: names[label] }),
      predicted: result.predicted,
      ...(names && { predictedName: names[result.predicted] }),
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
    if (names)
      console.log(
        `True class: ${names[label]} (${label}); predicted: ${names[result.predicted]} (${result.predicted})`,
      );
    console.log(formatSummary({ ...report, top: ranked, json: args.json }));
  },
});

/** --label: an index, or a class name when the model's classes are ImageNet's. */
function labelFlag(text: string, model: Model, names: readonly string[] | undefined): number {
  if (names) return resolveLabel(text, names);
  if (/^\s*[+-]?[\d.]*\s*$/.test(text)) return requiredInt(text, 'label');
  throw new PssError(
    `--label must be an integer >= 0, got "${text}" (class names are known for ImageNet models, with 1000 classes; ${model.name} has ${model.numClasses})`,
  );
}

export default Object.assign(command, {
  help: {
    notes: [
      "--image gives the model what torchvision's eval transform gives it (PIL decoding, Resize with Pillow's antialiased bilinear filter, CenterCrop, Normalize; bit-exact on the test images), except that the EXIF orientation is applied.",
      'The loss is the cross-entropy with the TRUE label, also when the model gets the image wrong. Without statistics (pss stats, coming) the ranking uses raw gradient magnitudes, which favour some layers; the JSON says "standardized": false.',
    ],
    examples: [
      [
        'pss saliency --model resnet50 --weights resnet50.safetensors --image shark.jpg --label "great white shark"',
        'an image file, resized and cropped as torchvision does; the label by ImageNet class name',
      ],
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
