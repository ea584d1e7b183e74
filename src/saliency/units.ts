/**
 * Positions in the saliency vector, named once. A *unit* is the slice of one parameter tensor
 * a person can name and turn off (a conv filter, a linear neuron, an attention head's q, k or
 * v — DESIGN §1.3); a position in the saliency vector is a unit, named (layer, index within the
 * layer, kind). The unit table itself is the model's (`model.layers`, models/units.ts).
 *
 * Here: the span of a layer that reports carry, `locate` and its inverse `unitIndex`, the one
 * parser of `--filters "layer:index,..."`, and the one definition of turning units off.
 * Ranking is in rank.ts.
 */
import { PssError } from '../errors.js';
import { type UnitKind, type UnitLayer, unitCount } from '../models/units.js';

export type { UnitKind, UnitLayer };
export { unitCount };

/** A layer's run of positions in the saliency vector (what reports and figures carry). */
export interface LayerSpan {
  name: string;
  /** Position of the layer's first unit. */
  offset: number;
  /** How many units the layer has (a conv's output channels, a linear's rows, 3 per head). */
  filters: number;
  /** Absent in older reports: a filter. */
  kind?: UnitKind;
}

/** A position in the saliency vector, located. */
export interface Unit {
  /** Position in the saliency vector. */
  index: number;
  layer: string;
  /** Index within its layer (a conv filter: its output channel; a neuron: its row). */
  filter: number;
  kind: UnitKind;
}

/** The spans of a unit table, as reports and the explorer carry them. */
export function layerSpans(layers: readonly LayerSpan[]): LayerSpan[] {
  return layers.map(({ name, offset, filters, kind }) => ({ name, offset, filters, kind: kind ?? 'filter' }));
}

/** A unit kind's name, plural with n ≠ 1: "filter", "neurons", "head units". */
export function kindName(kind: UnitKind | undefined, n = 1): string {
  const one = kind === 'head' ? 'head unit' : (kind ?? 'filter');
  return n === 1 ? one : `${one}s`;
}

/** Whether every unit of these layers is a filter (a CNN's default): then words say "filter". */
export const onlyFilters = (layers: readonly LayerSpan[]): boolean =>
  layers.every((l) => (l.kind ?? 'filter') === 'filter');

/** What the units of a set of layers are called: "filters" when all are filters, else "units". */
export function unitsName(layers: readonly LayerSpan[]): string {
  return onlyFilters(layers) ? 'filters' : 'units';
}

/** One unit of these layers, in words: "filter" when all are filters, else "unit". */
export function unitName(layers: readonly LayerSpan[]): string {
  return unitsName(layers).slice(0, -1);
}

/** The index into `layers` of the layer holding a position (layers in offset order), or -1. */
export function layerIndexOf(index: number, layers: readonly LayerSpan[]): number {
  let lo = 0;
  let hi = layers.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (layers[mid].offset <= index) lo = mid;
    else hi = mid - 1;
  }
  const l = layers[lo];
  return Number.isInteger(index) && l && index >= l.offset && index < l.offset + l.filters ? lo : -1;
}

/** The layer, index within the layer and kind of a position in the saliency vector. */
export function locate(index: number, layers: readonly LayerSpan[]): Unit {
  const i = layerIndexOf(index, layers);
  if (i < 0)
    throw new PssError(`position ${index} is in no layer (the units are 0..${unitCount(layers) - 1})`);
  const l = layers[i];
  return { index, layer: l.name, filter: index - l.offset, kind: l.kind ?? 'filter' };
}

/** The position of unit `filter` of layer `layer`: the inverse of `locate`. */
export function unitIndex(layers: readonly LayerSpan[], layer: string, filter: number): number {
  const l = layers.find((x) => x.name === layer);
  if (!l) throw new PssError(`no layer "${layer}" (e.g. ${layers[0]?.name ?? 'none'})`);
  if (!Number.isInteger(filter) || filter < 0 || filter >= l.filters)
    throw new PssError(`${l.name} has ${kindName(l.kind, 2)} 0..${l.filters - 1}, not ${filter}`);
  return l.offset + filter;
}

