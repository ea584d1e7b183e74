/**
 * Positions in the saliency vector, named once. A *unit* is the slice of one parameter tensor
 * a person can name and turn off; a position in the saliency vector is a unit, named
 * (layer, index within the layer, kind). Today every unit is a conv filter (an output channel
 * of a conv weight); issue 16 adds linear neurons and attention heads as further kinds.
 *
 * Here: a model's unit table (from `model.layers`, the one source), `locate` and its inverse
 * `unitIndex`, the one parser of `--filters "layer:index,..."`, and the one definition of
 * turning units off. Ranking is in rank.ts.
 */
import { PssError } from '../errors.js';
import type { ConvLayer } from '../models/model.js';

/** What a unit is: today a conv filter. */
export type UnitKind = 'filter';

/** A layer's run of positions in the saliency vector (what reports and figures carry). */
export interface LayerSpan {
  name: string;
  /** Position of the layer's first unit. */
  offset: number;
  /** How many units the layer has (a conv's output channels). */
  filters: number;
  /** Absent in older reports: a filter. */
  kind?: UnitKind;
}

/** One layer of a model's unit table. */
export interface UnitLayer extends LayerSpan {
  kind: UnitKind;
  /** The parameter whose output rows are the units, e.g. "layer1.0.conv2.weight". */
  param: string;
}

/** A position in the saliency vector, located. */
export interface Unit {
  /** Position in the saliency vector. */
  index: number;
  layer: string;
  /** Index within its layer (a conv filter: its output channel). */
  filter: number;
  kind: UnitKind;
}

const tables = new WeakMap<readonly ConvLayer[], readonly UnitLayer[]>();

/** A model's unit table, in saliency-vector order. */
export function unitTable(model: { layers: readonly ConvLayer[] }): readonly UnitLayer[] {
  let table = tables.get(model.layers);
  if (!table) {
    table = Object.freeze(
      model.layers.map(({ name, param, offset, filters }) => ({
        name,
        param,
        offset,
        filters,
        kind: 'filter' as const,
      })),
    );
    tables.set(model.layers, table);
  }
  return table;
}

/** How many positions the layers cover (the last layer's end). */
export function unitCount(layers: readonly LayerSpan[]): number {
  const last = layers[layers.length - 1];
  return last ? last.offset + last.filters : 0;
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
    throw new PssError(`${l.name} has filters 0..${l.filters - 1}, not ${filter}`);
  return l.offset + filter;
}

/**
 * `--filters "layer:index,layer:index"` → positions in the saliency vector, in the order given.
 * A unit named twice counts once (repeats are dropped).
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
    const m = /^\s*(.+):(\d+)\s*$/.exec(item);
    if (!m || !layers.some((l) => l.name === m[1]))
      throw new PssError(
        `${flag}: "${item}" is not layer:index with a conv layer of ${model.name} (${some})`,
      );
    try {
      return unitIndex(layers, m[1], Number(m[2]));
    } catch (e) {
      throw new PssError(`${flag}: ${(e as Error).message}`);
    }
  });
  return [...new Set(out)];
}

/**
 * Turning a unit off means: its whole output is zero — for a conv filter, its output channel at
 * every pixel, which is what zeroing its weights *and* its bias gives. The forward graph does
 * it with a per-sample mask on each conv's output (saliency/graph.ts, `filterMask`), so one
 * ONNX Runtime session answers any choice, image by image; `pss prune` and the explorer's
 * "zero these filters" both go through it (jobs/forward.ts, `unitsOffRunner`).
 *
 * This builds that mask: one row of `count` values per image, 1 keeps a unit, 0 turns it off.
 */
export function unitsOffMask(count: number, off: readonly (readonly number[])[]): Float32Array {
  const mask = new Float32Array(off.length * count).fill(1);
  off.forEach((row, r) => {
    for (const j of row) {
      if (!Number.isInteger(j) || j < 0 || j >= count)
        throw new PssError(`filter index ${j} is out of range 0..${count - 1}`);
      mask[r * count + j] = 0;
    }
  });
  return mask;
}
