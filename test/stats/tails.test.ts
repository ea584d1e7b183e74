/**
 * The tails kept for POT (stats/tails.ts): the streaming top-K per unit is exactly the top of
 * the sorted values; any split into shards merges to exactly what one run keeps; the kept
 * values reach the POT threshold S_sorted[floor(q·n)] for every q ≥ q_min and every n ≤ N;
 * the statistics file keeps them bit for bit and refuses damaged ones.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PssError } from '../../src/errors.js';
import { fitPot } from '../../src/saliency/pot.js';
import { parseStats, type Statistics, serializeStats } from '../../src/stats/file.js';
import {
  mergeTails,
  potModelOf,
  TailKeeper,
  type Tails,
  tailCapacity,
  tailIndex,
  withFits,
} from '../../src/stats/tails.js';
import { RunningStats } from '../../src/stats/welford.js';
import { seededRandom } from '../../src/util/random.js';

/** n samples of `units` values: heavy-tailed, with ties (rounded) and a constant unit. */
function samples(n: number, units: number, seed: number): Float32Array[] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, () =>
    Float32Array.from({ length: units }, (_, u) =>
      u === 0 ? 0.5 : u === 1 ? Math.round(4 * r.next()) / 4 : Math.exp(2 * r.normal()) * 1e-3,
    ),
  );
}

/** The last `width` of each unit's sorted values, as a file keeps them. */
function sortedTop(xs: readonly Float32Array[], units: number, width: number): Float32Array {
  const out = new Float32Array(units * width);
  for (let u = 0; u < units; u++) {
    const col = Float32Array.from(xs, (x) => x[u]).sort();
    out.set(col.subarray(col.length - width), u * width);
  }
  return out;
}

function keep(xs: readonly Float32Array[], units: number, capacity: number, q = 0.85): Tails {
  const k = new TailKeeper(units, capacity, q);
  for (const x of xs) k.push(x);
  return k.tails();
}

