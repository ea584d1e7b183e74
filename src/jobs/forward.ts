/**
 * The forward passes the experiments run: plain, with units turned off per sample (pruning and
 * the explorer's "zero these filters"), or with chosen parameters fed as inputs (fine-tuning) —
 * each one cached ONNX Runtime session of a fixed batch size; shorter batches are padded.
 */
import { PssError } from '../errors.js';
import type { Runner } from '../runtime/session.js';
import type { SaliencyEngine } from '../saliency/engine.js';
import { buildForward, FEED, type ForwardOptions } from '../saliency/graph.js';
import { unitsOffMask } from '../saliency/units.js';

export interface ForwardRunner {
  /** Rows per ONNX Runtime run. */
  readonly batch: number;
  /**
   * Logits [n, classes] of n images (n·C·H·W values, any n), run `batch` rows at a time. With
   * unitMask, `mask` holds n rows of model.unitCount (1 keeps a unit, 0 turns it off); with
   * paramInputs, `params` holds their current values.
   */
  logits(
    images: Float32Array,
    o?: { mask?: Float32Array; params?: ReadonlyMap<string, Float32Array> },
  ): Promise<Float32Array>;
}

/** A forward runner on the engine's model (sessions cached in the engine, so reuse is free). */
export function forwardRunner(
  engine: SaliencyEngine,
  rows: number,
  options: ForwardOptions = {},
): ForwardRunner {
  const model = engine.model;
  const batch = Math.min(rows, engine.maxBatch);
  const shape = [batch, ...model.arch.inputShape];
  const per = model.arch.inputShape.reduce((a, b) => a * b, 1);
  const f = model.unitCount;
  const classes = model.numClasses;
  const key = `forward:${options.unitMask ? 'mask' : ''}:${(options.paramInputs ?? []).join(',')}:${shape.join('x')}`;
  let runner: Promise<Runner> | undefined;
  return {
    batch,
    async logits(images, o = {}) {
      runner ??= engine.session(key, shape, () => [
        { name: 'logits', value: buildForward(model, shape, options).logits },
      ]);
      const r = await runner;
      if (images.length % per) throw new PssError(`${images.length} input values are not whole images`);
      const n = images.length / per;
      if (options.unitMask && o.mask?.length !== n * f)
        throw new Error(`unit mask needs ${n * f} values, got ${o.mask?.length}`);
      const out = new Float32Array(n * classes);
      const x = new Float32Array(batch * per);
      const m = options.unitMask ? new Float32Array(batch * f) : undefined;
      const params = Object.fromEntries(
        (options.paramInputs ?? []).map((name) => {
          const v = o.params?.get(name);
          if (!v) throw new Error(`no value for parameter input ${name}`);
          return [name, v];
        }),
      );
      for (let start = 0; start < n; start += batch) {
        const count = Math.min(batch, n - start);
        x.fill(0);
        x.set(images.subarray(start * per, (start + count) * per));
        if (m) {
          m.fill(1);
          m.set(o.mask!.subarray(start * f, (start + count) * f));
        }
        const res = await r.run({ [FEED.input]: x, ...(m && { unit_mask: m }), ...params });
        out.set(res.logits.subarray(0, count * classes), start * classes);
      }
      return out;
    },
  };
}

export interface UnitsOffRunner {
  readonly batch: number;
  /** Logits [n, classes] of n images, image r with the units `off[r]` turned off. */
  logits(images: Float32Array, off: readonly (readonly number[])[]): Promise<Float32Array>;
}

/**
 * The forward pass with units turned off — their whole output zero (saliency/units.ts) — each
 * image with its own choice: what `pss prune` and the explorer's "zero these filters" both run.
 */
export function unitsOffRunner(engine: SaliencyEngine, batch: number): UnitsOffRunner {
  const masked = forwardRunner(engine, batch, { unitMask: true });
  return {
    batch: masked.batch,
    logits: (images, off) => masked.logits(images, { mask: unitsOffMask(engine.model.unitCount, off) }),
  };
}

/** Softmax of each row of [n, k] logits, in float64. */
export function softmaxRows(logits: ArrayLike<number>, k: number): Float64Array {
  const out = new Float64Array(logits.length);
  for (let r = 0; r < logits.length / k; r++) {
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < k; j++) max = Math.max(max, logits[r * k + j]);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += out[r * k + j] = Math.exp(logits[r * k + j] - max);
    for (let j = 0; j < k; j++) out[r * k + j] /= sum;
  }
  return out;
}

/** Index of the largest value of row r of [n, k]. */
export function argmaxRow(values: ArrayLike<number>, k: number, r: number): number {
  let best = 0;
  for (let j = 1; j < k; j++) if (values[r * k + j] > values[r * k + best]) best = j;
  return best;
}
