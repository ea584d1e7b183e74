/**
 * Maximum-likelihood fit of a generalised Pareto distribution GPD(γ, σ) to peaks over a
 * threshold (y > 0), by Grimshaw's reduction to one variable as SPOT does (Siffer et al.,
 * KDD 2017) — with the positive side searched over all of (0, 2(ȳ − y_min)/y_min²], not from
 * SPOT's lower bound 2(ȳ − y_min)/(ȳ·y_min), which misses heavy-tailed roots (DESIGN §1.5).
 *
 * With x = γ/σ the likelihood equations reduce to w(x) = u(x)·v(x) − 1 = 0, where
 * u = mean(1/(1 + x·y)) and v = 1 + mean(log(1 + x·y)); a root gives γ = v − 1, σ = γ/x.
 * Roots are bracketed by sign changes of w on a log-spaced grid of each side — (0, x_max] and
 * (−1/y_max, 0), where the density is defined — and refined to machine precision (Brent);
 * of the roots and the exponential (γ = 0, σ = ȳ) the fit of largest likelihood wins. Pure.
 */

export interface GpdFit {
  /** Shape γ (0: exponential; > 0 heavy tail; < 0 bounded at σ/|γ|). */
  gamma: number;
  /** Scale σ > 0. */
  sigma: number;
  /** Log-likelihood of the peaks under the fit. */
  logLik: number;
}

/** Log-likelihood of peaks y (all > 0) under GPD(γ, σ); −Infinity outside the support. */
export function gpdLogLik(y: ArrayLike<number>, gamma: number, sigma: number): number {
  if (!(sigma > 0)) return Number.NEGATIVE_INFINITY;
  const n = y.length;
  if (gamma === 0) {
    let s = 0;
    for (let i = 0; i < n; i++) s += y[i];
    return -n * Math.log(sigma) - s / sigma;
  }
  let s = 0;
  for (let i = 0; i < n; i++) {
    const z = (gamma * y[i]) / sigma;
    if (!(z > -1)) return Number.NEGATIVE_INFINITY;
    s += Math.log1p(z);
  }
  return -n * Math.log(sigma) - (1 + 1 / gamma) * s;
}

/** Grid points per decade of x when scanning for sign changes of w. */
const GRID_PER_DECADE = 6;
/** |x|·ȳ below this is γ ≈ |x|·ȳ: indistinguishable from the exponential candidate. */
const SMALLEST = 1e-8;
/** Closest approach to the pole x = −1/y_max, relatively. */
const POLE = 1e-12;

/** w(x) and γ(x) = mean(log(1 + x·y)), computed without cancellation near x = 0. */
function grimshaw(y: ArrayLike<number>, x: number): { w: number; gamma: number } {
  const n = y.length;
  let a = 0; // mean(z / (1 + z)) = 1 − u
  let b = 0; // mean(log1p(z)) = v − 1 = γ
  let d = 0; // mean(log1p(z) − z / (1 + z)), which is O(z²)
  for (let i = 0; i < n; i++) {
    const z = x * y[i];
    const r = z / (1 + z);
    const l = Math.log1p(z);
    a += r;
    b += l;
    // log1p(z) − z/(1 + z) = z²/2 − 2z³/3 + 3z⁴/4 − 4z⁵/5 + 5z⁶/6 − …, summed where it would cancel.
    d +=
      Math.abs(z) < 1e-3
        ? z * z * (0.5 + z * (-2 / 3 + z * (0.75 + z * (-0.8 + z * (5 / 6 - (6 / 7) * z)))))
        : l - r;
  }
  a /= n;
  b /= n;
  d /= n;
  // u·v − 1 = (1 − a)(1 + b) − 1 = (b − a) − a·b, and b − a = d.
  return { w: d - a * b, gamma: b };
}

/** Log-spaced points from lo to hi (both > 0), at least two. */
function logGrid(lo: number, hi: number): number[] {
  const steps = Math.max(1, Math.ceil(Math.log10(hi / lo) * GRID_PER_DECADE));
  return Array.from({ length: steps + 1 }, (_, i) => (i === steps ? hi : lo * (hi / lo) ** (i / steps)));
}

