/** The vega-lite layers of the filter-saliency figure: layer rules, zero line, curve, leader lines, label boxes, points, labels. */
import type { TopLevelSpec } from 'vega-lite';
import { kindName } from '../../saliency/units.js';
import { type FilterSaliencyData, hasOtherKinds, type SaliencyLayer } from './data.js';
import { BLUE, ORANGE, tickFormat, yTitle } from './frame.js';
import type { PlacedLabel } from './label-layout.js';
import { type AxisLabel, labelExpr, stageStarts } from './layer-names.js';

/** The plot's geometry: padding around a plot area of known size (autosize none), and the scales. */
export interface ProfileLayout {
  /** Filter positions 0..N-1. */
  N: number;
  yMin: number;
  yMax: number;
  padding: { left: number; right: number; top: number; bottom: number };
  plotW: number;
  plotH: number;
  axisLabels: AxisLabel[];
  /** How far the rotated layer names reach below the plot, px. */
  labelExtent: number;
  /** The layer names' angle, degrees. */
  angle: number;
  px: (x: number) => number;
  py: (y: number) => number;
}

export interface MarkedPoint {
  text: string;
  /** Position in the sorted layout, and value. */
  x: number;
  y: number;
  px: number;
  py: number;
}

type Layers = Extract<TopLevelSpec, { layer: unknown }>['layer'];

/** The band colour behind each unit kind's teeth other than filters (white). */
export const KIND_COLOURS = { neuron: '#e3f1e3', head: '#efe4f6' } as const;

/**
 * Bands behind the teeth of neuron and head layers, in their kind's colour, each wide enough
 * named by its kind at the top ("neurons", "head units"); runs of adjacent layers of one kind
 * make one band.
 */
function kindBands(layers: readonly SaliencyLayer[], g: ProfileLayout, xScale: object): Layers {
  const bands: { x: number; x2: number; kind: 'neuron' | 'head' }[] = [];
  for (const l of layers) {
    const kind = l.kind ?? 'filter';
    if (kind === 'filter') continue;
    const last = bands[bands.length - 1];
    if (last && last.kind === kind && last.x2 === l.offset) last.x2 = l.offset + l.filters;
    else bands.push({ x: l.offset, x2: l.offset + l.filters, kind });
  }
  const named = bands
    .filter((b) => g.px(b.x2) - g.px(b.x) >= 44)
    .map((b) => ({ x: (b.x + b.x2) / 2, text: kindName(b.kind, 2) }));
  const x = { field: 'x', type: 'quantitative' as const, scale: xScale, axis: null };
  return [
    {
      data: { values: bands },
      mark: { type: 'rect', opacity: 1 },
      encoding: {
        x,
        x2: { field: 'x2' },
        color: {
          field: 'kind',
          type: 'nominal',
          scale: { domain: Object.keys(KIND_COLOURS), range: Object.values(KIND_COLOURS) },
          legend: null,
        },
      },
    },
    {
      data: { values: named },
      mark: { type: 'text', y: 4, baseline: 'top', fontSize: 10, color: '#555', fontStyle: 'italic' },
      encoding: { x, text: { field: 'text' } },
    },
  ];
}

