#!/usr/bin/env python3
"""Reference numbers for POT (DESIGN §1.5), for test/saliency/gpd.test.ts and pot.test.ts.

Writes test/fixtures/pot/:
  gpd.json     synthetic GPD samples (gamma in {-0.2, 0, 0.3}, several sizes and seeds) with
               scipy.stats.genpareto's maximum-likelihood fit (floc=0) and its log-likelihood.
  val.npy      a validation saliency matrix [n, units], float32 (heavy, light and bounded tails,
               ties, a constant unit, units whose threshold has no value above it).
  test.npy     test saliency vectors [m, units], float32.
  pot.json     for q in {0.85, 0.95}: per unit the threshold, N_t, the GPD fit; per test vector
               log P per unit and the ranking (P smallest first, ties by position), computed
               here independently of pss: numpy, Grimshaw's reduction solved by scipy's brentq
               on a dense grid of each side.

Needs numpy and scipy (Debian's python3-scipy). Run from the repository root:
  python3 scripts/reference/make_pot_fixtures.py
"""
import json
import math
import os

import numpy as np
from scipy import optimize, stats

OUT = "test/fixtures/pot"


def gpd_loglik(y, gamma, sigma):
    n = len(y)
    if gamma == 0:
        return float(-n * math.log(sigma) - y.sum() / sigma)
    z = 1 + gamma * y / sigma
    if np.any(z <= 0):
        return -math.inf
    return float(-n * math.log(sigma) - (1 + 1 / gamma) * np.log(z).sum())


def w_of(y, x):
    """Grimshaw: u(x) v(x) - 1 with u = mean(1/(1+xy)), v = 1 + mean(log(1+xy)), written as
    (b - a) - a b with a = mean(t/(1+t)), b = mean(log1p(t)), t = xy, and b - a summed as
    mean(log1p(t) - t/(1+t)) (a Taylor series where that difference would cancel): naively,
    u v - 1 is rounding noise for |x| y < 1e-7, whose sign changes are no roots."""
    t = x * y
    a = np.mean(t / (1 + t))
    b = np.mean(np.log1p(t))
    small = np.abs(t) < 1e-3
    ts = np.where(small, t, 0.0)
    series = ts * ts * (1 / 2 - 2 / 3 * ts + 3 / 4 * ts**2 - 4 / 5 * ts**3 + 5 / 6 * ts**4 - 6 / 7 * ts**5)
    d = np.mean(np.where(small, series, np.log1p(t) - t / (1 + t)))
    return float(d - a * b)


def fit_grimshaw(y):
    """Maximum-likelihood GPD by Grimshaw's trick: every root of w on (-1/y_max, 0) and on
    (0, 2(mean - min)/min^2], on a dense grid (2000 points a side), and the exponential."""
    y = np.asarray(y, dtype=np.float64)
    mean, ymin, ymax = y.mean(), y.min(), y.max()
    best = (0.0, float(mean), gpd_loglik(y, 0.0, mean))
    if ymin == ymax:
        return best
    eps = 1e-8 / mean
    pole = 1 / ymax
    neg = -np.concatenate(
        [np.geomspace(eps, pole / 2, 1000), pole * (1 - np.geomspace(0.5, 1e-12, 1000))]
    )
    top = 2 * (mean - ymin) / ymin**2
    sides = [np.sort(neg)]
    if top > eps:
        sides.append(np.geomspace(eps, top, 2000))
    for xs in sides:
        ws = np.array([w_of(y, x) for x in xs])
        for i in range(len(xs) - 1):
            if np.isfinite(ws[i]) and np.isfinite(ws[i + 1]) and ws[i] * ws[i + 1] < 0:
                x = optimize.brentq(lambda v: w_of(y, v), xs[i], xs[i + 1], xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)
                gamma = float(np.mean(np.log1p(x * y)))
                sigma = gamma / x
                if sigma > 0 and gamma != 0:
                    ll = gpd_loglik(y, gamma, sigma)
                    if ll > best[2]:
                        best = (gamma, float(sigma), ll)
    return best


