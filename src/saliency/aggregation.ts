import { PssError } from '../errors.js';

/** How a parameter gradient becomes a saliency profile (DESIGN §1 step 3). Defined once here. */
export const AGGREGATIONS = {
  filter: 'mean |gradient| over each unit (a conv filter, or a neuron or head with --units) (default)',
  'filter-abs-mean': '|mean gradient| over each unit (the statistics the original authors published)',
  signed: 'mean gradient over each unit, with its sign',
  parameter: '|gradient| of every element of every parameter (conv, BatchNorm, linear, biases)',
} as const;

export type Aggregation = keyof typeof AGGREGATIONS;
export const DEFAULT_AGGREGATION: Aggregation = 'filter';

export function isAggregation(s: string): s is Aggregation {
  return Object.hasOwn(AGGREGATIONS, s);
}

/**
 * The aggregation, when it gives one value per unit: ranking, boosting and turning units off
 * (explain, prune, neighbors, finetune) need that, which `parameter` is not.
 */
export function perUnit(aggregation: Aggregation, command: string): Aggregation {
  if (aggregation === 'parameter')
    throw new PssError(`${command} needs a per-unit aggregation (not parameter)`);
  return aggregation;
}

/**
 * The length of a saliency vector: one value per unit (model.unitCount), or for `parameter` one per
 * element of every trained parameter (BatchNorm's running statistics are buffers, not
 * parameters: they get no gradient).
 */
export function saliencyLength(
  model: { unitCount: number; params: readonly { shape: readonly number[]; buffer?: boolean }[] },
  mode: Aggregation,
): number {
  if (mode !== 'parameter') return model.unitCount;
  let n = 0;
  for (const p of model.params) if (!p.buffer) n += p.shape.reduce((a, b) => a * b, 1);
  return n;
}
