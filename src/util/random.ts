/** Seeded random numbers (mulberry32): reproducible noise and random baselines. */
export function seededRandom(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  /** Standard normal (Box–Muller). */
  const normal = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  /** k distinct integers from [0, n) (partial Fisher–Yates). */
  const sample = (n: number, k: number) => {
    const pool = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < Math.min(k, n); i++) {
      const j = i + Math.floor(next() * (n - i));
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    return pool.slice(0, k);
  };
  return { next, normal, sample };
}
