/**
 * The explorer's loaded models: the bundled default and the command line's (pinned), and those
 * the page loads (a built-in architecture with bundled, cached or uploaded weights, an uploaded
 * ONNX classifier), the least recently used released beyond a limit. Each has its engine, its
 * statistics, class names and shipped examples.
 *
 * Files the page names are uploads ("upload:f1"), or — only with --allow-paths — paths on
 * this machine. A file of this machine (such a path, or the download cache) is checked to be
 * a regular file under a size cap before it is read, and when it cannot be parsed the page is
 * told so without the parser's words (they may quote its bytes); those go to the server's log.
 */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { PssError } from '../errors.js';
import { classNamesFor } from '../image/labels.js';
import { formatBytes, readFileChecked, regularFileSize } from '../io/files.js';
import { cachedPath, parseWeightsSpec } from '../models/download/index.js';
import { bundledExamples, type Example } from '../models/examples.js';
import { DEFAULT_MODEL, loadModel, type ModelSpec } from '../models/load.js';
import type { Model } from '../models/model.js';
import { describePreprocessing, type PreprocessingChoice } from '../models/preprocessing-config.js';
import { describeUnitCounts, type UnitSet } from '../models/units.js';
import { loadWeights } from '../models/weights.js';
import { ARCHITECTURES, architecture } from '../models/zoo.js';
import { DEFAULT_AGGREGATION } from '../saliency/aggregation.js';
import { SaliencyEngine, type SaliencyOptions } from '../saliency/engine.js';
import { DEFAULT_POT_QUANTILE } from '../saliency/pot.js';
import type { Standardization } from '../saliency/standardize.js';
import { layerSpans } from '../saliency/units.js';
import { readAnyStats } from '../stats/authors.js';
import { type ResolvedStats, resolveStats } from '../stats/resolve.js';
import { potRefusal, withStandardization } from '../stats/tails.js';
import { NotFound } from './errors.js';
import { checkForward, importUploadedOnnx, type OnnxUpload } from './onnx-upload.js';
import type { Redactor } from './redact.js';
import { type FileKind, kindName, type UploadStore } from './uploads.js';

/** The largest files of this machine the page may have read (weights: VGG-19 is 550 MB). */
export const SERVER_FILE_LIMITS: Record<'weights' | 'stats', number> = {
  weights: 2 ** 31 - 1,
  stats: 256 * 2 ** 20,
};

/** A file the page named: an upload, or a path on this machine (--allow-paths). */
interface NamedFile {
  path: string;
  /** How the page sees it: the upload's name, or the path as typed. */
  shown: string;
  /** What identifies its content for reuse (the upload's hash, or the path). */
  key: string;
  uploaded: boolean;
}

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
  /** An ONNX upload's preprocessing, for the page. */
  preprocessing?: PreprocessingChoice;
}

export interface ModelStoreOptions extends SaliencyOptions {
  /** The POT threshold quantile explanations rank by with --standardize pot; default 0.85. */
  potQuantile?: number;
  /** Models kept loaded besides the pinned ones; default 2. */
  maxModels?: number;
  /** The page may name files of this machine by path (weights, statistics); default false. */
  allowPaths?: boolean;
  /** Where the details of refused server files go (default console.error). */
  log?: (line: string) => void;
}

export class ModelStore implements AsyncDisposable {
  private readonly models = new Map<string, LoadedModel>();
  /** Each model's statistics with their POT model, fitted once (stored fits make it instant). */
  private readonly potStats = new WeakMap<LoadedModel, ResolvedStats>();
  private next = 1;
  /** The model the page starts with. */
  initialId = '';

  constructor(
    readonly options: ModelStoreOptions,
    private readonly uploads: UploadStore,
    private readonly redactor: Redactor,
  ) {}

  private log(line: string): void {
    (this.options.log ?? ((l: string) => console.error(l)))(`pss serve: ${this.redactor.clean(line)}`);
  }

  /** The file the page means by `ref`: an upload ("upload:f1"), or a path when --allow-paths is given. */
  private named(ref: string, kind: FileKind): NamedFile {
    if (ref.startsWith('upload:')) {
      const f = this.uploads.file(ref, kind);
      return { path: f.path, shown: f.name, key: `sha256:${f.sha256}`, uploaded: true };
    }
    if (!this.options.allowPaths)
      throw new PssError(
        `the page cannot name files on the server (${JSON.stringify(ref)}): upload the ${kindName(kind)}, or start pss serve with --allow-paths`,
      );
    return { path: ref, shown: ref, key: `path:${ref}`, uploaded: false };
  }

