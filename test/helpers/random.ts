/** Seeded random numbers for tests (mulberry32). */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
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
