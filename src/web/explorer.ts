/**
 * What the web explorer holds and computes, apart from HTTP: the loaded models (models.ts), the
 * uploaded images (images.ts), and the two computations the page asks for — a prediction,
 * optionally with filters turned off, and an explanation (filter profile, input-space map,
 * Grad-CAM). Both go through the library as the command line does: the explanation through
 * the one explain-result builder `pss explain` uses (figures/explain-result.ts), turning filters
 * off through the one forward pass `pss prune` uses (jobs/forward.ts, `unitsOffRunner`).
 * Callers serialise the heavy calls (server.ts, JobQueue); a store's NotFound means 404 there.
 */
import { explainImage } from '../figures/explain-result.js';
import { camOverlay } from '../figures/gradcam.js';
import { encodePng } from '../figures/heatmap.js';
import type { RgbImage } from '../image/load.js';
import { forwardRunner, unitsOffRunner } from '../jobs/forward.js';
import { cacheRoot } from '../models/download/index.js';
import type { ModelSpec } from '../models/load.js';
import type { SaliencyOptions } from '../saliency/engine.js';
import { EXPLAIN_DEFAULTS } from '../saliency/explain.js';
import { POT_SCORE_CAP, potProfile } from '../saliency/pot.js';
import { softmax } from '../saliency/report.js';
import type { Standardization } from '../saliency/standardize.js';
import { ImageStore } from './images.js';
import { type LoadedModel, ModelStore } from './models.js';
import { Redactor } from './redact.js';
import { UploadStore } from './uploads.js';

export interface ExplorerOptions extends SaliencyOptions {
  /** Models kept loaded besides the pinned ones (the bundled default, the command line's); default 2. */
  maxModels?: number;
  /** Uploaded images kept; default 8. */
  maxImages?: number;
  /** The page may name files of this machine by path (weights, statistics); default false. */
  allowPaths?: boolean;
  /** Where the details of refused server files go (default console.error). */
  log?: (line: string) => void;
  /** How an explanation standardises when its request does not say (pss serve --standardize); default z. */
  standardize?: Standardization;
  /** The POT threshold quantile (pss serve --pot-quantile); default 0.85. */
  potQuantile?: number;
}

/** A class with its probability. */
export interface ClassProbability {
  class: number;
  name?: string;
  probability: number;
}

export interface Prediction {
  predicted: number;
  predictedName?: string;
  probabilities: ClassProbability[];
  /** How many filters were turned off. */
  zeroed: number;
  logits: Float32Array;
}

export interface ExplainRequest {
  label: number;
  k?: number;
  boost?: number;
  /** Boost these filters (a single-filter map) instead of the top k. */
  filters?: number[];
  /** Include the filter profile (values of every filter); default true. */
  profile?: boolean;
  /** z-scores, or POT's tail probabilities (ranked smallest first, shown as −log10 P); default the server's. */
  standardize?: Standardization;
}

const pngDataUrl = async (img: RgbImage, scale: number) =>
  `data:image/png;base64,${Buffer.from(await encodePng(img, { scale })).toString('base64')}`;

/** 6 significant digits: the chart needs no more, and the JSON halves. */
const round = (v: number | null) => (v !== null && Number.isFinite(v) ? Number(v.toPrecision(6)) : null);

export class Explorer implements AsyncDisposable {
  readonly models: ModelStore;
  readonly images: ImageStore;
  /** What the page is shown passes through it: no absolute path of this machine. */
  readonly redactor = new Redactor();
  /** Uploaded bodies on disk (images, ONNX files, weights, statistics, descriptions). */
  readonly uploads: UploadStore;

  constructor(readonly options: ExplorerOptions = {}) {
    this.redactor.name(cacheRoot(), "the server's download cache");
    this.uploads = new UploadStore(this.redactor);
    this.models = new ModelStore(options, this.uploads, this.redactor);
    this.images = new ImageStore(this.models, options.maxImages);
  }

