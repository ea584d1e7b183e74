/**
 * Unit sets and a model's unit table (DESIGN §1.3). A unit is a block of consecutive rows
 * (axis 0) of one weight that a person can name and turn off: a conv filter (one output
 * channel), a linear neuron (one output row of a [out, in] weight), or an attention head's
 * q, k or v (its headDim rows of an in-projection [3E, E]). Aggregation over units is then
 * the same everywhere: the gradient reshaped to [B, units, -1], reduced over the last axis.
 */

/** Which units the saliency vector covers. Defined once here (help, validation, files). */
export const UNIT_SETS = {
  filters: 'conv filters only (the default for CNNs; vectors line up with the reference)',
  'filters+neurons': 'conv filters and every output row (neuron) of each linear layer',
  all: 'conv filters, linear neurons, and attention heads (q, k, v of each head) in place of in-projection rows',
} as const;

export type UnitSet = keyof typeof UNIT_SETS;
export const DEFAULT_UNIT_SET: UnitSet = 'filters';

export function isUnitSet(s: string): s is UnitSet {
  return Object.hasOwn(UNIT_SETS, s);
}

/** What a unit is. */
export type UnitKind = 'filter' | 'neuron' | 'head';