def gpd_samples():
    rng = np.random.default_rng(20231017)
    cases = []
    for gamma in (-0.2, 0.0, 0.3):
        for n in (30, 100, 300, 1000):
            for seed in range(2):
                sigma = float(rng.choice([1e-3, 1.0, 250.0]))
                y = stats.genpareto.rvs(gamma, loc=0, scale=sigma, size=n, random_state=rng)
                y = y[y > 0]
                c, loc, scale = stats.genpareto.fit(y, floc=0)
                ll = float(stats.genpareto.logpdf(y, c, loc=0, scale=scale).sum())
                cases.append(
                    {
                        "gamma_true": gamma,
                        "sigma_true": sigma,
                        "seed": seed,
                        "y": [float(v) for v in y],
                        "scipy": {"gamma": float(c), "sigma": float(scale), "logLik": ll},
                    }
                )
    return cases


def saliency_matrices():
    rng = np.random.default_rng(17)
    n, units, m = 400, 48, 6
    cols = []
    for u in range(units):
        kind = u % 6
        if kind == 0:  # heavy tail (log-normal)
            c = np.exp(rng.normal(-7, 1.2, n))
        elif kind == 1:  # GPD-like heavy tail above a bulk
            c = 1e-3 * (1 + stats.genpareto.rvs(0.35, size=n, random_state=rng))
        elif kind == 2:  # light tail (half-normal)
            c = np.abs(rng.normal(0, 2e-3, n))
        elif kind == 3:  # bounded (beta)
            c = 5e-3 * rng.beta(2, 3, n)
        elif kind == 4:  # ties: a few distinct values
            c = rng.choice([1e-4, 2e-4, 3e-4, 5e-4], n, p=[0.5, 0.3, 0.15, 0.05])
        else:  # exponential
            c = rng.exponential(1e-3, n)
        cols.append(c)
    val = np.stack(cols, 1).astype(np.float32)
    val[:, 5] = np.float32(0.25)  # constant: no value above its threshold
    val[: int(0.9 * n), 11] = np.float32(1e-4)  # 90% ties, then a tail
    # Test vectors: below, around and far above the thresholds, and beyond bounded supports.
    test = np.empty((m, units), np.float32)
    for i in range(m):
        qs = np.quantile(val, [0.5, 0.9, 0.97, 0.999][i % 4], axis=0)
        test[i] = (qs * rng.uniform(0.8, 3.0 + 3 * i, units)).astype(np.float32)
    test[0, 5] = np.float32(0.25)
    test[1, 5] = np.float32(0.3)
    return val, test


def pot_reference(val, test, q):
    n, units = val.shape
    v = val.astype(np.float64)
    per_unit = []
    logp = np.zeros(test.shape, np.float64)
    for u in range(units):
        s_sorted = np.sort(v[:, u])
        t = s_sorted[int(q * n)]
        peaks = s_sorted[s_sorted > t] - t
        nt = len(peaks)
        fit = fit_grimshaw(peaks) if nt else None
        per_unit.append(
            {"threshold": float(t), "peaks": nt, **({"gamma": fit[0], "sigma": fit[1]} if fit else {})}
        )
        for i in range(test.shape[0]):
            s = float(test[i, u])
            if s <= t:
                logp[i, u] = 0.0
            elif nt == 0:
                logp[i, u] = -math.inf
            else:
                gamma, sigma, _ = fit
                y = s - t
                if gamma == 0:
                    lp = -y / sigma
                else:
                    z = 1 + gamma * y / sigma
                    lp = -math.inf if z <= 0 else -math.log1p(gamma * y / sigma) / gamma
                logp[i, u] = math.log(nt / n) + lp
    ranks = [sorted(range(units), key=lambda u: (logp[i, u], u)) for i in range(test.shape[0])]
    enc = lambda x: x if math.isfinite(x) else "-Infinity"
    return {
        "q": q,
        "units": per_unit,
        "logP": [[enc(float(x)) for x in row] for row in logp],
        "ranking": ranks,
    }


def save_npy(path, a):
    np.save(path, np.ascontiguousarray(a, dtype=np.float32))


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(f"{OUT}/gpd.json", "w") as f:
        json.dump({"scipy": __import__("scipy").__version__, "cases": gpd_samples()}, f)
    val, test = saliency_matrices()
    save_npy(f"{OUT}/val.npy", val)
    save_npy(f"{OUT}/test.npy", test)
    with open(f"{OUT}/pot.json", "w") as f:
        json.dump({"levels": [pot_reference(val, test, q) for q in (0.85, 0.95)]}, f)
    print(f"wrote {OUT}/gpd.json, val.npy, test.npy, pot.json")


if __name__ == "__main__":
    main()
