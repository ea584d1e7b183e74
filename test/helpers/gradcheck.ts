/**
 * Finite-difference checks of backward rules, first and second order, in the manner of
 * JAX's check_grads: compare <grad f, t> with a central difference of f along a random
 * direction t, on ONNX Runtime. f is <op(x), c> for a random c; the second-order
 * function is <grad f(x), w> for a random w, differentiated by grad() again.
 */
import assert from 'node:assert/strict';
import { grad } from '../../src/autodiff/grad.js';
import { Graph, type Value } from '../../src/graph/graph.js';
import { add, mul, OPS, reduceSum } from '../../src/ops/index.js';
import { Runner } from '../../src/runtime/session.js';
import { rng } from './random.js';

export interface GradCase {
  name: string;
  /** Input shapes and values (Float32Array) — or a generator name. */
  inputs: readonly { shape: readonly number[]; data: Float32Array }[];
  /** Indices of the inputs to differentiate (default: all). */
  wrt?: readonly number[];
  f: (xs: Value[]) => Value;
  eps?: number;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

const sumAll = (v: Value) =>
  reduceSum(
    v,
    v.shape.map((_, i) => i),
  );

export async function checkGrads(c: GradCase, seed = 1): Promise<void> {
  const r = rng(seed);
  const graph = new Graph(OPS);
  const xs = c.inputs.map((inp, i) => graph.input(`x${i}`, inp.shape));
  const wrtIdx = c.wrt ?? xs.map((_, i) => i);
  const wrt = wrtIdx.map((i) => xs[i]);
  const out = c.f(xs);
  const f1 = sumAll(mul(out, graph.constant(r.normal(out.size), out.shape)));
  const g1 = grad(f1, wrt);
  const f2 = g1
    .map((g) => sumAll(mul(g, graph.constant(r.normal(g.size), g.shape))))
    .reduce((a, b) => add(a, b));
  const g2 = grad(f2, wrt);
  const outputs = [
    { name: 'f1', value: f1 },
    { name: 'f2', value: f2 },
    ...g1.map((value, i) => ({ name: `g1_${i}`, value })),
    ...g2.map((value, i) => ({ name: `g2_${i}`, value })),
  ];
  const runner = await Runner.create(outputs, { threads: 1 });
  const t = wrtIdx.map((i) => r.uniform(c.inputs[i].data.length));
  const eps = c.eps ?? 1e-2;
  const at = (sign: number) => {
    const feeds: Record<string, Float32Array> = {};
    c.inputs.forEach((inp, i) => {
      const k = wrtIdx.indexOf(i);
      feeds[`x${i}`] = k < 0 ? inp.data : inp.data.map((v, j) => v + sign * eps * t[k][j]);
    });
    return runner.run(feeds);
  };
  const [base, plus, minus] = [await at(0), await at(1), await at(-1)];
  await runner.release();
  for (const order of [1, 2] as const) {
    const ad = wrtIdx.reduce((s, _, k) => s + dot(base[`g${order}_${k}`], t[k]), 0);
    const fd = (plus[`f${order}`][0] - minus[`f${order}`][0]) / (2 * eps);
    // Scale of the rounding noise: float32 sums of order |f| divided by 2 eps.
    const noise = ((Math.abs(base[`f${order}`][0]) + 1) * 2e-6) / eps;
    const tol = 2e-3 * Math.max(Math.abs(ad), Math.abs(fd)) + noise + 1e-5;
    assert.ok(
      Math.abs(ad - fd) <= tol,
      `${c.name}: order ${order}: autodiff ${ad} vs finite difference ${fd} (tolerance ${tol.toExponential(2)})`,
    );
  }
}

export interface PerSampleCase {
  name: string;
  /** inputs[0] is the batch (axis 0 = samples); the others are parameters. */
  inputs: readonly { shape: readonly number[]; data: Float32Array }[];
  /** Indices of the parameters to get per-sample cotangents for. */
  params: readonly number[];
  f: (xs: Value[]) => Value;
}

/**
 * Per-sample cotangents (grad with perSampleBatch) must equal the gradients of each
 * sample alone — to first order, and through a second differentiation (the per-sample
 * rules must be differentiable too) — and sum to the batch's gradient. Single-sample
 * gradients are checked by checkGrads.
 */
export async function checkPerSample(c: PerSampleCase, seed = 3): Promise<void> {
  const r = rng(seed);
  const n = c.inputs[0].shape[0];
  const per = c.inputs[0].data.length / n;

  // One pass over the batch, per-sample parameter cotangents.
  const run = async (
    batch: number,
    data0: Float32Array,
    cData: Float32Array | undefined,
    wData: Float32Array[] | undefined,
    perSample: boolean,
  ) => {
    const graph = new Graph(OPS);
    const shapes = c.inputs.map((inp, i) => (i === 0 ? [batch, ...inp.shape.slice(1)] : inp.shape));
    const xs = shapes.map((s, i) => graph.input(`x${i}`, s));
    const out = c.f(xs);
    const cotan = cData ?? r.normal(out.size);
    const f1 = sumAll(mul(out, graph.constant(cotan, out.shape)));
    const params = c.params.map((i) => xs[i]);
    const g1 = grad(f1, params, perSample ? { perSampleBatch: batch } : {});
    // The batch's gradient, to which the per-sample rows must sum.
    const summed = perSample ? grad(f1, params) : [];
    const ws = wData ?? g1.map((g) => r.normal(g.size));
    const f2 = g1.map((g, k) => sumAll(mul(g, graph.constant(ws[k], g.shape)))).reduce((a, b) => add(a, b));
    const g2 = grad(f2, [xs[0], ...params]);
    const runner = await Runner.create(
      [
        ...g1.map((value, i) => ({ name: `g1_${i}`, value })),
        ...g2.map((value, i) => ({ name: `g2_${i}`, value })),
        ...summed.map((value, i) => ({ name: `sum_${i}`, value })),
      ],
      { threads: 1 },
    );
    const feeds: Record<string, Float32Array> = {};
    c.inputs.forEach((inp, i) => {
      feeds[`x${i}`] = i === 0 ? data0 : inp.data;
    });
    const res = await runner.run(feeds);
    await runner.release();
    return { res, cotan, ws, outSize: out.size };
  };

  const batched = await run(n, c.inputs[0].data, undefined, undefined, true);
  const close = (a: ArrayLike<number>, b: ArrayLike<number>, what: string) => {
    let d = 0;
    let m = 0;
    for (let i = 0; i < a.length; i++) {
      d = Math.max(d, Math.abs(a[i] - b[i]));
      m = Math.max(m, Math.abs(b[i]));
    }
    assert.equal(a.length, b.length, `${c.name}: ${what}: length`);
    assert.ok(d <= 1e-5 * m + 1e-6, `${c.name}: ${what}: max diff ${d} (max ${m})`);
  };
  const g2Params = c.params.map(() => [] as number[]);
  for (let s = 0; s < n; s++) {
    const outPer = batched.outSize / n;
    const single = await run(
      1,
      c.inputs[0].data.subarray(s * per, (s + 1) * per),
      batched.cotan.subarray(s * outPer, (s + 1) * outPer),
      batched.ws.map((w) => w.subarray((s * w.length) / n, ((s + 1) * w.length) / n)),
      false,
    );
    c.params.forEach((_, k) => {
      const pg = batched.res[`g1_${k}`];
      const len = pg.length / n;
      close(
        pg.subarray(s * len, (s + 1) * len),
        single.res[`g1_${k}`],
        `sample ${s} parameter ${k}, first order`,
      );
      const g2 = single.res[`g2_${k + 1}`];
      g2.forEach((v, i) => {
        g2Params[k][i] = (g2Params[k][i] ?? 0) + v;
      });
    });
    close(
      batched.res.g2_0.subarray(s * per, (s + 1) * per),
      single.res.g2_0,
      `sample ${s} input, second order`,
    );
  }
  c.params.forEach((_, k) => {
    close(batched.res[`g2_${k + 1}`], g2Params[k], `parameter ${k}, second order`);
    const rows = batched.res[`g1_${k}`];
    const sum = batched.res[`sum_${k}`];
    const total = Array.from(sum, (_, i) => {
      let t = 0;
      for (let s = 0; s < n; s++) t += rows[s * sum.length + i];
      return t;
    });
    close(total, sum, `parameter ${k}: the rows sum to the batch's gradient`);
  });
}
