import type { ArgsDef } from 'citty';
import type { Dataset } from '../data/dataset.js';
import { openDataset } from '../data/open.js';
import { PssError } from '../errors.js';
import { displayFromTensor } from '../image/display.js';
import { classNamesFor } from '../image/labels.js';
import type { RgbImage } from '../image/load.js';
import { withExampleDefaults } from '../models/examples.js';
import { loadModel } from '../models/load.js';
import type { Model } from '../models/model.js';
import type { Aggregation } from '../saliency/aggregation.js';
import type { ImageBatch } from '../saliency/engine.js';
import { checkInputSize, resolveStats } from '../stats/resolve.js';
import { modelSpec } from './args.js';
import { labelArg, readImageArg } from './inputs.js';
import { intFlag } from './parse.js';
import { type Progress, progressBar } from './progress.js';

export const dataArg = {
  data: {
    type: 'string',
    description:
      'Labelled images: a folder with one subfolder per class, a .csv or .jsonl list of (path, label), or an IDX images file (labels file beside it), e.g. /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz',
    valueHint: 'source',
    required: true,
  },
  limit: { type: 'string', description: 'Use only the first n images of the dataset', valueHint: 'n' },
} as const satisfies ArgsDef;

/** One progress bar per phase, each replacing the last. */
export function phases(units: Record<string, string> = {}) {
  let current: { name: string; bar: Progress } | undefined;
  return {
    update(name: string, done: number, total: number) {
      if (current?.name !== name) {
        current?.bar.stop();
        current = { name, bar: progressBar(name.padEnd(8), total, units[name] ?? 'images') };
      }
      current.bar.update(done);
    },
    stop() {
      current?.bar.stop();
      current = undefined;
    },
  };
}

export interface Query {
  batch: ImageBatch;
  label: number;
  /** What to call it in reports. */
  name: string;
  display: RgbImage;
  /** Its dataset index when it came from --index. */
  index?: number;
}

/**
 * The image an experiment is about: --index (an item of --data, with its label), --image /
 * --input with --label, or — with the bundled model and no image — its default example.
 */
export async function queryArg(
  args: { image?: string; input?: string; index?: string; label?: string },
  model: Model,
  data: Dataset,
  read: {
    image: (a: { image?: string; input?: string }) => Promise<ImageBatch & { display: RgbImage }>;
    label: (text: string) => number;
  },
  weightsGiven: boolean,
): Promise<Query> {
  const [c, h, w] = model.arch.inputShape;
  if (args.index !== undefined) {
    if (args.image !== undefined || args.input !== undefined)
      throw new PssError('--index names an image of --data; do not combine it with --image or --input');
    const i = Number(args.index);
    if (!Number.isInteger(i) || i < 0 || i >= data.length)
      throw new PssError(`--index must be an integer in 0..${data.length - 1}, got "${args.index}"`);
    const item = data.item(i);
    const x = await item.load();
    const label = checkLabel(args.label === undefined ? item.label : read.label(args.label), model);
    const batch: ImageBatch = { data: x, shape: [1, c, h, w] };
    return {
      batch,
      label,
      name: item.id,
      index: i,
      display: displayFromTensor(x, batch.shape, model.arch.preprocessing),
    };
  }
  const { image, input, label } = withExampleDefaults(model.arch, args, !weightsGiven);
  if (image === undefined && input === undefined)
    throw new PssError('no image: give --index i (an image of --data), or --image photo.png and --label');
  if (label === undefined)
    throw new PssError('--label is required: the true class of the image (an index or a name)');
  const { display, ...batch } = await read.image({ image, input });
  return { batch, label: checkLabel(read.label(label), model), name: (image ?? input)!, display };
}

function checkLabel(label: number, model: Model): number {
  if (!Number.isInteger(label) || label < 0 || label >= model.numClasses)
    throw new PssError(
      `label ${label} is out of range: ${model.name} has classes 0..${model.numClasses - 1}`,
    );
  return label;
}

/** Seconds since `t0` (performance.now()), rounded to 0.1. */
export const seconds = (t0: number) => Math.round((performance.now() - t0) / 100) / 10;

/** The flags the query-based experiments read to set themselves up. */
interface QueryCommandArgs {
  model: string;
  weights?: string;
  data: string;
  limit?: string;
  image?: string;
  input?: string;
  index?: string;
  label?: string;
  stats?: string;
}

/**
 * What neighbors and finetune both start from: the model (checked by `checkModel` before any
 * data is read), its class names, the dataset, the query image and label, and the statistics.
 */
export async function queryContext(
  args: QueryCommandArgs,
  aggregation: Aggregation,
  checkModel?: (m: Model) => void,
) {
  const model = await loadModel(modelSpec(args));
  checkModel?.(model);
  const names = classNamesFor(model.numClasses, model.arch.classNames);
  const data = await openDataset(args.data, model, intFlag(args.limit, 'limit', 1));
  const query = await queryArg(
    args,
    model,
    data,
    { image: (a) => readImageArg(a, model), label: (t) => labelArg(t, model, names) },
    args.weights !== undefined,
  );
  const stats = await resolveStats(args.stats, model, aggregation);
  checkInputSize(stats, query.batch.shape);
  return { model, names, data, query, stats, st: stats?.reference };
}
