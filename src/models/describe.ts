/** What pss sees of a model — its input, classes, units and the choices made on loading — as data (pss inspect). */
import { sizeOf } from '../graph/graph.js';
import type { Model } from './model.js';
import { describePreprocessing } from './preprocessing-config.js';
import { describeUnitCounts, type UnitKind, type UnitSet } from './units.js';

export interface ModelDescription {
  model: string;
  /** Where the weights came from (a path, a URL, "deterministic"). */
  source: string;
  classes: number;
  /** [C, H, W]; with `dynamicSize` the size is only the default (the graph is built per input). */
  inputShape: readonly number[];
  dynamicSize: boolean;
  preprocessing: string;
  /** Parameter tensors and their values in all. */
  parameters: { tensors: number; values: number };
  units: UnitSet;
  unitCount: number;
  /** "768 filters, 2,304 neurons, 432 head units". */
  unitCounts: string;
  /** Each unit layer: its run of positions in the saliency vector, and its weight's shape. */
  layers: { name: string; kind: UnitKind; units: number; offset: number; shape: number[] }[];
  batchNormFolded: boolean;
  onnx?: NonNullable<Model['info']['onnx']>;
  /** Everything the loading chose or assumed, and its warnings. */
  notes: string[];
}

export function describeModel(model: Model): ModelDescription {
  const { arch } = model;
  return {
    model: model.name,
    source: model.source,
    classes: model.numClasses,
    inputShape: arch.inputShape,
    dynamicSize: arch.dynamicSize ?? false,
    preprocessing: describePreprocessing(arch.preprocessing, arch.inputShape),
    parameters: {
      tensors: model.params.length,
      values: model.params.reduce((n, p) => n + sizeOf(p.shape), 0),
    },
    units: model.units,
    unitCount: model.unitCount,
    unitCounts: describeUnitCounts(model.layers),
    layers: model.layers.map((l) => ({
      name: l.name,
      kind: l.kind,
      units: l.filters,
      offset: l.offset,
      shape: [...l.shape],
    })),
    batchNormFolded: model.info.batchNormFolded ?? false,
    ...(model.info.onnx ? { onnx: model.info.onnx } : {}),
    notes: [...(model.info.notes ?? []), ...model.warnings],
  };
}
