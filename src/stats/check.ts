/**
 * Do these statistics describe this model? Same unit set and vector length, same network (by
 * its weights' hash, so that a renamed ONNX file keeps its statistics), same aggregation, same
 * preprocessing, and enough images.
 */
import { PssError } from '../errors.js';
import { IMAGENET } from '../models/architecture.js';
import type { Model } from '../models/model.js';
import { type Aggregation, saliencyLength } from '../saliency/aggregation.js';
import { unitsName } from '../saliency/units.js';
import type { Statistics } from './file.js';

/** The preprocessing statistics record: the model's transform and input shape, as JSON. */
export const preprocessingOf = (model: Model): string =>
  JSON.stringify({ ...model.arch.preprocessing, input: model.arch.inputShape });

const what = (a: Aggregation, model: Model) =>
  a === 'parameter' ? 'parameter values' : unitsName(model.layers);
const short = (hash: string) => hash.slice(0, 12);

/** Throws a PssError naming the difference when the statistics do not describe this model and aggregation. */
export function checkStatsFor(stats: Statistics, model: Model, aggregation: Aggregation, path: string): void {
  const { meta } = stats;
  const perParameter = (a: Aggregation) => a === 'parameter';
  if (meta.aggregation !== aggregation && perParameter(meta.aggregation) !== perParameter(aggregation))
    throw new PssError(
      `${path} holds ${meta.aggregation} statistics; this run uses --aggregation ${aggregation}`,
    );
  const length = saliencyLength(model, aggregation);
  // A per-parameter vector covers every parameter whatever the unit set.
  const recorded = meta.units ?? 'filters';
  if (aggregation !== 'parameter' && recorded !== model.units)
    throw new PssError(
      `${path} holds statistics over --units ${recorded} (${meta.filters} values); this run uses --units ${model.units} (${length} for ${model.name})`,
    );
  if (meta.filters !== length)
    throw new PssError(
      `${path} has statistics for ${meta.filters} ${what(aggregation, model)}; ${model.name} has ${length}`,
    );
  // The weights' hash is the model's identity (names, shapes and values of every tensor); the
  // name only counts for statistics from elsewhere (hash "unknown"). An ONNX model's name is
  // its file name, which a rename changes.
  const hash = model.weightsHash();
  if (meta.weightsHash !== hash) {
    if (meta.weightsHash !== 'unknown' && meta.model === model.name)
      throw new PssError(
        `${path} was computed for ${meta.model} with other weights (hash ${short(meta.weightsHash)}); this is ${model.name} (hash ${short(hash)})`,
      );
    if (meta.weightsHash !== 'unknown')
      throw new PssError(
        `${path} holds statistics for ${meta.model} (weights hash ${short(meta.weightsHash)}); this is ${model.name} (hash ${short(hash)})`,
      );
    if (meta.model !== model.name)
      throw new PssError(`${path} holds statistics for ${meta.model}; this is ${model.name}`);
  }
  if (meta.aggregation !== aggregation)
    throw new PssError(
      `${path} holds ${meta.aggregation} statistics; this run uses --aggregation ${aggregation}`,
    );
  const different = preprocessingDifference(meta.preprocessing, model);
  if (different) throw new PssError(`${path} ${different}`);
  if (stats.acc.count < 2)
    throw new PssError(`${path} summarises ${stats.acc.count} image(s); at least 2 are needed`);
}

/** What differs between recorded preprocessing and the model's, in words; undefined when nothing. */
function preprocessingDifference(recorded: string, model: Model): string | undefined {
  const mine = JSON.parse(preprocessingOf(model)) as Record<string, unknown>;
  let theirs: unknown;
  try {
    theirs = JSON.parse(recorded);
  } catch {
    theirs = undefined;
  }
  if (typeof theirs !== 'object' || theirs === null) {
    // A description (the authors' files): torchvision's ImageNet transform, whose details are
    // not recorded; any model preprocessed with ImageNet's mean and std is taken to match.
    const imagenet = sameNumbers(mine.mean, IMAGENET.mean) && sameNumbers(mine.std, IMAGENET.std);
    return imagenet
      ? undefined
      : `was computed with ${recorded}; ${model.name} normalises with mean ${JSON.stringify(mine.mean)} and std ${JSON.stringify(mine.std)}, not ImageNet's`;
  }
  const rec = theirs as Record<string, unknown>;
  const names: Record<string, string> = { resize: 'resize', input: 'input size', mean: 'mean', std: 'std' };
  for (const k of new Set([...Object.keys(mine), ...Object.keys(rec)])) {
    if (JSON.stringify(rec[k]) === JSON.stringify(mine[k])) continue;
    const show = (v: unknown) =>
      v === undefined ? 'none' : k === 'input' && Array.isArray(v) ? v.join('x') : JSON.stringify(v);
    return `was computed with ${names[k] ?? k} ${show(rec[k])}; ${model.name} uses ${show(mine[k])} (recompute the statistics with pss stats for this preprocessing)`;
  }
  return undefined;
}

const sameNumbers = (a: unknown, b: readonly number[]) =>
  Array.isArray(a) && a.length === b.length && a.every((x, i) => Math.abs(x - b[i]) < 1e-9);
