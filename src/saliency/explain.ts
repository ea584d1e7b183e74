/**
 * Input-space saliency (DESIGN §1 step 6) and Grad-CAM for one image: which pixels drive
 * the most salient filters. One run of one second-order graph gives the filter saliency,
 * the boosted target (top k chosen in the graph), the map and Grad-CAM.
 */
import { PssError } from '../errors.js';
import { seededRandom } from '../util/random.js';
import { type Aggregation, DEFAULT_AGGREGATION } from './aggregation.js';
import { argmax, type ImageBatch, type SaliencyEngine, type SaliencyResult } from './engine.js';
import { buildExplainGraph } from './explain-graph.js';
import { FEED, oneHot } from './graph.js';
import type { RankBy } from './rank.js';
import { standardize, usableSigma } from './standardize.js';
import { DEFAULT_TARGET, type Target, targetClass } from './target.js';
import { unitName } from './units.js';

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
  /** Rows (the clean image, the noised copies) per ONNX Runtime run (default: all in one). */
  noiseBatch?: number;
  /** Whose loss (default the true label). */
  target?: Target;
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
  const f = model.unitCount;
  if (image.shape[0] !== 1) throw new PssError('explain takes one image');
  if (!Number.isInteger(k) || k < 1 || k > f) throw new PssError(`k must be between 1 and ${f}, got ${k}`);
  if (!Number.isInteger(iters) || iters < 1)
    throw new PssError(`noise iterations must be >= 1, got ${iters}`);
  if (!(p >= 0 && p <= 1)) throw new PssError(`noise percent must be in [0, 1], got ${p}`);
  for (const i of o.filters ?? [])
    if (!Number.isInteger(i) || i < 0 || i >= f)
      throw new PssError(`${unitName(model.layers)} index ${i} is out of range 0..${f - 1}`);

  const rand = seededRandom(o.seed ?? EXPLAIN_DEFAULTS.seed);
  const [, c, h, w] = image.shape;
  const per = c * h * w;
  const x = image.data;
  // Row 0 is the clean image (the report, Grad-CAM); with noise, rows 1..n are the noised
  // copies (1 - p) x + p N(0, 1) whose maps are averaged, each with its own top k.
  const noisy = p > 0;
  const rows = noisy ? iters + 1 : 1;
  const data = new Float32Array(rows * per);
  data.set(x);
  for (let i = 1; i < rows; i++)
    for (let j = 0; j < per; j++) data[i * per + j] = (1 - p) * x[j] + p * rand.normal();
  const batch = Math.min(rows, o.noiseBatch ?? rows, engine.maxBatch);
  if (!Number.isInteger(batch) || batch < 1)
    throw new PssError(`noise batch must be >= 1, got ${o.noiseBatch}`);
  const shape = [batch, c, h, w] as const;

  const mean = Float32Array.from(o.stats?.mean ?? new Float64Array(f));
  const std = Float32Array.from(o.stats?.std ?? new Float64Array(f).fill(1), usableSigma);
  const nc = model.numClasses;
  const target = o.target ?? DEFAULT_TARGET;
  if (
    typeof target === 'object' &&
    !(Number.isInteger(target.class) && target.class >= 0 && target.class < nc)
  )
    throw new PssError(
      `target class ${target.class} is out of range: ${model.name} has classes 0..${nc - 1}`,
    );
  const lossTarget = typeof target === 'object' ? 'class' : target;
  const feeds: Record<string, Float32Array> = {
    [FEED.input]: data,
    [FEED.onehot]: oneHot(new Array(rows).fill(label), nc),
    mean,
    std,
  };
  if (lossTarget === 'class')
    feeds.target_onehot = oneHot(new Array(rows).fill((target as { class: number }).class), nc);

  // Hand-picked or random filters come in as a mask; the top k is chosen inside the graph.
  const fixedChoice = o.filters !== undefined || o.random === true;
  if (fixedChoice) {
    const mask = new Float32Array(rows * f);
    for (let i = 0; i < rows; i++) for (const j of o.filters ?? rand.sample(f, k)) mask[i * f + j] = 1;
    feeds.boost_mask = mask;
  }
  const byAbs = (o.rankBy ?? 'z') === 'abs-z';
  const selection = fixedChoice ? ('mask' as const) : { topK: k, byAbs };
  const key = `explain:${mode}:${lossTarget}:${shape.join('x')}:${fixedChoice ? 'mask' : `top${k}${byAbs ? 'abs' : ''}`}:${boost}`;
  const runner = await engine.session(
    key,
    shape,
    () => {
      const g = buildExplainGraph(model, shape, mode, selection, boost, lossTarget);
      return [
        { name: 'logits', value: g.logits },
        { name: 'loss', value: g.loss },
        { name: 'saliency', value: g.saliency },
        { name: 'boosted', value: g.boosted },
        { name: 'cos', value: g.cos },
        { name: 'input_gradient', value: g.inputGradient },
        { name: 'cam_predicted', value: g.camPredicted },
        { name: 'cam_true', value: g.camTrue },
      ];
    },
    'explain',
  );
  // `batch` rows a run; a short last run repeats the last row. Row 0's outputs come from run 0.
  const rowFeeds = (start: number) =>
    Object.fromEntries(
      Object.entries(feeds).map(([name, v]) => {
        if (name === 'mean' || name === 'std') return [name, v];
        const width = v.length / rows;
        const chunk = new Float32Array(batch * width);
        for (let i = 0; i < batch; i++)
          chunk.set(
            v.subarray(Math.min(start + i, rows - 1) * width, (Math.min(start + i, rows - 1) + 1) * width),
            i * width,
          );
        return [name, chunk];
      }),
    );
  const maps: ArrayLike<number>[] = [];
  let out: Awaited<ReturnType<typeof runner.run>> | undefined;
  for (let start = 0; start < rows; start += batch) {
    const run = await runner.run(batch === rows ? feeds : rowFeeds(start));
    out ??= run;
    for (let i = 0; i < batch && start + i < rows; i++)
      maps.push(run.input_gradient.subarray(i * per, (i + 1) * per));
  }
  if (!out) throw new Error('explain ran no rows');

  const inputGradient = new Float32Array(per);
  const first = noisy ? 1 : 0;
  for (let i = first; i < rows; i++)
    for (let j = 0; j < per; j++) inputGradient[j] += maps[i][j] / (rows - first);
  const logits = Float32Array.from(out.logits.subarray(0, nc));
  const predicted = argmax(logits);
  const clean: SaliencyResult = {
    label,
    target: targetClass(target, label) ?? predicted,
    predicted,
    loss: out.loss[0],
    logits,
    saliency: Float32Array.from(out.saliency.subarray(0, f)),
    aggregation: mode,
  };
  const z = standardize(clean.saliency, { mean, std });
  const chosen = Array.from(out.boosted.subarray(0, f).keys()).filter((j) => out.boosted[j] > 0);
  // Largest first (by the ranking used), as a list of the boosted filters reads best.
  const boosted = o.filters
    ? [...o.filters]
    : chosen.sort((a, b) => (byAbs ? Math.abs(z[b]) - Math.abs(z[a]) : z[b] - z[a]));
  const [, ch, cw] = runner.outputShapes.cam_true;
  const camSize = ch * cw;
  return {
    result: clean,
    z,
    boosted,
    inputGradient,
    gradcam: {
      predicted: Float32Array.from(out.cam_predicted.subarray(0, camSize)),
      true: Float32Array.from(out.cam_true.subarray(0, camSize)),
      shape: [ch, cw],
    },
    cos: out.cos[0],
  };
}
