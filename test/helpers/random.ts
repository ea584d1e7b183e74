/** Seeded random test data. */
import { seededRandom } from '../../src/util/random.js';

export function rng(seed: number) {
  const { next, normal } = seededRandom(seed);
  return {
    next,
    uniform: (n: number, lo = -1, hi = 1) => Float32Array.from({ length: n }, () => lo + (hi - lo) * next()),
    normal: (n: number) => Float32Array.from({ length: n }, normal),
    /** Values at least `gap` apart in random order: no ties or near-ties for max-like ops. */
    distinct: (n: number, gap = 0.05) => {
      const v = Array.from({ length: n }, (_, i) => (i - n / 2) * gap);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [v[i], v[j]] = [v[j], v[i]];
      }
      return Float32Array.from(v);
    },
    /** |x| in [lo, hi] with a random sign: away from the kink of relu/abs at 0. */
    awayFromZero: (n: number, lo = 0.1, hi = 1.5) =>
      Float32Array.from({ length: n }, () => (next() < 0.5 ? -1 : 1) * (lo + (hi - lo) * next())),
  };
}
