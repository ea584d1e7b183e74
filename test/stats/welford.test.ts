import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { standardize } from '../../src/saliency/standardize.js';
import { RunningStats } from '../../src/stats/welford.js';
import { rng } from '../helpers/random.js';

/** Two-pass float64 reference. */
function reference(xs: Float32Array[]) {
  const n = xs.length;
  const size = xs[0].length;
  const mean = new Float64Array(size);
  for (const x of xs) for (let i = 0; i < size; i++) mean[i] += x[i] / n;
  const std = new Float64Array(size);
  for (const x of xs) for (let i = 0; i < size; i++) std[i] += (x[i] - mean[i]) ** 2 / (n - 1);
  return { mean, std: std.map(Math.sqrt) };
}

const rel = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++)
    m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), 1e-300));
  return m;
};

describe('RunningStats', () => {
  const r = rng(7);
  // Offset data stresses the numerics of naive sum-of-squares.
  const xs = Array.from({ length: 301 }, () => r.normal(50).map((v) => 1e3 + v));

  it('matches a two-pass float64 computation (unbiased std)', () => {
    const s = new RunningStats(50);
    for (const x of xs) s.push(x);
    const ref = reference(xs);
    assert.ok(rel(s.mean, ref.mean) < 1e-13);
    assert.ok(rel(s.std(), ref.std) < 1e-10);
  });

  it('merging three shards equals one pass (Chan)', () => {
    const whole = new RunningStats(50);
    for (const x of xs) whole.push(x);
    const shards = [xs.slice(0, 17), xs.slice(17, 200), xs.slice(200)].map((part) => {
      const s = new RunningStats(50);
      for (const x of part) s.push(x);
      return s;
    });
    const merged = new RunningStats(50);
    for (const s of shards) merged.merge(s);
    assert.equal(merged.count, 301);
    assert.ok(rel(merged.mean, whole.mean) < 1e-12);
    assert.ok(rel(merged.std(), whole.std()) < 1e-12);
  });

  it('standardize replaces sigma <= 1e-14 by 1', () => {
    const z = standardize([3, 5, 7], { mean: [1, 1, 1], std: [2, 1e-15, 0] });
    assert.deepEqual(Array.from(z), [1, 4, 6]);
  });
});
