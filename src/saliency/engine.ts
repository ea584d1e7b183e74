/**
 * Filter saliency on ONNX Runtime: one cached session per (aggregation, batch, input size),
 * per-sample results for a batch of images in one run.
 */
import { PssError } from '../errors.js';
import { GraphError } from '../graph/graph.js';
import type { GraphOutput } from '../graph/onnx.js';
import type { Model } from '../models/model.js';
import { type Device, Runner, type WeightPlacement } from '../runtime/session.js';
import { type Aggregation, DEFAULT_AGGREGATION } from './aggregation.js';
import { buildSaliencyGraph, FEED, oneHot } from './graph.js';
import { DEFAULT_TARGET, type Target, targetClass } from './target.js';

export interface SaliencyOptions {
  device?: Device;
  threads?: number;
  /** How ONNX Runtime gets the weights; by default each graph kind gets its measured best (WEIGHTS). */
  weights?: WeightPlacement;
}

/**
 * Measured on ResNet-50 (npm run bench -- --weights ...): per-sample filter saliency runs
 * fastest with the weights as initializers (0.21-0.26 s per image vs 0.26-0.29 s as inputs,
 * at 0.95 GB vs 0.65 GB peak). For the second-order explain graph, feeding them as inputs
 * costs no measurable time on this noisy 2-core machine (0.67-0.69 s vs 0.72 s) and cuts
 * peak memory from 1.23 GB to 0.66 GB.
 */
export const WEIGHTS = { saliency: 'initializers', explain: 'inputs' } as const satisfies Record<
  string,
  WeightPlacement
>;

export interface SaliencyResult {
  /** The image's true label (as given). */
  label: number;
  /** The class whose loss was differentiated: the label, a chosen class, or the prediction. */
  target: number;
  predicted: number;
  loss: number;
  logits: Float32Array;
  /** One value per filter, in the model's layer order (or per parameter element). */
  saliency: Float32Array;
  aggregation: Aggregation;
}

/** A batch of preprocessed images, NCHW float32. */
export interface ImageBatch {
  data: Float32Array;
  shape: readonly [number, number, number, number];
}

export class SaliencyEngine implements AsyncDisposable {
  private readonly runners = new Map<string, Promise<Runner>>();

  constructor(
    readonly model: Model,
    readonly options: SaliencyOptions = {},
  ) {}

  /** The most images one run takes (arch.maxBatch): callers batch at most this many. */
  get maxBatch(): number {
    return this.model.arch.maxBatch ?? Number.POSITIVE_INFINITY;
  }

  /**
   * A cached ONNX Runtime session for a graph over inputs of `shape`, built on first use. A
   * model that cannot take an input size other than its own (too small for its kernels, say)
   * is a user error naming the size; at the model's own size a graph error stays a bug.
   */
  session(
    key: string,
    shape: readonly number[],
    outputs: () => GraphOutput[],
    kind: keyof typeof WEIGHTS = 'saliency',
  ): Promise<Runner> {
    if (shape[0] > this.maxBatch)
      throw new Error(`${this.model.name} takes ${this.maxBatch} image(s) per run, not ${shape[0]}`);
    let r = this.runners.get(key);
    if (!r) {
      const [h, w] = shape.slice(2);
      const [, eh, ew] = this.model.arch.inputShape;
      const build = outputs;
      outputs = () => {
        try {
          return build();
        } catch (e) {
          if (!(e instanceof GraphError) || (h === eh && w === ew)) throw e;
          throw new PssError(
            `${this.model.name} cannot take a ${h}x${w} input (it is built for ${eh}x${ew}): ${e.message}`,
          );
        }
      };
      // On a GPU, fed weights would be uploaded again on every run: keep them on the device.
      const weights = this.options.device === 'webgpu' ? 'initializers' : WEIGHTS[kind];
      r = Runner.create(outputs(), { ...this.options, weights: this.options.weights ?? weights });
      this.runners.set(key, r);
    }
    return r;
  }

  private runner(mode: Aggregation, shape: readonly number[], predicted: boolean): Promise<Runner> {
    const key = `saliency:${mode}${predicted ? ':predicted' : ''}:${shape.join('x')}`;
    return this.session(key, shape, () => {
      const g = buildSaliencyGraph(this.model, shape, mode, predicted);
      return [
        { name: 'logits', value: g.logits },
        { name: 'loss', value: g.loss },
        { name: 'saliency', value: g.saliency },
      ];
    });
  }

  /**
   * Saliency of every image in the batch, given its true label: the loss of the true label
   * (the default), of one class, or of the model's own prediction (chosen inside the graph, so
   * one run does it).
   */
  async compute(
    batch: ImageBatch,
    labels: readonly number[],
    mode: Aggregation = DEFAULT_AGGREGATION,
    target: Target = DEFAULT_TARGET,
  ): Promise<SaliencyResult[]> {
    const [n, c, h, w] = batch.shape;
    const [ec] = this.model.arch.inputShape;
    if (c !== ec) throw new PssError(`input has ${c} channels; ${this.model.name} expects ${ec}`);
    if (!(n >= 1 && h >= 1 && w >= 1))
      throw new PssError(`input has an empty shape [${batch.shape.join(', ')}]`);
    if (batch.data.length !== n * c * h * w)
      throw new PssError(`input has ${batch.data.length} values for shape [${batch.shape}]`);
    if (labels.length !== n) throw new PssError(`${labels.length} labels for ${n} images`);
    const k = this.model.numClasses;
    for (const label of labels) {
      if (!Number.isInteger(label) || label < 0 || label >= k)
        throw new PssError(`label ${label} is out of range: ${this.model.name} has classes 0..${k - 1}`);
    }
    if (
      typeof target === 'object' &&
      !(Number.isInteger(target.class) && target.class >= 0 && target.class < k)
    )
      throw new PssError(
        `target class ${target.class} is out of range: ${this.model.name} has classes 0..${k - 1}`,
      );
    if (n > this.maxBatch) {
      const per = c * h * w;
      const results: SaliencyResult[] = [];
      for (let i = 0; i < n; i += this.maxBatch) {
        const m = Math.min(this.maxBatch, n - i);
        const part = { data: batch.data.subarray(i * per, (i + m) * per), shape: [m, c, h, w] as const };
        results.push(...(await this.compute(part, labels.slice(i, i + m), mode, target)));
      }
      return results;
    }
    const predicted = target === 'predicted';
    const runner = await this.runner(mode, batch.shape, predicted);
    const lossClasses = labels.map((l) => targetClass(target, l) ?? 0);
    const out = await runner.run({ [FEED.input]: batch.data, [FEED.onehot]: oneHot(lossClasses, k) });
    const per = out.saliency.length / n;
    return labels.map((label, i) => {
      const logits = Float32Array.from(out.logits.subarray(i * k, (i + 1) * k));
      const best = argmax(logits);
      return {
        label,
        target: predicted ? best : lossClasses[i],
        predicted: best,
        loss: out.loss[i],
        logits,
        saliency: Float32Array.from(out.saliency.subarray(i * per, (i + 1) * per)),
        aggregation: mode,
      };
    });
  }

  /** Releases the ONNX Runtime sessions (also `await using engine = ...` in TypeScript). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async close(): Promise<void> {
    // A session that failed to start has nothing to release; its error was already thrown.
    for (const r of this.runners.values()) await r.then((runner) => runner.release()).catch(() => {});
    this.runners.clear();
  }
}

export function argmax(xs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}
