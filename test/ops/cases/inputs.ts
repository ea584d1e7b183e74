/** Random inputs for the rule tables of test/ops/cases (each table with its own seed). */
import type { Value } from '../../../src/graph/graph.js';
import type { OpType } from '../../../src/ops/index.js';
import * as op from '../../../src/ops/index.js';
import type { GradCase } from '../../helpers/gradcheck.js';
import { rng } from '../../helpers/random.js';

export type Table = Partial<Record<OpType, Omit<GradCase, 'name'>[]>>;

export const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
/** x³: makes the second derivative of a piecewise-linear op's composite non-trivial. */
export const cube = (x: Value) => op.mul(x, op.mul(x, x));

export function inputs(seed: number) {
  const r = rng(seed);
  const of = (shape: number[], data: Float32Array) => ({ shape, data });
  return {
    r,
    normal: (...shape: number[]) => of(shape, r.normal(size(shape))),
    uniform: (lo: number, hi: number, ...shape: number[]) => of(shape, r.uniform(size(shape), lo, hi)),
    away: (...shape: number[]) => of(shape, r.awayFromZero(size(shape))),
    distinct: (gap: number, ...shape: number[]) => of(shape, r.distinct(size(shape), gap)),
    /** Uniform in [lo, hi], at least `margin` from every kink. */
    avoiding: (kinks: readonly number[], margin: number, lo: number, hi: number, ...shape: number[]) =>
      of(
        shape,
        Float32Array.from({ length: size(shape) }, () => {
          for (;;) {
            const v = lo + (hi - lo) * r.next();
            if (kinks.every((k) => Math.abs(v - k) >= margin)) return v;
          }
        }),
      ),
    /** A random graph constant (not differentiated). */
    constant: (like: Value, ...shape: number[]) => like.graph.constant(r.normal(size(shape)), shape),
  };
}
