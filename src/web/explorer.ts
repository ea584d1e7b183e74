/**
 * What the web explorer holds and computes, apart from HTTP: the loaded models, the uploaded
 * images, and the computations the page asks for — a prediction (optionally with filters
 * zeroed) and an explanation (filter profile, input-space map, Grad-CAM). Everything runs here,
 * in Node, through the library; callers serialise the heavy calls (server.ts, JobQueue).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { PssError } from '../errors.js';
import { camOverlay } from '../figures/gradcam.js';
import { encodePng, inputHeatmap } from '../figures/heatmap.js';
import { loadInput } from '../image/input.js';
import { classNamesFor } from '../image/labels.js';
import { loadImage, type RgbImage } from '../image/load.js';
import type { PreprocessedImage } from '../image/preprocess.js';
import { cachedPath, cacheRoot, parseWeightsSpec } from '../models/download/index.js';
import { bundledExamples, type Example } from '../models/examples.js';
import { DEFAULT_MODEL, loadModel, type ModelSpec } from '../models/load.js';
import type { Model } from '../models/model.js';
import { onnxModel } from '../models/onnx-import.js';
import { loadWeights } from '../models/weights.js';
import { ARCHITECTURES, architecture } from '../models/zoo.js';
import { DEFAULT_AGGREGATION } from '../saliency/aggregation.js';
import { type ImageBatch, SaliencyEngine, type SaliencyOptions } from '../saliency/engine.js';
import { EXPLAIN_DEFAULTS, explain } from '../saliency/explain.js';
import { locate } from '../saliency/rank.js';
import { saliencyReport, softmax } from '../saliency/report.js';
import { type ResolvedStats, resolveStats } from '../stats/resolve.js';
import { HttpError } from './http.js';
import { maskedLogits } from './prune.js';

export interface ExplorerOptions extends SaliencyOptions {
  /** Models kept loaded besides the pinned ones (the bundled default, the command line's); default 2. */
  maxModels?: number;
  /** Uploaded images kept; default 8. */
  maxImages?: number;
}

interface LoadedModel {
  id: string;
  /** Identifies what was loaded (architecture + weights + statistics, or the ONNX file's hash). */
  key: string;
  title: string;
  model: Model;
  engine: SaliencyEngine;
  stats?: ResolvedStats;
  classNames?: readonly string[];
  examples: Example[];
  /** Never released (the bundled default, the command line's model). */
  pinned: boolean;
  used: number;
}

interface StoredImage {
  id: string;
  name: string;
  bytes: Uint8Array;
  width: number;
  height: number;
  /** Preprocessed for each model it was used with. */
  prepared: Map<string, PreprocessedImage>;
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
  /** How many filters were zeroed. */
  zeroed: number;
}

export interface ExplainRequest {
  label: number;
  k?: number;
  boost?: number;
  /** Boost these filters (a single-filter map) instead of the top k. */
  filters?: number[];
  /** Include the filter profile (values of every filter); default true. */
  profile?: boolean;
}

/** Turns a file name from the page into something safe to show. */
export function displayName(name: string | null | undefined, fallback: string): string {
  const clean = basename(String(name ?? ''))
    .replace(/[\p{C}]/gu, '')
    .trim()
    .slice(0, 120);
  return clean || fallback;
}

const pngDataUrl = async (img: RgbImage, scale: number) =>
  `data:image/png;base64,${Buffer.from(await encodePng(img, { scale })).toString('base64')}`;

/** 6 significant digits: the chart needs no more, and the JSON halves. */
const round = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(6)) : null);

export class Explorer implements AsyncDisposable {
  private readonly models = new Map<string, LoadedModel>();
  private readonly images = new Map<string, StoredImage>();
  private nextModel = 1;
  private nextImage = 1;
  /** The model the page starts with. */
  initialId = '';

  constructor(readonly options: ExplorerOptions = {}) {}

  /**
   * The models of the command line: the bundled default always, and `spec` if it names another
   * (it may download, as the other commands do — only the page never downloads).
   */
  async loadInitial(spec: ModelSpec & { stats?: string }): Promise<void> {
    const isDefault = spec.model === DEFAULT_MODEL && !spec.weights;
    const bundled = await this.loadBuiltin(DEFAULT_MODEL, { stats: isDefault ? spec.stats : undefined });
    bundled.pinned = true;
    this.initialId = bundled.id;
    if (isDefault) return;
    const key = `cli:${spec.model}:${spec.weights ?? ''}:${spec.stats ?? ''}`;
    const model = await loadModel(spec);
    const title = /\.onnx$/i.test(spec.model)
      ? basename(spec.model)
      : `${model.name}${spec.weights ? ` · ${spec.weights}` : ''}`;
    const m = await this.register(key, title, model, spec.stats);
    m.pinned = true;
    this.initialId = m.id;
  }