  /**
   * Reads a file of this machine (a path the page named, the download cache): a regular file
   * under the cap, or a one-line refusal; a parse failure is told without the parser's words.
   */
  private async serverFile<T>(f: NamedFile, kind: 'weights' | 'stats', read: () => Promise<T>): Promise<T> {
    if (f.uploaded) return read();
    const what = kindName(kind);
    const size = await regularFileSize(f.path, what);
    if (size > SERVER_FILE_LIMITS[kind])
      throw new PssError(
        `${what} ${f.shown} is ${formatBytes(size)}; the explorer reads ${what}s of up to ${formatBytes(SERVER_FILE_LIMITS[kind])}`,
      );
    try {
      return await read();
    } catch (e) {
      if (!(e instanceof PssError)) throw e;
      this.log(`${f.shown}: ${e.message}`);
      throw new PssError(`${f.shown} could not be read as a ${what} (the reason is in the server's log)`);
    }
  }

  /** Statistics from a named file, read once here (resolveStats in add() then checks them against the model). */
  private async stats(ref: string | undefined): Promise<{ path?: string; key: string }> {
    if (ref === undefined) return { key: '' };
    const f = this.named(ref, 'stats');
    await this.serverFile(f, 'stats', () => readAnyStats(f.path));
    return { path: f.path, key: f.key };
  }

  /** What a model's title adds for statistics other than its own: the file's name as the page knows it. */
  private statsTitle(ref: string | undefined): string {
    if (ref === undefined) return '';
    const shown = ref.startsWith('upload:') ? this.named(ref, 'stats').shown : ref;
    return ` · statistics ${basename(shown)}`;
  }

  /**
   * The models of the command line: the bundled default always, and `spec` if it names another
   * (it may download, as the other commands do — only the page never downloads).
   */
  async loadInitial(spec: ModelSpec & { stats?: string }): Promise<void> {
    const isDefault = spec.model === DEFAULT_MODEL && !spec.weights && !spec.preprocessing && !spec.units;
    const bundled = await this.loadBuiltin(DEFAULT_MODEL, {
      stats: isDefault ? spec.stats : undefined,
      commandLine: true,
    });
    bundled.pinned = true;
    this.initialId = bundled.id;
    if (isDefault) return;
    const key = `cli:${spec.model}:${spec.weights ?? ''}:${spec.stats ?? ''}:${spec.units ?? ''}`;
    const model = await loadModel(spec);
    const title = /\.onnx$/i.test(spec.model)
      ? basename(spec.model)
      : `${model.name}${spec.weights ? ` · ${spec.weights}` : ''}`;
    const m = await this.add(key, `${title}${this.statsTitle(spec.stats)}`, model, spec.stats);
    m.pinned = true;
    this.initialId = m.id;
  }

  /**
   * A built-in architecture with its bundled weights, or weights uploaded, in the download
   * cache, or (--allow-paths) at a path — never downloaded here.
   */
  async loadBuiltin(
    name: string,
    o: {
      weights?: string;
      stats?: string;
      units?: UnitSet;
      /** The statistics are the command line's (pss serve --stats): a path, read as every command reads it. */
      commandLine?: boolean;
    } = {},
  ): Promise<LoadedModel> {
    const arch = architecture(name);
    let weights: NamedFile | undefined;
    if (o.weights) {
      const spec = o.weights.startsWith('upload:') ? undefined : parseWeightsSpec(o.weights);
      if (!spec || spec.kind === 'file') weights = this.named(o.weights, 'weights');
      else {
        const path = cachedPath(spec.url);
        if (!existsSync(path))
          throw new PssError(
            `${o.weights} is not in the server's download cache; the web explorer does not download weights — fetch them once with the command line (pss saliency --model ${arch.name} --weights ${o.weights} …)${this.options.allowPaths ? ' or give a local file' : ', or upload the file'}`,
          );
        weights = { path, shown: o.weights, key: `cache:${spec.url}`, uploaded: false };
      }
    } else if (!arch.bundled)
      throw new PssError(
        `${arch.name} needs weights: a .safetensors or .pth file${this.options.allowPaths ? '' : ' (upload it)'}, or tv:${arch.name} once it is in the download cache`,
      );
    const statsKey = o.stats
      ? o.stats.startsWith('upload:')
        ? this.named(o.stats, 'stats').key
        : o.stats
      : '';
    const key = `builtin:${arch.name}:${weights?.key ?? ''}:${statsKey}:${o.units ?? ''}`;
    const known = this.find(key);
    if (known) return known;
    const loaded = weights
      ? await this.serverFile(weights, 'weights', () => loadWeights(arch, weights.path))
      : await loadModel({ model: arch.name });
    const model = o.units ? loaded.withUnits(o.units) : loaded;
    const stats = o.commandLine ? { path: o.stats } : await this.stats(o.stats);
    const title = `${weights ? `${arch.name} · ${basename(weights.shown)}` : `${arch.name} (bundled)`}${o.units ? ` · ${o.units}` : ''}${this.statsTitle(o.stats)}`;
    return this.add(key, title, model, stats.path);
  }

