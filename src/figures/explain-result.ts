/**
 * One explanation of one image, built once for `pss explain` and the web explorer: the
 * second-order run (saliency/explain.ts), the saliency report, the boosted filters located,
 * the input-space heatmap and the Grad-CAM maps — everything both show before each turns it
 * into files or into the page.
 */
import type { RgbImage } from '../image/load.js';
import type { ImageBatch, SaliencyEngine } from '../saliency/engine.js';
import { EXPLAIN_DEFAULTS, type ExplainOptions, type ExplainResult, explain } from '../saliency/explain.js';
import { potRanking } from '../saliency/pot.js';
import type { RankedFilter } from '../saliency/rank.js';
import { type SaliencyReport, saliencyReport } from '../saliency/report.js';
import type { Reference } from '../saliency/standardize.js';
import { locate, type Unit } from '../saliency/units.js';
import type { ActivationMap } from './gradcam.js';
import { type InputHeatmap, inputHeatmap } from './heatmap.js';

export interface ExplainImageOptions extends Omit<ExplainOptions, 'stats'> {
  /** Validation statistics to standardise by; raw saliency without. */
  reference?: Reference;
  /** How many filters the report ranks (default 10). */
  top?: number;
  classNames?: readonly string[];
}

export interface ExplainedImage {
  explanation: ExplainResult;
  report: SaliencyReport;
  /** The report's ranked filters (for printing). */
  ranked: RankedFilter[];
  /** The boosted filters, located, with their z. */
  boosted: (Unit & { z: number })[];
  heatmap: InputHeatmap;
  gradcam: { predicted: ActivationMap; true: ActivationMap };
  /** Integer upscaling for the PNGs, so that a small input shows at about 224 px. */
  scale: number;
  /** The boosted filters are POT's top k (the reference holds a POT model; none were named). */
  potChosen: boolean;
}

export async function explainImage(
  engine: SaliencyEngine,
  image: ImageBatch & { display: RgbImage },
  label: number,
  o: ExplainImageOptions = {},
): Promise<ExplainedImage> {
  const model = engine.model;
  const { reference, top, classNames, ...options } = o;
  // POT's top k (smallest P) from a first saliency pass, boosted as chosen filters; the map's
  // cosine is still over z, which the graph computes.
  const potChoice =
    reference?.pot && !options.filters && !options.random
      ? potRanking(
          (await engine.compute(image, [label], options.aggregation, options.target))[0].saliency,
          reference.pot,
          options.k ?? EXPLAIN_DEFAULTS.k,
        )
      : undefined;
  const ex = await explain(engine, image, label, {
    ...options,
    filters: options.filters ?? potChoice,
    stats: reference,
  });
  const { report, ranked } = saliencyReport(model, ex.result, {
    reference,
    target: o.target,
    rankBy: o.rankBy,
    top,
    classNames,
  });
  const table = model.layers;
  const [, h, w] = image.shape.slice(1);
  const [camH, camW] = ex.gradcam.shape;
  const cam = (data: Float32Array): ActivationMap => ({ data, width: camW, height: camH });
  return {
    explanation: ex,
    report,
    ranked,
    boosted: ex.boosted.map((index) => ({ ...locate(index, table), z: ex.z[index] })),
    heatmap: inputHeatmap({ data: ex.inputGradient, shape: image.shape.slice(1) }, image.display),
    gradcam: { predicted: cam(ex.gradcam.predicted), true: cam(ex.gradcam.true) },
    scale: Math.max(1, Math.floor(224 / Math.max(h, w))),
    potChosen: potChoice !== undefined,
  };
}