export function profileLayers(
  data: FilterSaliencyData,
  g: ProfileLayout,
  line: { x: number; y: number }[],
  points: readonly MarkedPoint[],
  labels: readonly PlacedLabel[],
  labelFont: number,
): Layers {
  const { layers } = data;
  const { N, axisLabels } = g;
  const toX = (p: number) => (p / g.plotW) * N;
  const toY = (p: number) => g.yMax - (p / g.plotH) * (g.yMax - g.yMin);
  const xScale = { domain: [0, N], nice: false, zero: false };
  const yScale = { domain: [g.yMin, g.yMax], nice: false, zero: false };
  const stageTicks = JSON.stringify(axisLabels.filter((l) => l.stage).map((l) => l.at));
  const isStage = stageStarts(layers);
  const overlay = (values: object[]) => ({
    data: { values },
    encoding: {
      x: { field: 'x', type: 'quantitative' as const, scale: xScale, axis: null },
      y: { field: 'y', type: 'quantitative' as const, scale: yScale },
    },
  });
  const box = (l: PlacedLabel) => ({
    x: toX(l.box.x0),
    x2: toX(l.box.x1),
    y: toY(l.box.y0),
    y2: toY(l.box.y1),
  });
  const mixed = hasOtherKinds(layers);
  return [
    ...(mixed ? kindBands(layers, g, xScale) : []),
    {
      data: { values: layers.slice(1).map((l, i) => ({ x: l.offset, stage: isStage[i + 1] })) },
      mark: { type: 'rule', strokeWidth: 1 },
      encoding: {
        x: {
          field: 'x',
          type: 'quantitative',
          scale: xScale,
          axis: {
            orient: 'top',
            grid: false,
            labelColor: '#777',
            tickColor: '#bbb',
            domain: false,
            format: ',d',
            tickCount: 12,
            title: null,
          },
        },
        color: { condition: { test: 'datum.stage', value: '#b9b9b9' }, value: '#e6e6e6' },
      },
    },
    {
      data: { values: [{ y: 0 }] },
      mark: { type: 'rule', color: '#999', strokeDash: [4, 3], strokeWidth: 1 },
      encoding: { y: { field: 'y', type: 'quantitative', scale: yScale } },
    },
    {
      data: { values: line },
      mark: { type: 'line', color: BLUE, strokeWidth: 1.1, strokeJoin: 'round' },
      encoding: {
        x: {
          field: 'x',
          type: 'quantitative',
          scale: xScale,
          axis: {
            orient: 'bottom',
            values: axisLabels.map((l) => l.at),
            labelExpr: labelExpr(axisLabels),
            labelAngle: -g.angle,
            labelAlign: 'right',
            labelBaseline: 'top',
            labelOverlap: false,
            labelFontWeight: {
              condition: { test: `indexof(${stageTicks}, datum.value) >= 0`, value: 'bold' },
              value: 'normal',
            },
            labelColor: {
              condition: { test: `indexof(${stageTicks}, datum.value) >= 0`, value: '#222' },
              value: '#555',
            },
            grid: false,
            title: mixed
              ? `layers in model order (labels: first layer of each stage / block; shaded: ${shadedKinds(layers)}); top axis: unit position 0 … ${(N - 1).toLocaleString('en-US')}`
              : `conv layers in model order (labels: first layer of each stage / block); top axis: filter position 0 … ${(N - 1).toLocaleString('en-US')}`,
            titleY: Math.ceil(g.labelExtent + 12),
            titleBaseline: 'top',
          },
        },
        y: {
          field: 'y',
          type: 'quantitative',
          scale: yScale,
          axis: {
            title: yTitle(data, ''),
            grid: true,
            gridColor: '#f0f0f0',
            format: tickFormat(g.yMin, g.yMax),
            tickCount: 8,
          },
        },
      },
    },
    {
      ...overlay(
        labels
          .filter((l) => l.leader)
          .map((l) => ({
            x: toX(l.px),
            y: toY(l.py),
            x2: toX(l.box.x0 > l.px ? l.box.x0 : l.box.x1),
            y2: toY((l.box.y0 + l.box.y1) / 2),
          })),
      ),
      mark: { type: 'rule', color: ORANGE, strokeWidth: 0.8, opacity: 0.8 },
      encoding: { ...overlay([]).encoding, x2: { field: 'x2' }, y2: { field: 'y2' } },
    },
    {
      ...overlay(labels.map(box)),
      mark: { type: 'rect', color: 'white', opacity: 0.85, cornerRadius: 2 },
      encoding: { ...overlay([]).encoding, x2: { field: 'x2' }, y2: { field: 'y2' } },
    },
    {
      ...overlay(points.map((p) => ({ x: p.x, y: p.y }))),
      mark: {
        type: 'point',
        filled: true,
        color: ORANGE,
        size: 36,
        opacity: 1,
        stroke: 'white',
        strokeWidth: 0.8,
      },
    },
    {
      ...overlay(
        labels.map((l) => ({ x: toX(l.box.x0 + 3), y: toY((l.box.y0 + l.box.y1) / 2), text: l.text })),
      ),
      mark: { type: 'text', align: 'left', baseline: 'middle', fontSize: labelFont, color: '#1a1a1a' },
      encoding: { ...overlay([]).encoding, text: { field: 'text' } },
    },
  ];
}

/** The kinds the bands show, in words: "neuron layers (green), head layers (purple)". */
function shadedKinds(layers: readonly SaliencyLayer[]): string {
  const kinds = new Set(layers.map((l) => l.kind ?? 'filter'));
  return [
    ...(kinds.has('neuron') ? ['neuron layers (green)'] : []),
    ...(kinds.has('head') ? ['attention heads (purple)'] : []),
  ].join(', ');
}