  /**
   * An uploaded ONNX classifier, with the preprocessing the page chose, checked now so that a
   * model that cannot be explained is refused at upload, with the reason.
   */
  async loadOnnx(
    upload: OnnxUpload,
    o: { stats?: string; preprocessing?: string; units?: UnitSet } = {},
  ): Promise<LoadedModel> {
    const file = o.preprocessing?.startsWith('upload:')
      ? this.named(o.preprocessing, 'preprocessing')
      : undefined;
    const description = file
      ? new TextDecoder().decode(await readFileChecked(file.path, 'preprocessing description', 1 << 20))
      : o.preprocessing;
    const statsKey = o.stats ? this.named(o.stats, 'stats').key : '';
    const key = `onnx:${upload.sha256}:${statsKey}:${description ?? ''}:${o.units ?? ''}`;
    const known = this.find(key);
    if (known) return known;
    const imported = await importUploadedOnnx(upload, description, file?.shown);
    const { preprocessing } = imported;
    const model = o.units ? imported.model.withUnits(o.units) : imported.model;
    const stats = await this.stats(o.stats);
    const title = `${upload.name}${o.units ? ` · ${o.units}` : ''}${this.statsTitle(o.stats)}`;
    const m = await this.add(key, title, model, stats.path);
    m.preprocessing = preprocessing;
    try {
      await checkForward(m.engine, model, upload.name);
    } catch (e) {
      await this.release(m);
      throw e;
    }
    return m;
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
    for (const old of loose.slice(this.options.maxModels ?? 2)) await this.release(old);
    return m;
  }

  /** Releases a model (its sessions) now; the page's list no longer has it. */
  async release(m: LoadedModel): Promise<void> {
    if (!this.models.delete(m.id)) return;
    await m.engine[Symbol.asyncDispose]();
  }

  get(id: string): LoadedModel {
    const m = this.models.get(id);
    if (!m) throw new NotFound(`model ${id} is not loaded (it may have been released); choose it again`);
    m.used = Date.now();
    return m;
  }

  get potQuantile(): number {
    return this.options.potQuantile ?? DEFAULT_POT_QUANTILE;
  }

  /**
   * The statistics a model's explanations standardise by: as loaded for z; for pot, with every
   * unit's fitted tail — or one line saying why its statistics cannot (withStandardization's).
   */
  standardized(m: LoadedModel, method: Standardization): ResolvedStats | undefined {
    if (method === 'z') return m.stats;
    let s = this.potStats.get(m);
    if (!s) {
      s = withStandardization(m.stats, 'pot', this.potQuantile)!;
      this.potStats.set(m, s);
    }
    return s;
  }

  /** What the page shows about a model, its unit table included (the page locates filters by it). */
  info(m: LoadedModel) {
    const { model, stats } = m;
    return {
      id: m.id,
      title: this.redactor.clean(m.title),
      pinned: m.pinned,
      name: model.name,
      source: this.redactor.clean(model.source),
      preprocessing: m.preprocessing
        ? { summary: m.preprocessing.summary, assumed: m.preprocessing.assumed }
        : { summary: describePreprocessing(model.arch.preprocessing, model.arch.inputShape), assumed: false },
      numClasses: model.numClasses,
      classNames: m.classNames ?? null,
      inputShape: model.arch.inputShape,
      unitCount: model.unitCount,
      layerCount: model.layers.length,
      /** The unit set, its units counted by kind ("192 filters, 10 neurons"), and the table. */
      unitSet: model.units,
      unitCounts: describeUnitCounts(model.layers),
      units: layerSpans(model.layers),
      standardized: stats !== undefined,
      statistics: stats
        ? {
            file: basename(this.redactor.clean(stats.path)),
            count: stats.stats.acc.count,
            dataset: stats.stats.meta.dataset,
          }
        : null,
      /** POT at the server's quantile, or why not (no statistics, no tails, tails too short). */
      pot: { quantile: this.potQuantile, refusal: this.potRefusal(m) },
      notes: [...(model.info.notes ?? []), ...model.warnings].map((n) => this.redactor.clean(n)),
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

  /** Why this model cannot rank by POT (null when it can), no path of this machine in it. */
  private potRefusal(m: LoadedModel): string | null {
    const why = potRefusal(m.stats, this.potQuantile);
    return why === undefined ? null : this.redactor.clean(why);
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
