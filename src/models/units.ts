/**
 * Unit sets and a model's unit table (DESIGN §1.3). A unit is a slice of one weight that a
 * person can name and turn off: a conv filter (one output channel), a linear neuron (one
 * output row of a [out, in] weight, or one column of an [in, out] weight as an imported MatMul
 * or Gemm with transB=0 holds it), or an attention head's q, k or v (its headDim rows of an
 * in-projection [3E, E]). Which elements a unit holds (unitElements) and its gradient laid out
 * as [B, units, -1] (unitGradient), reduced over the last axis, are defined here once.
 */
import type { Value } from '../graph/graph.js';
import * as op from '../ops/index.js';

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
  /** Weight shape: [Cout, Cin/groups, kh, kw] (conv), [out, in] (linear), [in, out] (axis 1). */
  shape: number[];
  kind: UnitKind;
  /** Consecutive rows (axis 0) of the weight per unit: 1, or a head's headDim. */
  rowsPerUnit: number;
  /**
   * The weight axis that indexes its units: 0 (rows), or 1 for a linear weight stored [in, out]
   * (an imported MatMul's x·W, a Gemm with transB=0): unit j is column j.
   */
  axis: 0 | 1;
  /** Its bias parameter (zeroed with a unit's weights when it is turned off), if it has one. */
  bias?: string;
}

/** How an imported linear weight holds neurons: its unit axis. */
export interface LinearUnits {
  axis: 0 | 1;
}

/** What the table needs of a parameter (nn.ts ParamSpec). */
interface UnitParam {
  name: string;
  shape: readonly number[];
  role: string;
  heads?: number;
}

/** A unit weight's layer (module) name: conv1.weight → conv1, an attention's in_proj_weight → in_proj. */
export const unitLayerName = (param: string): string => param.replace(/[._]weight$/, '');

/** How many positions a unit table covers (its last layer's end). */
export function unitCount(layers: readonly { offset: number; filters: number }[]): number {
  const last = layers[layers.length - 1];
  return last ? last.offset + last.filters : 0;
}

/**
 * The unit table of `set` over parameters in declaration order (torchvision's state_dict
 * order, kinds interleaved). `linears`: the linear weights that can hold units, with their unit
 * axis (imported graphs: those whose output pss can mask per sample); absent, every 2-D linear
 * weight, by rows. `biases`: each unit weight's bias (imported graphs); absent, the parameter
 * named after the weight (conv1.weight → conv1.bias). An attention out-projection is a neuron
 * layer: each of its rows mixes all heads, and a head's own contribution is turned off through
 * its v unit.
 */
export function unitTable(
  params: readonly UnitParam[],
  set: UnitSet,
  linears?: ReadonlyMap<string, LinearUnits>,
  biases?: ReadonlyMap<string, string>,
): UnitLayer[] {
  const layers: UnitLayer[] = [];
  const names = new Set(params.map((p) => p.name));
  let offset = 0;
  for (const p of params) {
    const shape = [...p.shape];
    let kind: UnitKind;
    let rowsPerUnit = 1;
    let axis: 0 | 1 = 0;
    // conv1.weight → conv1.bias; an attention's in_proj_weight → in_proj_bias
    const bias = biases ? biases.get(p.name) : p.name.replace(/weight$/, 'bias');
    if (p.role === 'conv') kind = 'filter';
    else if (
      p.role === 'linear' &&
      set !== 'filters' &&
      shape.length === 2 &&
      (linears ? linears.has(p.name) : true)
    ) {
      kind = set === 'all' && p.heads ? 'head' : 'neuron';
      if (kind === 'head') rowsPerUnit = shape[0] / (3 * p.heads!);
      if (linears) axis = linears.get(p.name)!.axis;
    } else continue;
    const units = shape[axis] / rowsPerUnit;
    if (!Number.isInteger(units))
      throw new Error(`${p.name} [${shape.join(', ')}] does not split into ${p.heads} heads`);
    layers.push({
      name: unitLayerName(p.name),
      param: p.name,
      offset,
      filters: units,
      shape,
      kind,
      rowsPerUnit,
      axis,
      ...(bias && bias !== p.name && names.has(bias) ? { bias } : {}),
    });
    offset += units;
  }
  return layers;
}

/**
 * The flat (row-major) indices of unit k's elements in its layer's weight: its rowsPerUnit
 * rows (all their inputs), or, with axis 1, column k of the [in, out] weight. Its bias entries
 * are k·rowsPerUnit up to (k+1)·rowsPerUnit.
 */
export function unitElements(
  layer: Pick<UnitLayer, 'shape' | 'rowsPerUnit' | 'axis'>,
  k: number,
): Int32Array {
  const [first, ...rest] = layer.shape;
  if (layer.axis === 1) {
    const out = rest[0];
    return Int32Array.from({ length: first }, (_, i) => i * out + k);
  }
  const size = layer.rowsPerUnit * rest.reduce((a, b) => a * b, 1);
  return Int32Array.from({ length: size }, (_, i) => k * size + i);
}

/**
 * A unit layer's per-sample weight gradient [B, ...shape] as [B, units, -1]: each unit's
 * elements (unitElements) on the last axis, so that a reduction over it aggregates per unit
 * (DESIGN §1.3: a neuron's s is the mean over the input dimension of |g| — of its column when
 * the weight is [in, out]).
 */
export function unitGradient(g: Value, layer: Pick<UnitLayer, 'filters' | 'axis'>, batch: number): Value {
  const byUnit = layer.axis === 1 ? op.transpose(g, [0, 2, 1]) : g;
  return op.reshape(byUnit, [batch, layer.filters, -1]);
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
