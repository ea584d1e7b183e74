/**
 * POT (DESIGN §1.5) against references made by scripts/reference/make_pot_fixtures.py:
 * - the GPD fit against scipy.stats.genpareto's maximum-likelihood fit on synthetic samples
 *   (γ ∈ {−0.2, 0, 0.3}, 30 to 1000 peaks, scales 1e-3 to 250): our log-likelihood is never
 *   below scipy's by more than 1e-6 relative (higher is allowed: scipy's optimiser can stop
 *   short of the maximum);
 * - the POT ranking of a stored validation saliency matrix (kept as tails, streamed as pss
 *   stats does) equals an independent numpy computation: same thresholds and N_t exactly,
 *   the same ranking of every test vector, ln P to 1e-10 relative (measured 3e-13).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { PssError } from '../../src/errors.js';
import { parseNpy } from '../../src/io/npy.js';
import { fitGpd, gpdLogLik } from '../../src/saliency/gpd.js';
import { fitPot, potLogP, potRanking, potScore } from '../../src/saliency/pot.js';
import { TailKeeper, tailCapacity } from '../../src/stats/tails.js';

const DIR = 'test/fixtures/pot';
const json = (f: string) => JSON.parse(readFileSync(`${DIR}/${f}`, 'utf8'));
const npy = (f: string) => parseNpy(readFileSync(`${DIR}/${f}`));
const num = (v: number | string) => (v === '-Infinity' ? Number.NEGATIVE_INFINITY : Number(v));

interface GpdCase {
  gamma_true: number;
  sigma_true: number;
  seed: number;
  y: number[];
  scipy: { gamma: number; sigma: number; logLik: number };
}

describe('GPD fit (Grimshaw) against scipy.stats.genpareto', () => {
  const { cases } = json('gpd.json') as { cases: GpdCase[] };

  it('log-likelihood at least scipy’s, to 1e-6 relative, for γ = -0.2, 0 and 0.3', (t) => {
    let worst = Number.NEGATIVE_INFINITY;
    let better = 0;
    assert.equal(cases.length, 24);
    for (const c of cases) {
      const fit = fitGpd(c.y);
      const name = `γ=${c.gamma_true} σ=${c.sigma_true} n=${c.y.length} seed ${c.seed}`;
      // Our log-likelihood is the one we report, and scipy's parameters score the same under ours.
      assert.ok(Math.abs(gpdLogLik(c.y, fit.gamma, fit.sigma) - fit.logLik) <= 1e-12 * Math.abs(fit.logLik));
      const scipyUnderOurs = gpdLogLik(c.y, c.scipy.gamma, c.scipy.sigma);
      assert.ok(
        Math.abs(scipyUnderOurs - c.scipy.logLik) <= 1e-10 * Math.abs(c.scipy.logLik),
        `${name}: same likelihood function`,
      );
      const rel = (c.scipy.logLik - fit.logLik) / Math.abs(c.scipy.logLik);
      worst = Math.max(worst, rel);
      if (rel < -1e-9) better += 1;
      assert.ok(
        rel <= 1e-6,
        `${name}: ours ${fit.logLik}, scipy ${c.scipy.logLik} (${rel.toExponential(2)} relative)`,
      );
      // Where scipy found the maximum, the parameters agree too.
      if (Math.abs(rel) < 1e-9)
        assert.ok(
          Math.abs(fit.gamma - c.scipy.gamma) <= 1e-3 * Math.max(1, Math.abs(c.scipy.gamma)),
          `${name}: γ`,
        );
    }
    t.diagnostic(
      `worst (scipy − ours)/|scipy| = ${worst.toExponential(2)}; ours higher by > 1e-9 in ${better} of ${cases.length}`,
    );
  });

  it('degenerate peaks: one, or all equal, give the exponential', () => {
    assert.deepEqual(fitGpd([2]), { gamma: 0, sigma: 2, logLik: gpdLogLik([2], 0, 2) });
    const same = fitGpd([0.5, 0.5, 0.5]);
    assert.equal(same.gamma, 0);
    assert.equal(same.sigma, 0.5);
  });
});

describe('POT ranking against an independent numpy computation', () => {
  const val = npy('val.npy');
  const test = npy('test.npy');
  const [n, units] = val.shape;
  const [m] = test.shape;
  const ref = json('pot.json') as {
    levels: {
      q: number;
      units: { threshold: number; peaks: number; gamma?: number; sigma?: number }[];
      logP: (number | string)[][];
      ranking: number[][];
    }[];
  };
  // The matrix streamed into tails as pss stats keeps them.
  const keeper = new TailKeeper(units, tailCapacity(n, 0.85), 0.85);
  for (let i = 0; i < n; i++) keeper.push(val.data.subarray(i * units, (i + 1) * units));
  const tails = keeper.tails();

  for (const level of ref.levels)
    it(`q = ${level.q}: thresholds, N_t, fits, ln P and the ranking`, (t) => {
      const model = fitPot(tails, level.q);
      let worst = 0;
      for (let u = 0; u < units; u++) {
        const r = level.units[u];
        assert.equal(model.threshold[u], r.threshold, `unit ${u} threshold`);
        assert.equal(model.peaks[u], r.peaks, `unit ${u} N_t`);
        if (r.gamma !== undefined) {
          assert.ok(
            Math.abs(model.gamma[u] - r.gamma) <= 1e-7 * Math.max(1, Math.abs(r.gamma)),
            `unit ${u} γ`,
          );
          assert.ok(Math.abs(model.sigma[u] - r.sigma!) <= 1e-7 * r.sigma!, `unit ${u} σ`);
        }
      }
      for (let i = 0; i < m; i++) {
        const s = test.data.subarray(i * units, (i + 1) * units);
        const lp = potLogP(s, model);
        level.logP[i].forEach((v, u) => {
          const want = num(v);
          if (!Number.isFinite(want) || want === 0) assert.equal(lp[u], want, `vector ${i} unit ${u}`);
          else {
            const rel = Math.abs(lp[u] - want) / Math.abs(want);
            worst = Math.max(worst, rel);
            assert.ok(rel <= 1e-10, `vector ${i} unit ${u}: ln P ${lp[u]} vs ${want}`);
          }
        });
        assert.deepEqual(potRanking(s, model), level.ranking[i], `vector ${i}: ranking`);
        const score = potScore(s, model);
        score.forEach((v, u) => {
          assert.ok(v >= 0);
          if (lp[u] === 0) assert.equal(v, 0);
        });
      }
      t.diagnostic(`worst ln P relative difference ${worst.toExponential(2)}`);
    });

  it('a q below what the tails serve is refused by name', () => {
    assert.throws(
      () => fitPot(tails, 0.5),
      (e: Error) => e instanceof PssError && /--tail-quantile 0.5/.test(e.message),
    );
  });
});
