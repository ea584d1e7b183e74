/**
 * The explorer's loaded models: the bundled default and the command line's (pinned), and those
 * the page loads (a built-in architecture with local or cached weights, an uploaded ONNX
 * classifier), the least recently used released beyond a limit. Each has its engine, its
 * statistics, class names and shipped examples.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { PssError } from '../errors.js';
import { classNamesFor } from '../image/labels.js';
import { cachedPath, cacheRoot, parseWeightsSpec } from '../models/download/index.js';
import { bundledExamples, type Example } from '../models/examples.js';
import { DEFAULT_MODEL, loadModel, type ModelSpec } from '../models/load.js';
import type { Model } from '../models/model.js';
import { onnxModel } from '../models/onnx-import.js';
import { loadWeights } from '../models/weights.js';
import { ARCHITECTURES, architecture } from '../models/zoo.js';
import { DEFAULT_AGGREGATION } from '../saliency/aggregation.js';
import { SaliencyEngine, type SaliencyOptions } from '../saliency/engine.js';
import { unitTable } from '../saliency/units.js';
import { type ResolvedStats, resolveStats } from '../stats/resolve.js';
import { NotFound } from './errors.js';

export interface LoadedModel {
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

export interface ModelStoreOptions extends SaliencyOptions {
  /** Models kept loaded besides the pinned ones; default 2. */
  maxModels?: number;
}

export class ModelStore implements AsyncDisposable {
  private readonly models = new Map<string, LoadedModel>();
  private next = 1;
  /** The model the page starts with. */
  initialId = '';

  constructor(readonly options: ModelStoreOptions = {}) {}

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
    const m = await this.add(key, title, model, spec.stats);
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
    return this.add(key, title, model, o.stats);
  }

  /** An uploaded ONNX classifier. */
  async loadOnnx(bytes: Uint8Array, fileName: string, stats?: string): Promise<LoadedModel> {
    const hash = createHash('sha256').update(bytes).digest('hex');
    const key = `onnx:${hash}:${stats ?? ''}`;
    const known = this.find(key);
    if (known) return known;
    return this.add(key, fileName, onnxModel(bytes, fileName), stats);
  }

  private find(key: string): LoadedModel | undefined {
    const m = [...this.models.values()].find((x) => x.key === key);
    if (m) m.used = Date.now();
    return m;
  }

  /** A model already in memory (a library user's, a test's), with statistics from `statsPath` if given. */
  async add(key: string, title: string, model: Model, statsPath?: string): Promise<LoadedModel> {
    const stats = await resolveStats(statsPath, model, DEFAULT_AGGREGATION);
    const m: LoadedModel = {
      id: `m${this.next++}`,
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
    if (!m) throw new NotFound(`model ${id} is not loaded (it may have been released); choose it again`);
    m.used = Date.now();
    return m;
  }

  /** What the page shows about a model, its unit table included (the page locates filters by it). */
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
      units: unitTable(model).map(({ name, offset, filters, kind }) => ({ name, offset, filters, kind })),
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
    if (!e) throw new NotFound(`${m.title} has no example ${file}`);
    return e.path;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const m of this.models.values()) await m.engine[Symbol.asyncDispose]();
    this.models.clear();
  }
}