describe('tails', () => {
  const units = 7;
  const N = 500;
  const cap = tailCapacity(N, 0.85);
  const xs = samples(N, units, 1);

  it('a streaming keeper holds exactly the top values of every unit', () => {
    assert.equal(cap, Math.ceil((1 - 0.85) * N) + 2);
    const t = keep(xs, units, cap);
    assert.equal(t.width, cap);
    assert.equal(t.count, N);
    assert.deepEqual(t.values, sortedTop(xs, units, cap));
    // Fewer values than the capacity: all of them.
    const few = keep(xs.slice(0, 20), units, cap);
    assert.equal(few.width, 20);
    assert.deepEqual(few.values, sortedTop(xs.slice(0, 20), units, 20));
  });

  it('any split into shards merges to exactly what one run keeps', () => {
    const whole = keep(xs, units, cap);
    const r = seededRandom(2);
    for (let trial = 0; trial < 20; trial++) {
      // Random cut points, including tiny and empty-ish shards, and a shuffled order of parts.
      const cuts = [0, ...Array.from({ length: 1 + (trial % 5) }, () => Math.floor(r.next() * N)), N].sort(
        (a, b) => a - b,
      );
      const parts = cuts.slice(1).map((end, i) => keep(xs.slice(cuts[i], end), units, cap));
      parts.reverse();
      const merged = mergeTails(parts);
      assert.deepEqual(merged, whole, `cuts ${cuts.join(',')}`);
    }
    // A shard that holds all the largest values contributes all of them.
    const order = xs.map((x, i) => [x[2], i] as const).sort((a, b) => b[0] - a[0]);
    const top = new Set(order.slice(0, cap).map(([, i]) => i));
    const a = xs.filter((_, i) => top.has(i));
    const b = xs.filter((_, i) => !top.has(i));
    assert.deepEqual(mergeTails([keep(b, units, cap), keep(a, units, cap)]), whole);
    assert.throws(() => mergeTails([keep(a, units, cap, 0.85), keep(b, units, cap, 0.9)]), PssError);
  });

  it('the kept values reach the POT threshold for every q >= q_min and every count <= N', () => {
    for (let n = 1; n <= 300; n++) {
      const c = tailCapacity(300, 0.85);
      const t = { width: Math.min(n, c), count: n };
      for (const q of [0.85, 0.9, 0.95, 0.99, 0.999])
        assert.notEqual(tailIndex(t, q), undefined, `n = ${n}, q = ${q}`);
    }
    // Below q_min the kept values may not reach: said, not guessed.
    assert.equal(tailIndex({ width: 77, count: 500 }, 0.5), undefined);
    // floor(q·n) as numpy's int(q * n): 0.95 · 20 = 19 exactly, 0.85 · 20 = 17.
    assert.equal(tailIndex({ width: 5, count: 20 }, 0.95), 4);
    assert.equal(tailIndex({ width: 5, count: 20 }, 0.85), 2);
  });

  it('resuming from saved tails continues bit for bit', () => {
    const k = new TailKeeper(units, cap, 0.85);
    for (const x of xs.slice(0, 123)) k.push(x);
    const resumed = TailKeeper.resume(k.tails());
    for (const x of xs.slice(123)) resumed.push(x);
    assert.deepEqual(resumed.tails(), keep(xs, units, cap));
  });

  it('the statistics file keeps the tails bit for bit and refuses damaged ones', () => {
    const acc = new RunningStats(units);
    for (const x of xs) acc.push(x);
    const tails = keep(xs, units, cap);
    const stats: Statistics = {
      meta: {
        model: 'm',
        weightsHash: 'a'.repeat(64),
        aggregation: 'filter',
        target: 'predicted',
        filters: units,
        preprocessing: JSON.stringify({ resize: 32, mean: [0], std: [1], input: [1, 29, 29] }),
        dataset: 'd',
        skipped: 0,
      },
      acc,
      tails,
    };
    const back = parseStats(serializeStats(stats), 's.safetensors');
    assert.deepEqual(back.tails, tails);
    assert.equal(back.meta.target, 'predicted');

    const damaged = (edit: (t: Tails, meta: Record<string, unknown>) => void) => {
      const t = { ...tails, values: Float32Array.from(tails.values) };
      const meta: Record<string, unknown> = { ...stats.meta };
      edit(t, meta);
      return serializeStats({ ...stats, meta: meta as unknown as Statistics['meta'], tails: t });
    };
    const refused = (b: Uint8Array, pattern: RegExp) =>
      assert.throws(
        () => parseStats(b, 's.safetensors'),
        (e: Error) => e instanceof PssError && !e.message.includes('\n') && pattern.test(e.message),
      );
    refused(
      damaged((t) => {
        t.values[3] = t.values[2] - 1;
      }),
      /tails\[0\] is not in ascending order at 3/,
    );
    refused(
      damaged((t) => {
        t.values[cap + 4] = Number.NaN;
      }),
      /tails\[1, 4\] is NaN/,
    );
    refused(
      damaged((t) => {
        t.width = cap - 1;
        t.values = t.values.subarray(0, units * (cap - 1));
      }),
      new RegExp(`tensor "tails" has shape \\[${units}, ${cap - 1}\\]; it should be \\[${units}, ${cap}\\]`),
    );
    refused(
      damaged((t) => {
        t.quantile = 1.5;
      }),
      /"tailQuantile" is "1.5"/,
    );
    refused(
      damaged((_, meta) => {
        meta.target = 'mine';
      }),
      /"target" is "mine"/,
    );

    // The fits kept with finished statistics: read back bit for bit, used for their q, checked.
    const fitted = withFits(tails);
    assert.deepEqual(
      fitted.fits!.map((f) => f.q),
      [0.85, 0.95],
    );
    assert.deepEqual(fitted.fits![1], fitPot(tails, 0.95));
    const again = parseStats(serializeStats({ ...stats, tails: fitted }), 's.safetensors');
    assert.deepEqual(again.tails!.fits, fitted.fits);
    assert.equal(potModelOf(again.tails!, 0.95), again.tails!.fits![1]);
    assert.deepEqual(potModelOf(again.tails!, 0.9), fitPot(tails, 0.9));
    const badFit = (edit: (f: NonNullable<Tails['fits']>[number]) => void) => {
      const fits = fitted.fits!.map((f) => ({
        ...f,
        threshold: f.threshold.slice(),
        peaks: f.peaks.slice(),
        sigma: f.sigma.slice(),
      }));
      edit(fits[0]);
      return serializeStats({ ...stats, tails: { ...fitted, fits } });
    };
    refused(
      badFit((f) => {
        f.threshold[3] += 1;
      }),
      /pot_fits\[0, 0, 3\] \(threshold\) is .*, not the tails' value/,
    );
    refused(
      badFit((f) => {
        f.peaks[2] = cap;
      }),
      /pot_fits\[0, 1, 2\] \(N_t\) is/,
    );
    refused(
      badFit((f) => {
        f.sigma[6] = -1;
      }),
      /pot_fits\[0, 2..3, 6\] is γ = .*, σ = -1/,
    );
  });
});