/**
 * How a unit is named within its layer: its index, or for a head layer "q3", "k3", "v3" (head
 * 3's q, k or v rows) — what `--filters layer:q3` takes back (headUnit).
 */
export function unitLabel(layer: LayerSpan, index: number): string {
  if (layer.kind !== 'head') return String(index);
  const heads = layer.filters / 3;
  return `${'qkv'[Math.floor(index / heads)]}${index % heads}`;
}

/** Unit `index` of the layer named `layer` as unitLabel names it (its index where no such layer is listed). */
export function unitLabelIn(layers: readonly LayerSpan[], layer: string, index: number): string {
  const l = layers.find((x) => x.name === layer);
  return l ? unitLabel(l, index) : String(index);
}

/**
 * A head layer's unit index from "q3", "k3" or "v3" (head 3's q, k or v rows): its units are
 * all heads' q, then all k, then all v, as the rows of the in-projection are.
 */
function headUnit(l: LayerSpan, text: string): number | undefined {
  const m = /^([qkv])(\d+)$/.exec(text);
  if (!m) return undefined;
  const heads = l.filters / 3;
  const head = Number(m[2]);
  if (head >= heads) throw new PssError(`${l.name} has heads 0..${heads - 1}, not ${head}`);
  return 'qkv'.indexOf(m[1]) * heads + head;
}

/**
 * `--filters "layer:index,layer:index"` → positions in the saliency vector, in the order given.
 * An attention layer's units can also be named `layer:q3`, `layer:k3`, `layer:v3`. A unit
 * named twice counts once (repeats are dropped).
 */
export function parseUnits(
  text: string,
  model: { name: string; layers: readonly LayerSpan[] },
  flag = '--filters',
): number[] {
  const { layers } = model;
  const some = `${layers
    .slice(0, 3)
    .map((l) => l.name)
    .join(', ')}${layers.length > 3 ? ', ...' : ''}`;
  const out = text.split(',').map((item) => {
    const m = /^\s*(.+):(\d+|[qkv]\d+)\s*$/.exec(item);
    const l = m && layers.find((x) => x.name === m[1]);
    if (!m || !l)
      throw new PssError(
        `${flag}: "${item}" is not layer:index with a ${unitsName(layers) === 'filters' ? 'conv ' : 'unit '}layer of ${model.name} (${some})`,
      );
    try {
      if (/^\d+$/.test(m[2])) return unitIndex(layers, m[1], Number(m[2]));
      const i = l.kind === 'head' ? headUnit(l, m[2]) : undefined;
      if (i === undefined)
        throw new PssError(`${l.name} has no heads: name its ${kindName(l.kind, 2)} by index`);
      return l.offset + i;
    } catch (e) {
      throw new PssError(`${flag}: ${(e as Error).message}`);
    }
  });
  return [...new Set(out)];
}

/**
 * Turning a unit off means: its whole output is zero — for a conv filter, its output channel at
 * every pixel, which is what zeroing its weights *and* its bias gives; for a neuron, its output
 * feature; for a head's q, k or v, its headDim output features of the in-projection. The
 * forward graph does it with a per-sample mask on each unit layer's output (saliency/graph.ts,
 * `unitMask`), so one ONNX Runtime session answers any choice, image by image; `pss prune` and
 * the explorer's "zero these filters" both go through it (jobs/forward.ts, `unitsOffRunner`).
 *
 * This builds that mask: one row of `count` values per image, 1 keeps a unit, 0 turns it off.
 */
export function unitsOffMask(count: number, off: readonly (readonly number[])[]): Float32Array {
  const mask = new Float32Array(off.length * count).fill(1);
  off.forEach((row, r) => {
    for (const j of row) {
      if (!Number.isInteger(j) || j < 0 || j >= count)
        throw new PssError(`unit index ${j} is out of range 0..${count - 1}`);
      mask[r * count + j] = 0;
    }
  });
  return mask;
}
