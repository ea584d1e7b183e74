/**
 * Finite-difference checks of backward rules, first and second order, in the manner of
 * JAX's check_grads: compare <grad f, t> with a central difference of f along a random
 * direction t, on ONNX Runtime. f is <op(x), c> for a random c; the second-order
 * function is <grad f(x), w> for a random w, differentiated by grad() again.
 */
import assert from 'node:assert/strict';
import { grad } from '../../src/autodiff/grad.js';
import { Graph, type Value } from '../../src/graph/graph.js';
import { mul, reduceSum } from '../../src/ops/index.js';
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
  const graph = new Graph();
  const xs = c.inputs.map((inp, i) => graph.input(`x${i}`, inp.shape));
  const wrtIdx = c.wrt ?? xs.map((_, i) => i);
  const wrt = wrtIdx.map((i) => xs[i]);
  const out = c.f(xs);
  const f1 = sumAll(mul(out, graph.constant(r.normal(out.size), out.shape)));
  const g1 = grad(f1, wrt);
  const f2 = g1
    .map((g) => sumAll(mul(g, graph.constant(r.normal(g.size), g.shape))))
    .reduce((a, b) => graph.emit('Add', [a, b]));
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
