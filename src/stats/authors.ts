/**
 * The original PSS authors' statistics files (LevinRoman/parameter-space-saliency,
 * `ImageNet_val_saliency_stat_<arch>_filter_wise.pth`): torch.save'd dicts
 * `{'mean': float32[F], 'std': float64[F]}` — per-filter mean and standard deviation of
 * saliency over the 50,000 ImageNet validation images for torchvision's pretrained
 * resnet50 / vgg19 / densenet121 / inception_v3 (F = 26,560 / 5,504 / 10,240 / 18,112).
 *
 * They become pss `Statistics` as follows:
 * - mean: the file's, widened to float64 exactly;
 * - count: nominal, 50,000 (the size of the ImageNet validation set; the files do not say),
 *   and M2 = std² · (count − 1), so `acc.std()` gives the file's std back (within two
 *   units in the last place) and a merge weighs them as 50,000 images;
 * - aggregation: `filter-abs-mean` (|mean gradient| per filter: the authors' published code
 *   most likely computed them so) unless the caller says otherwise;
 * - model: from the file name when it names resnet50, vgg19, densenet121 or inception_v3,
 *   else the caller's `model`, else "unknown" (resolveStats then trusts --model, and the filter
 *   count is still checked);
 * - weightsHash: "unknown" — torchvision's ImageNet weights, which checkStatsFor accepts for
 *   any weights of the right architecture;
 * - dataset: a note that says where they came from.
 */
import { basename } from 'node:path';
import { PssError } from '../errors.js';
import { readFileChecked } from '../io/files.js';
import { describe, isTorchCheckpoint, PyDict, readCheckpoint, TorchTensor } from '../io/pth.js';
import type { Aggregation } from '../saliency/aggregation.js';
import { parseStats, type Statistics } from './file.js';
import { RunningStats } from './welford.js';

/** The nominal number of images behind the authors' statistics: the ImageNet validation set. */
export const AUTHORS_COUNT = 50_000;

/** Their preprocessing, in words: checkStatsFor takes it to match any ImageNet-normalised model. */
export const AUTHORS_PREPROCESSING =
  "torchvision's ImageNet evaluation transform, as the original PSS code applied it";

/** The architectures the authors published statistics for. */
export const AUTHORS_ARCHS = ['resnet50', 'vgg19', 'densenet121', 'inception_v3'] as const;

export interface AuthorsOptions {
  /** Default 'filter-abs-mean'. */
  aggregation?: Aggregation;
  /** The architecture, when the file name does not say. */
  model?: string;
  /** Default AUTHORS_COUNT. */
  count?: number;
}

/** The architecture a file name names (resnet50, vgg19, densenet121, inception_v3), if any. */
export function archFromFileName(path: string): string | undefined {
  const name = basename(path).toLowerCase();
  return AUTHORS_ARCHS.find((a) => new RegExp(`(^|[^a-z0-9])${a}(?![a-z0-9]|_bn)`).test(name));
}

/** Converts an authors' statistics file (its bytes) into pss Statistics. */
export function authorsStats(bytes: Uint8Array, path: string, options: AuthorsOptions = {}): Statistics {
  const root = readCheckpoint(bytes, `statistics file ${path}`);
  const fail = (why: string): never => {
    throw new PssError(`statistics file ${path}: ${why}`);
  };
  if (
    !(root instanceof PyDict) ||
    !(root.get('mean') instanceof TorchTensor) ||
    !(root.get('std') instanceof TorchTensor)
  )
    throw new PssError(
      `${path} is a PyTorch file but not statistics: expected {'mean': float[F], 'std': float[F]} as the original authors' files hold; it holds ${describe(root)}`,
    );
  const vector = (name: 'mean' | 'std'): Float64Array => {
    const t = root.get(name) as TorchTensor;
    if (!t.isFloating())
      fail(
        `'${name}' is ${/^[aeiou]/.test(t.dtype) ? 'an' : 'a'} ${t.dtype} tensor; statistics are floating point`,
      );
    if (t.shape.length !== 1)
      fail(`'${name}' has shape [${t.shape.join(', ')}]; expected one value per filter`);
    const v = t.toFloat64();
    for (let i = 0; i < v.length; i++) {
      if (!Number.isFinite(v[i])) fail(`${name}[${i}] is ${v[i]}; statistics must be finite numbers`);
      if (name === 'std' && v[i] < 0) fail(`std[${i}] is ${v[i]}; a standard deviation cannot be negative`);
    }
    return v;
  };
  const m = vector('mean');
  const s = vector('std');
  if (!m.length) fail("'mean' is empty");
  if (m.length !== s.length) fail(`'mean' has ${m.length} values but 'std' has ${s.length}`);
  const count = options.count ?? AUTHORS_COUNT;
  if (!Number.isSafeInteger(count) || count < 2)
    throw new PssError(`the image count of ${path} must be an integer >= 2, got ${count}`);
  const m2 = new Float64Array(s.length);
  for (let i = 0; i < s.length; i++) m2[i] = s[i] * s[i] * (count - 1);
  const model = archFromFileName(path) ?? options.model ?? 'unknown';
  return {
    acc: RunningStats.adopt(count, m, m2),
    meta: {
      model,
      weightsHash: 'unknown',
      aggregation: options.aggregation ?? 'filter-abs-mean',
      filters: m.length,
      preprocessing: AUTHORS_PREPROCESSING,
      dataset: `ImageNet validation set (the original PSS authors' statistics from ${basename(path)}; count ${count} assumed, mean and std as published)`,
      skipped: 0,
    },
  };
}

/** Reads a statistics file: pss's own (safetensors), or the authors' .pth (told apart by content). */
export async function readAnyStats(path: string, options: AuthorsOptions = {}): Promise<Statistics> {
  const bytes = await readFileChecked(path, 'statistics file');
  return isTorchCheckpoint(bytes) ? authorsStats(bytes, path, options) : parseStats(bytes, path);
}
