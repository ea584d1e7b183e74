/**
 * Layer names on the charts' axes: a name's stage and block (torchvision's hierarchy), a short
 * form without the top-level container, and the choice of which layers to name when not all fit.
 */
import { fitText } from '../text.js';
import type { SaliencyLayer } from './data.js';

/**
 * Containers whose next name component is the stage: torchvision's "features" (CNNs, Swin) and
 * ViT's "encoder.layers" (each encoder layer a stage), a leading run of these names.
 */
const CONTAINERS = new Set(['features', 'module', 'model', 'backbone', 'body', 'encoder', 'layers']);

/** How many leading components of a name are containers (at least one component is left). */
function containerDepth(parts: readonly string[]): number {
  let k = 0;
  while (k + 1 < parts.length && CONTAINERS.has(parts[k])) k++;
  return k;
}

/**
 * A layer's stage (e.g. "layer2", "features.denseblock3", "Mixed_6a",
 * "encoder.layers.encoder_layer_3") and block ("layer2.1", "….encoder_layer_3.mlp").
 */
export function layerHierarchy(name: string): { stage: string; block: string } {
  const parts = name.split('.');
  const k = containerDepth(parts) + 1;
  const stage = parts.slice(0, k).join('.');
  const block = parts.length > k + 1 ? parts.slice(0, k + 1).join('.') : stage;
  return { stage, block };
}

/** A layer name without its leading containers ("features.denseblock1…" → "denseblock1…"; "features.0" stays). */
export function shortLayerName(name: string): string {
  const parts = name.split('.');
  const k = containerDepth(parts);
  return k > 0 && !/^\d/.test(parts[k]) ? parts.slice(k).join('.') : name;
}

/**
 * A layer's short name in at most `maxWidth` px: whole if it fits, else its first component and
 * as many of its last ones as fit ("encoder_layer_3.self_attention.in_proj" →
 * "encoder_layer_3…in_proj"), so that the part that tells layers apart stays readable.
 */
export function compactLayerName(name: string, fontSize: number, maxWidth: number): string {
  const short = shortLayerName(name);
  if (fitText(short, fontSize, maxWidth) === short) return short;
  const parts = short.split('.');
  for (let j = parts.length - 2; j >= 1; j--) {
    const text = `${parts[0]}…${parts.slice(-j).join('.')}`;
    if (fitText(text, fontSize, maxWidth) === text) return text;
  }
  return fitText(short, fontSize, maxWidth);
}

/** Whether each layer starts a stage (the first layer does). */
export function stageStarts(layers: readonly SaliencyLayer[]): boolean[] {
  return layers.map(
    (l, i) => i === 0 || layerHierarchy(layers[i - 1].name).stage !== layerHierarchy(l.name).stage,
  );
}

export interface AxisLabel {
  /** Layer index. */
  layer: number;
  /** Position (data units) of the tick. */
  at: number;
  text: string;
  stage: boolean;
}

/**
 * Picks layer labels for an axis: stage starts first, then block starts, then other layers (the
 * larger span first), keeping ticks at least `spacing` px apart. `px` maps a layer to its tick
 * position in px. Returned in position order.
 */
export function pickLayerLabels(
  layers: readonly SaliencyLayer[],
  px: (i: number) => number,
  spacing: number,
  maxWidth: number,
  fontSize: number,
): AxisLabel[] {
  const info = layers.map((l, i) => ({ i, ...layerHierarchy(l.name) }));
  const span = new Map<string, number>();
  for (const [i, l] of layers.entries()) {
    const { stage, block } = info[i];
    span.set(`s:${stage}`, (span.get(`s:${stage}`) ?? 0) + l.filters);
    span.set(`b:${block}`, (span.get(`b:${block}`) ?? 0) + l.filters);
  }
  const candidates = info.map(({ i, stage, block }) => {
    const prev = i > 0 ? info[i - 1] : undefined;
    const stageStart = !prev || prev.stage !== stage;
    const blockStart = !prev || prev.block !== block;
    let text: string;
    let priority: number;
    let weight: number;
    if (stageStart) {
      text = shortLayerName(stage);
      priority = 2;
      weight = span.get(`s:${stage}`)!;
    } else if (blockStart) {
      const full = shortLayerName(block);
      text = full.length > 12 ? block.slice(stage.length + 1) : full;
      priority = 1;
      weight = span.get(`b:${block}`)!;
    } else {
      text = compactLayerName(layers[i].name, fontSize, maxWidth);
      priority = 0;
      weight = layers[i].filters;
    }
    return { i, x: px(i), text: fitText(text, fontSize, maxWidth), stage: stageStart, priority, weight };
  });
  candidates.sort((a, b) => b.priority - a.priority || b.weight - a.weight || a.x - b.x);
  const chosen: typeof candidates = [];
  for (const c of candidates) {
    // a layer that starts no stage or block is named only when its tooth is wide
    const wide = c.i + 1 < layers.length ? px(c.i + 1) - c.x >= 2 * spacing : true;
    if ((c.priority > 0 || wide) && chosen.every((o) => Math.abs(o.x - c.x) >= spacing)) chosen.push(c);
  }
  chosen.sort((a, b) => a.x - b.x);
  return chosen.map((c) => ({ layer: c.i, at: layers[c.i].offset, text: c.text, stage: c.stage }));
}

/** The vega expression that labels ticks at `labels[].at` with their text. */
export function labelExpr(labels: readonly { at: number | string; text: string }[]): string {
  return `${JSON.stringify(labels.map((l) => l.text))}[indexof(${JSON.stringify(labels.map((l) => l.at))}, datum.value)]`;
}
