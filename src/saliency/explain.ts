/**
 * Input-space saliency (DESIGN §1 step 6) and Grad-CAM for one image: which pixels drive
 * the most salient filters. Two runs: the filter saliency of the (noised) inputs picks and
 * boosts the target filters, then one second-order graph gives the map and Grad-CAM.
 */
import { PssError } from '../errors.js';
import { SIGMA_FLOOR, standardize } from '../stats/welford.js';
import { seededRandom } from '../util/random.js';
import { type Aggregation, DEFAULT_AGGREGATION } from './aggregation.js';
import type { ImageBatch, SaliencyEngine, SaliencyResult } from './engine.js';
import { buildExplainGraph } from './explain-graph.js';
import { type RankBy, topFilters } from './rank.js';

export const EXPLAIN_DEFAULTS = { k: 10, boost: 100, noiseIters: 1, noisePercent: 0, seed: 0 } as const;

export interface ExplainOptions {
  aggregation?: Aggregation;
  /** Validation statistics; without them z is the raw saliency (μ = 0, σ = 1). */
  stats?: { mean: ArrayLike<number>; std: ArrayLike<number> };
  /** Boost the k most salient filters (default 10)... */
  k?: number;
  /** ...by this factor (default 100). */
  boost?: number;
  rankBy?: RankBy;
  /** Boost these filters (indices into the saliency vector) instead of the top k. */
  filters?: readonly number[];
  /** Boost k random filters instead (the paper's baseline). */
  random?: boolean;
  /** SmoothGrad-like averaging over inputs (1 - p) x + p N(0, 1) (defaults 1 and 0). */
  noiseIters?: number;
  noisePercent?: number;
  /** Seed for the noise and the random baseline. */
  seed?: number;
}

export interface ExplainResult {
  /** Filter saliency of the clean image. */
  result: SaliencyResult;
  /** Its standardised profile (the raw one without statistics). */
  z: Float64Array;
  /** The boosted filters (for the clean image, or the first noise sample). */
  boosted: number[];
  /** d/dx cos(z(x), s'), averaged over the noise samples: [C, H, W], before any post-processing. */
  inputGradient: Float32Array;
  /** Grad-CAM of the predicted and of the true class on the last conv block, [h, w] each. */
  gradcam: { predicted: Float32Array; true: Float32Array; shape: [number, number] };
  /** cos(z, s') of the clean image. */
  cos: number;
}

export async function explain(
  engine: SaliencyEngine,
  image: ImageBatch,
  label: number,
  o: ExplainOptions = {},
): Promise<ExplainResult> {
  const model = engine.model;
  const mode = o.aggregation ?? DEFAULT_AGGREGATION;
  const k = o.k ?? EXPLAIN_DEFAULTS.k;
  const boost = o.boost ?? EXPLAIN_DEFAULTS.boost;
  const iters = o.noiseIters ?? EXPLAIN_DEFAULTS.noiseIters;
  const p = o.noisePercent ?? EXPLAIN_DEFAULTS.noisePercent;
  const f = model.filterCount;
  if (image.shape[0] !== 1) throw new PssError('explain takes one image');
  if (!Number.isInteger(k) || k < 1 || k > f) throw new PssError(`k must be between 1 and ${f}, got ${k}`);
  if (!Number.isInteger(iters) || iters < 1)
    throw new PssError(`noise iterations must be >= 1, got ${iters}`);
  if (!(p >= 0 && p <= 1)) throw new PssError(`noise percent must be in [0, 1], got ${p}`);
  for (const i of o.filters ?? [])
    if (!Number.isInteger(i) || i < 0 || i >= f)
      throw new PssError(`filter index ${i} is out of range 0..${f - 1}`);

  const rand = seededRandom(o.seed ?? EXPLAIN_DEFAULTS.seed);
  const [, c, h, w] = image.shape;
  const per = c * h * w;
  const x = image.data;
  // The noised copies (the clean image itself when p = 0), one batch.
  const data = new Float32Array(iters * per);
  for (let i = 0; i < iters; i++)
    for (let j = 0; j < per; j++) data[i * per + j] = p === 0 ? x[j] : (1 - p) * x[j] + p * rand.normal();
  const batch = { data, shape: [iters, c, h, w] as const };

  const mean = Float32Array.from(o.stats?.mean ?? new Float64Array(f));
  const std = Float32Array.from(o.stats?.std ?? new Float64Array(f).fill(1), (s) =>
    s <= SIGMA_FLOOR ? 1 : s,
  );
  const [clean] = await engine.compute(image, [label], mode);
  const noisy =
    p === 0 ? Array(iters).fill(clean) : await engine.compute(batch, Array(iters).fill(label), mode);

  // Each sample's own target: its z with the chosen filters boosted (a constant).
  const target = new Float32Array(iters * f);
  let boosted: number[] = [];
  noisy.forEach((r: SaliencyResult, i: number) => {
    const z = standardize(r.saliency, mean, std);
    const chosen = o.filters
      ? [...o.filters]
      : o.random
        ? rand.sample(f, k)
        : topFilters(z, model.layers, k, o.rankBy ?? 'z').map((t) => t.index);
    if (i === 0) boosted = chosen;
    const row = target.subarray(i * f, (i + 1) * f);
    row.set(z);
    for (const j of chosen) row[j] *= boost;
  });

  const nc = model.numClasses;
  const onehot = (cls: number) => {
    const out = new Float32Array(iters * nc);
    for (let i = 0; i < iters; i++) out[i * nc + cls] = 1;
    return out;
  };
  const runner = await engine.session(`explain:${mode}:${batch.shape.join('x')}`, () => {
    const g = buildExplainGraph(model, batch.shape, mode);
    return [
      { name: 'input_gradient', value: g.inputGradient },
      { name: 'cos', value: g.cos },
      { name: 'cam_a', value: g.camA },
      { name: 'cam_b', value: g.camB },
    ];
  });
  const out = await runner.run({
    input: data,
    onehot: onehot(label),
    onehot_cam_a: onehot(clean.predicted),
    onehot_cam_b: onehot(label),
    target,
    mean,
    std,
  });
  const inputGradient = new Float32Array(per);
  for (let i = 0; i < iters; i++)
    for (let j = 0; j < per; j++) inputGradient[j] += out.input_gradient[i * per + j] / iters;
  const [, ch, cw] = runner.outputShapes.cam_a;
  const camSize = ch * cw;
  return {
    result: clean,
    z: standardize(clean.saliency, mean, std),
    boosted,
    inputGradient,
    gradcam: {
      predicted: Float32Array.from(out.cam_a.subarray(0, camSize)),
      true: Float32Array.from(out.cam_b.subarray(0, camSize)),
      shape: [ch, cw],
    },
    cos: out.cos[0],
  };
}