  /**
   * A built-in architecture with its bundled weights, or weights from a local file or from the
   * download cache — never downloaded here.
   */
  async loadBuiltin(name: string, o: { weights?: string; stats?: string } = {}): Promise<LoadedModel> {
    const arch = architecture(name);
    const key = `builtin:${arch.name}:${o.weights ?? ''}:${o.stats ?? ''}`;
    const known = this.find(key);
    if (known) return known;
    let model: Model;
    if (o.weights) {
      const spec = parseWeightsSpec(o.weights);
      if (spec.kind !== 'file' && !existsSync(cachedPath(spec.url)))
        throw new PssError(
          `${o.weights} is not in the download cache (${cacheRoot()}); the web explorer does not download weights — fetch them once with the command line (pss saliency --model ${arch.name} --weights ${o.weights} …) or give a local file`,
        );
      model = await loadWeights(arch, o.weights);
    } else if (arch.bundled) {
      model = await loadModel({ model: arch.name });
    } else {
      throw new PssError(
        `${arch.name} needs weights: a local .safetensors or .pth file, or tv:${arch.name} once it is in the download cache`,
      );
    }
    const title = o.weights ? `${arch.name} · ${o.weights}` : `${arch.name} (bundled)`;
    return this.register(key, title, model, o.stats);
  }

  /** An uploaded ONNX classifier. */
  async loadOnnx(bytes: Uint8Array, fileName: string, stats?: string): Promise<LoadedModel> {
    const hash = createHash('sha256').update(bytes).digest('hex');
    const key = `onnx:${hash}:${stats ?? ''}`;
    const known = this.find(key);
    if (known) return known;
    return this.register(key, fileName, onnxModel(bytes, fileName), stats);
  }

  private find(key: string): LoadedModel | undefined {
    const m = [...this.models.values()].find((x) => x.key === key);
    if (m) m.used = Date.now();
    return m;
  }

  private async register(key: string, title: string, model: Model, statsPath?: string): Promise<LoadedModel> {
    const stats = await resolveStats(statsPath, model, DEFAULT_AGGREGATION);
    const m: LoadedModel = {
      id: `m${this.nextModel++}`,
      key,
      title,
      model,
      engine: new SaliencyEngine(model, {
        device: this.options.device,
        threads: this.options.threads,
        weights: this.options.weights,
      }),
      stats,
      classNames: classNamesFor(model.numClasses, model.arch.classNames),
      examples: bundledExamples(model.arch),
      pinned: false,
      used: Date.now(),
    };
    this.models.set(m.id, m);
    // Release the least recently used models beyond the limit (their sessions hold memory).
    const loose = [...this.models.values()].filter((x) => !x.pinned).sort((a, b) => b.used - a.used);
    for (const old of loose.slice(this.options.maxModels ?? 2)) {
      this.models.delete(old.id);
      await old.engine[Symbol.asyncDispose]();
    }
    return m;
  }

  get(id: string): LoadedModel {
    const m = this.models.get(id);
    if (!m)
      throw new HttpError(404, `model ${id} is not loaded (it may have been released); choose it again`);
    m.used = Date.now();
    return m;
  }

  /** What the page shows about a model. */
  info(m: LoadedModel) {
    const { model, stats } = m;
    return {
      id: m.id,
      title: m.title,
      name: model.name,
      source: model.source,
      numClasses: model.numClasses,
      classNames: m.classNames ?? null,
      inputShape: model.arch.inputShape,
      filterCount: model.filterCount,
      layerCount: model.layers.length,
      standardized: stats !== undefined,
      statistics: stats
        ? { file: basename(stats.path), count: stats.stats.acc.count, dataset: stats.stats.meta.dataset }
        : null,
      notes: [...(model.info.notes ?? []), ...model.warnings],
      examples: m.examples.map((e) => ({
        file: e.file,
        label: e.label,
        labelName: e.labelName,
        predictedName: e.predictedName,
        default: e.default ?? false,
        url: `/api/models/${m.id}/examples/${encodeURIComponent(e.file)}`,
      })),
    };
  }

  loaded() {
    return [...this.models.values()].map((m) => this.info(m));
  }

  /** The built-in architectures, and whether torchvision's weights for each are in the cache. */
  architectures() {
    return Object.values(ARCHITECTURES).map((a) => {
      let cached: string | null = null;
      try {
        const spec = parseWeightsSpec(`tv:${a.name}`);
        if (spec.kind !== 'file' && existsSync(cachedPath(spec.url))) cached = `tv:${a.name}`;
      } catch {
        // not a name the Hub shorthand accepts
      }
      return { name: a.name, description: a.description, bundled: a.bundled !== undefined, cached };
    });
  }

  examplePath(m: LoadedModel, file: string): string {
    const e = m.examples.find((x) => x.file === file);
    if (!e) throw new HttpError(404, `${m.title} has no example ${file}`);
    return e.path;
  }

  // ------------------------------------------------------------------------------- images