  /** The models of the command line (see ModelStore.loadInitial). */
  loadInitial(spec: ModelSpec & { stats?: string }): Promise<void> {
    return this.models.loadInitial(spec);
  }

  /** The model the page starts with. */
  get initialId(): string {
    return this.models.initialId;
  }

  private probabilities(m: LoadedModel, logits: ArrayLike<number>, n = 5): ClassProbability[] {
    const p = softmax(logits);
    return Array.from(p.keys())
      .sort((a, b) => p[b] - p[a])
      .slice(0, n)
      .map((c) => ({ class: c, ...(m.classNames && { name: m.classNames[c] }), probability: p[c] }));
  }

  /** The prediction for an image; with `zeroed`, with those filters turned off (their whole output zero). */
  async predict(m: LoadedModel, ref: string, zeroed: readonly number[] = []): Promise<Prediction> {
    const { batch } = await this.images.input(m, ref);
    const logits = zeroed.length
      ? await unitsOffRunner(m.engine, 1).logits(batch.data, [zeroed])
      : await forwardRunner(m.engine, 1).logits(batch.data);
    const probabilities = this.probabilities(m, logits);
    return {
      predicted: probabilities[0].class,
      predictedName: probabilities[0].name,
      probabilities,
      zeroed: zeroed.length,
      logits,
    };
  }

  /** How explanations standardise when a request does not say. */
  get standardize(): Standardization {
    return this.options.standardize ?? 'z';
  }

  /**
   * Filter profile, input-space map (top k, or the given filters), Grad-CAM. With POT the top k
   * are those of smallest P and the profile is −log10 P (capped at POT_SCORE_CAP), as in `pss explain`.
   */
  async explain(m: LoadedModel, ref: string, r: ExplainRequest) {
    const stats = this.models.standardized(m, r.standardize ?? this.standardize);
    const { x, batch } = await this.images.input(m, ref);
    const k = r.k ?? EXPLAIN_DEFAULTS.k;
    const boost = r.boost ?? EXPLAIN_DEFAULTS.boost;
    const pot = stats?.reference.pot;
    const e = await explainImage(m.engine, batch, r.label, {
      reference: stats?.reference,
      k,
      boost,
      filters: r.filters,
      top: k,
      classNames: m.classNames,
    });
    const { report, scale } = e;
    const score = report.pot?.score;
    const cam = (map: typeof e.gradcam.true) => camOverlay(map, x.display).overlay;
    return {
      label: report.label,
      labelName: report.labelName,
      predicted: report.predicted,
      predictedName: report.predictedName,
      loss: report.loss,
      probabilities: report.probabilities,
      standardized: report.standardized,
      standardization: report.standardization,
      pot: pot ? { quantile: pot.q, cap: POT_SCORE_CAP } : null,
      notes: report.notes.map((n) => this.redactor.clean(n)),
      k,
      boost,
      cos: e.explanation.cos,
      boosted: e.boosted.map((b) => ({ ...b, z: round(b.z), ...(score && { pot: round(score[b.index]) }) })),
      profile:
        r.profile === false
          ? undefined
          : {
              aggregation: report.aggregation,
              layers: report.layers,
              values: Array.from(
                pot ? potProfile(report.saliency, pot) : (report.z ?? report.saliency),
                round,
              ),
              top: report.top.map((t) => ({
                ...t,
                z: t.z === null ? null : round(t.z),
                ...(t.pot !== undefined && { pot: round(t.pot) }),
              })),
            },
      maps: {
        input: await pngDataUrl(x.display, scale),
        pss: await pngDataUrl(e.heatmap.overlay, scale),
        gradcamPredicted: await pngDataUrl(cam(e.gradcam.predicted), scale),
        gradcamTrue: await pngDataUrl(cam(e.gradcam.true), scale),
      },
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.models[Symbol.asyncDispose]();
    this.images.clear();
    this.uploads.close();
  }
}
