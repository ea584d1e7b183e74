/**
 * Per-filter running mean and variance in float64: Welford's update for one sample at a
 * time, Chan's formula to merge shards exactly. Pure; no I/O.
 */
export class RunningStats {
  count = 0;
  readonly mean: Float64Array;
  /** Sum of squared deviations from the mean. */
  readonly m2: Float64Array;

  /** Zeros of `size` values, or (`init`) the given arrays themselves, not copied. */
  constructor(
    readonly size: number,
    init?: { mean: Float64Array; m2: Float64Array },
  ) {
    this.mean = init?.mean ?? new Float64Array(size);
    this.m2 = init?.m2 ?? new Float64Array(size);
  }

  /** Adds one sample's saliency vector. */
  push(x: ArrayLike<number>): void {
    if (x.length !== this.size)
      throw new Error(`sample has ${x.length} values, statistics have ${this.size}`);
    this.count += 1;
    const n = this.count;
    const { mean, m2 } = this;
    for (let i = 0; i < this.size; i++) {
      const d = x[i] - mean[i];
      mean[i] += d / n;
      m2[i] += d * (x[i] - mean[i]);
    }
  }

  /** Merges another accumulator into this one (Chan et al.'s parallel formula). */
  merge(other: RunningStats): void {
    if (other.size !== this.size)
      throw new Error(`cannot merge statistics of ${other.size} and ${this.size} values`);
    if (other.count === 0) return;
    const na = this.count;
    const nb = other.count;
    const n = na + nb;
    for (let i = 0; i < this.size; i++) {
      const d = other.mean[i] - this.mean[i];
      this.mean[i] += (d * nb) / n;
      this.m2[i] += other.m2[i] + (d * d * na * nb) / n;
    }
    this.count = n;
  }

  /** Unbiased standard deviation (divides by N - 1); zeros when N < 2. */
  std(): Float64Array {
    const out = new Float64Array(this.size);
    if (this.count < 2) return out;
    for (let i = 0; i < this.size; i++) out[i] = Math.sqrt(this.m2[i] / (this.count - 1));
    return out;
  }

  /** From a count, means and M2s (copied). */
  static from(count: number, mean: Float64Array, m2: Float64Array): RunningStats {
    return RunningStats.adopt(count, Float64Array.from(mean), Float64Array.from(m2));
  }

  /** The same, keeping the arrays themselves (per-parameter statistics are hundreds of MB). */
  static adopt(count: number, mean: Float64Array, m2: Float64Array): RunningStats {
    if (mean.length !== m2.length) throw new Error(`${mean.length} means but ${m2.length} M2 values`);
    const s = new RunningStats(mean.length, { mean, m2 });
    s.count = count;
    return s;
  }
}