  /** Decodes an uploaded image (to refuse a bad one now, with the decoder's message) and keeps it. */
  async addImage(bytes: Uint8Array, fileName: string) {
    const img = await loadImage(bytes, { name: fileName });
    const stored: StoredImage = {
      id: `u${this.nextImage++}`,
      name: fileName,
      bytes,
      width: img.width,
      height: img.height,
      prepared: new Map(),
    };
    this.images.set(stored.id, stored);
    const max = this.options.maxImages ?? 8;
    for (const id of [...this.images.keys()].slice(0, Math.max(0, this.images.size - max)))
      this.images.delete(id);
    return { id: `upload:${stored.id}`, name: stored.name, width: stored.width, height: stored.height };
  }

  /** An image reference from the page ("example:<file>" or "upload:<id>"), preprocessed for the model. */
  async input(
    m: LoadedModel,
    ref: string,
  ): Promise<{ name: string; x: PreprocessedImage; batch: ImageBatch }> {
    let name: string;
    let x: PreprocessedImage;
    if (ref.startsWith('example:')) {
      name = ref.slice('example:'.length);
      x = await loadInput(this.examplePath(m, name), m.model);
    } else if (ref.startsWith('upload:')) {
      const img = this.images.get(ref.slice('upload:'.length));
      if (!img) throw new HttpError(404, 'that image is no longer on the server; choose it again');
      name = img.name;
      let p = img.prepared.get(m.id);
      if (!p) {
        p = await loadInput(img.bytes, m.model);
        img.prepared.set(m.id, p);
      }
      x = p;
    } else {
      throw new HttpError(400, `"image" must be example:<file> or upload:<id>, got ${JSON.stringify(ref)}`);
    }
    return { name, x, batch: { data: x.data, shape: [1, ...x.shape] } };
  }

  // ------------------------------------------------------------------------- computations

  private probabilities(m: LoadedModel, logits: ArrayLike<number>, n = 5): ClassProbability[] {
    const p = softmax(logits);
    return Array.from(p.keys())
      .sort((a, b) => p[b] - p[a])
      .slice(0, n)
      .map((c) => ({ class: c, ...(m.classNames && { name: m.classNames[c] }), probability: p[c] }));
  }

  /** The prediction for an image; with `zeroed`, with those filters' weights set to zero. */
  async predict(m: LoadedModel, ref: string, zeroed: readonly number[] = []): Promise<Prediction> {
    const { batch } = await this.input(m, ref);
    const logits = await maskedLogits(m.engine, batch, zeroed);
    const probabilities = this.probabilities(m, logits);
    return {
      predicted: probabilities[0].class,
      predictedName: probabilities[0].name,
      probabilities,
      zeroed: zeroed.length,
    };
  }

  /** Filter profile, input-space map (top k, or the given filters), Grad-CAM. */
  async explain(m: LoadedModel, ref: string, r: ExplainRequest) {
    const { model, stats } = m;
    const { x, batch } = await this.input(m, ref);
    const k = r.k ?? EXPLAIN_DEFAULTS.k;
    const boost = r.boost ?? EXPLAIN_DEFAULTS.boost;
    const ex = await explain(m.engine, batch, r.label, {
      stats: stats?.reference,
      k,
      boost,
      filters: r.filters,
    });
    const { report } = saliencyReport(model, ex.result, {
      reference: stats?.reference,
      classNames: m.classNames,
      top: k,
    });
    const [, h, w] = x.shape;
    const scale = Math.max(1, Math.floor(224 / Math.max(h, w)));
    const heat = inputHeatmap({ data: ex.inputGradient, shape: x.shape }, x.display);
    const cam = (data: Float32Array) =>
      camOverlay({ data, width: ex.gradcam.shape[1], height: ex.gradcam.shape[0] }, x.display).overlay;
    return {
      label: report.label,
      labelName: report.labelName,
      predicted: report.predicted,
      predictedName: report.predictedName,
      loss: report.loss,
      probabilities: report.probabilities,
      standardized: report.standardized,
      notes: report.notes,
      k,
      boost,
      cos: ex.cos,
      boosted: ex.boosted.map((index) => ({ index, ...locate(index, model.layers), z: round(ex.z[index]) })),
      profile:
        r.profile === false
          ? undefined
          : {
              aggregation: report.aggregation,
              layers: report.layers,
              values: (report.z ?? report.saliency).map(round),
              top: report.top.map((t) => ({ ...t, z: t.z === null ? null : round(t.z) })),
            },
      maps: {
        input: await pngDataUrl(x.display, scale),
        pss: await pngDataUrl(heat.overlay, scale),
        gradcamPredicted: await pngDataUrl(cam(ex.gradcam.predicted), scale),
        gradcamTrue: await pngDataUrl(cam(ex.gradcam.true), scale),
      },
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const m of this.models.values()) await m.engine[Symbol.asyncDispose]();
    this.models.clear();
    this.images.clear();
  }
}
