/** The per-sample check every architecture's suite runs: a batch of two against each image alone. */
import type { Model } from '../../src/models/model.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';

/** Signed saliency of images `a` and `b` ([1, ...shape] each) as one batch of two, and of each alone. */
export async function pairAndAlone(
  model: Model,
  shape: readonly [1, number, number, number],
  a: Float32Array,
  b: Float32Array,
  labels: readonly [number, number],
) {
  const both = { data: Float32Array.from([...a, ...b]), shape: [2, shape[1], shape[2], shape[3]] as const };
  await using engine = new SaliencyEngine(model);
  const pair = await engine.compute(both, [...labels], 'signed');
  const [first] = await engine.compute({ data: a, shape }, [labels[0]], 'signed');
  const [second] = await engine.compute({ data: b, shape }, [labels[1]], 'signed');
  return { pair, first, second };
}