/** Brent's method on [a, b] with f(a)·f(b) < 0, to machine precision. */
function brent(f: (x: number) => number, a: number, b: number, fa: number, fb: number): number {
  let c = a;
  let fc = fa;
  let d = b - a;
  let e = d;
  for (let iter = 0; iter < 200; iter++) {
    if (fb * fc > 0) {
      c = a;
      fc = fa;
      d = b - a;
      e = d;
    }
    if (Math.abs(fc) < Math.abs(fb)) {
      a = b;
      b = c;
      c = a;
      fa = fb;
      fb = fc;
      fc = fa;
    }
    const tol = 2 * Number.EPSILON * Math.abs(b);
    const m = (c - b) / 2;
    if (Math.abs(m) <= tol || fb === 0) return b;
    if (Math.abs(e) >= tol && Math.abs(fa) > Math.abs(fb)) {
      const s = fb / fa;
      let p: number;
      let q: number;
      if (a === c) {
        p = 2 * m * s;
        q = 1 - s;
      } else {
        const qa = fa / fc;
        const r = fb / fc;
        p = s * (2 * m * qa * (qa - r) - (b - a) * (r - 1));
        q = (qa - 1) * (r - 1) * (s - 1);
      }
      if (p > 0) q = -q;
      else p = -p;
      if (2 * p < Math.min(3 * m * q - Math.abs(tol * q), Math.abs(e * q))) {
        e = d;
        d = p / q;
      } else {
        d = m;
        e = m;
      }
    } else {
      d = m;
      e = m;
    }
    a = b;
    fa = fb;
    b += Math.abs(d) > tol ? d : m > 0 ? tol : -tol;
    fb = f(b);
  }
  return b;
}

/** The roots of w on a grid of x values (increasing), bracketed by sign changes and refined. */
function rootsOn(y: ArrayLike<number>, xs: readonly number[]): number[] {
  const w = (x: number) => grimshaw(y, x).w;
  const roots: number[] = [];
  let px = xs[0];
  let pw = w(px);
  if (pw === 0) roots.push(px);
  for (let i = 1; i < xs.length; i++) {
    const x = xs[i];
    const wx = w(x);
    if (wx === 0) roots.push(x);
    else if (pw !== 0 && Number.isFinite(pw) && Number.isFinite(wx) && pw * wx < 0)
      roots.push(brent(w, px, x, pw, wx));
    px = x;
    pw = wx;
  }
  return roots;
}

/**
 * The maximum-likelihood GPD of peaks y (each > 0, at least one). Identical peaks (or a
 * single one) have no finite GPD maximum but the exponential's, which is what they get.
 */
export function fitGpd(y: ArrayLike<number>): GpdFit {
  const n = y.length;
  if (n === 0) throw new Error('no peaks to fit');
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    if (!(y[i] > 0 && Number.isFinite(y[i]))) throw new Error(`peak ${i} is ${y[i]}, not a positive number`);
    min = Math.min(min, y[i]);
    max = Math.max(max, y[i]);
    sum += y[i];
  }
  const mean = sum / n;
  let best: GpdFit = { gamma: 0, sigma: mean, logLik: gpdLogLik(y, 0, mean) };
  if (min === max) return best;

  const xs: number[] = [];
  // Negative side, (−1/y_max, 0): from |x|·ȳ = 1e-8 towards the pole, log-spaced in |x|
  // and, near the pole, in the distance to it.
  const pole = 1 / max;
  const near = Math.min(SMALLEST / mean, pole / 2);
  const negative = [
    ...logGrid(near, pole / 2),
    ...logGrid(POLE, 0.5)
      .reverse()
      .slice(1)
      .map((gap) => pole * (1 - gap)),
  ];
  for (const a of negative.reverse()) xs.push(-a);
  const found = rootsOn(y, xs);
  // Positive side, (0, 2(ȳ − y_min)/y_min²].
  const top = (2 * (mean - min)) / (min * min);
  const low = SMALLEST / mean;
  if (top > low) found.push(...rootsOn(y, logGrid(low, top)));

  for (const x of found) {
    const { gamma } = grimshaw(y, x);
    const sigma = gamma / x;
    if (!(sigma > 0 && Number.isFinite(sigma) && gamma !== 0)) continue;
    const logLik = gpdLogLik(y, gamma, sigma);
    if (logLik > best.logLik) best = { gamma, sigma, logLik };
  }
  return best;
}
