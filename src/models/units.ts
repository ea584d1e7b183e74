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

/** One layer of a model's unit table: a run of positions in the saliency vector. */
export interface UnitLayer {
  /** Module name, e.g. "layer1.0.conv2" or "encoder.layers.0.self_attention.in_proj". */
  name: string;
  /** Its weight's parameter name, e.g. "layer1.0.conv2.weight". */
  param: string;
  /** Index of its first unit in the saliency vector. */
  offset: number;
  /** How many units it has (the name kept from when every unit was a filter). */
  filters: number;
  /** Weight shape: [Cout, Cin/groups, kh, kw] (conv), [out, in] (linear). */
  shape: number[];
  kind: UnitKind;
  /** Consecutive rows (axis 0) of the weight per unit: 1, or a head's headDim. */
  rowsPerUnit: number;
}

/** What the table needs of a parameter (nn.ts ParamSpec). */
interface UnitParam {
  name: string;
  shape: readonly number[];
  role: string;
  heads?: number;
}

/**
 * The unit table of `set` over parameters in declaration order (torchvision's state_dict
 * order, kinds interleaved). `linears`: the linear weights whose rows can be units (imported
 * graphs: those whose output pss can mask); absent, every 2-D linear weight. An attention
 * out-projection is a neuron layer: each of its rows mixes all heads, and a head's own
 * contribution is turned off through its v unit.
 */
export function unitTable(
  params: readonly UnitParam[],
  set: UnitSet,
  linears?: ReadonlySet<string>,
): UnitLayer[] {
  const layers: UnitLayer[] = [];
  let offset = 0;
  for (const p of params) {
    const shape = [...p.shape];
    let kind: UnitKind;
    let rowsPerUnit = 1;
    if (p.role === 'conv') kind = 'filter';
    else if (
      p.role === 'linear' &&
      set !== 'filters' &&
      shape.length === 2 &&
      (linears?.has(p.name) ?? true)
    ) {
      kind = set === 'all' && p.heads ? 'head' : 'neuron';
      if (kind === 'head') rowsPerUnit = shape[0] / (3 * p.heads!);
    } else continue;
    const units = shape[0] / rowsPerUnit;
    if (!Number.isInteger(units))
      throw new Error(`${p.name} [${shape.join(', ')}] does not split into ${p.heads} heads`);
    layers.push({
      name: p.name.replace(/[._]weight$/, ''),
      param: p.name,
      offset,
      filters: units,
      shape,
      kind,
      rowsPerUnit,
    });
    offset += units;
  }
  return layers;
}

/** How many units each kind has in a table, e.g. "768 filters, 2,304 neurons, 432 head units". */
export function describeUnitCounts(layers: readonly { kind?: UnitKind; filters: number }[]): string {
  const n = { filter: 0, neuron: 0, head: 0 };
  for (const l of layers) n[l.kind ?? 'filter'] += l.filters;
  const parts = [`${n.filter.toLocaleString('en-US')} filters`];
  if (n.neuron) parts.push(`${n.neuron.toLocaleString('en-US')} neurons`);
  if (n.head) parts.push(`${n.head.toLocaleString('en-US')} head units`);
  return parts.join(', ');
}
