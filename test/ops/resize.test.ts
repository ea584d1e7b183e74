/**
 * Resize's backward rule is built from per-axis interpolation matrices (src/ops/resize.ts):
 * applied forward, they must reproduce ONNX Runtime's own Resize, for every mode pss takes.
 * (The rule tables check the adjoint against finite differences on fewer configurations.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Graph } from '../../src/graph/graph.js';
import type { CoordinateTransformationMode, NearestMode, ResizeAttrs } from '../../src/ops/index.js';
import * as op from '../../src/ops/index.js';
import { OPS } from '../../src/ops/index.js';
import { axisMatrix, resizedShape } from '../../src/ops/resize.js';
import { Runner } from '../../src/runtime/session.js';
import { rng } from '../helpers/random.js';

const COORDINATES: CoordinateTransformationMode[] = [
  'half_pixel',
  'pytorch_half_pixel',
  'align_corners',
  'asymmetric',
  'tf_half_pixel_for_nn',
];
const ROUNDINGS: NearestMode[] = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'];
const TARGETS: Partial<Pick<ResizeAttrs, 'sizes' | 'scales'>>[] = [
  { sizes: [1, 2, 9, 3] },
  { sizes: [1, 2, 2, 7] },
  { sizes: [1, 2, 1, 4] },
  { scales: [1, 1, 1.7, 0.6] },
  { scales: [1, 1, 2, 3] },
  { scales: [1, 1, 0.5, 0.5] },
];

/** y = M_H x M_Wᵀ per image, in float64. */
function byMatrices(x: Float32Array, shape: readonly number[], a: ResizeAttrs): Float64Array {
  const [n, c, h, w] = shape;
  const [, , ho, wo] = resizedShape(shape, a);
  const eye = (k: number) => Float64Array.from({ length: k * k }, (_, i) => (i % (k + 1) === 0 ? 1 : 0));
  const mh = axisMatrix(a, h, ho, 2) ?? eye(h);
  const mw = axisMatrix(a, w, wo, 3) ?? eye(w);
  const y = new Float64Array(n * c * ho * wo);
  for (let p = 0; p < n * c; p++)
    for (let i = 0; i < ho; i++)
      for (let j = 0; j < wo; j++) {
        let s = 0;
        for (let u = 0; u < h; u++)
          for (let v = 0; v < w; v++) s += mh[i * h + u] * x[(p * h + u) * w + v] * mw[j * w + v];
        y[(p * ho + i) * wo + j] = s;
      }
  return y;
}

describe("Resize's interpolation matrices", () => {
  it('reproduce ONNX Runtime for every mode, coordinate mapping and rounding, up and down', async () => {
    const shape = [1, 2, 5, 4];
    const x = rng(8).normal(40);
    const configs: ResizeAttrs[] = TARGETS.flatMap((target) =>
      COORDINATES.flatMap((ctm) => [
        ...ROUNDINGS.map((r) => ({
          mode: 'nearest' as const,
          coordinate_transformation_mode: ctm,
          nearest_mode: r,
          ...target,
        })),
        {
          mode: 'linear' as const,
          coordinate_transformation_mode: ctm,
          nearest_mode: 'round_prefer_floor' as const,
          ...target,
        },
      ]),
    );
    const g = new Graph(OPS);
    const input = g.input('x', shape);
    const outputs = configs.map((a, i) => ({
      name: `y${i}`,
      value: op.resize(input, {
        mode: a.mode,
        coordinateTransformationMode: a.coordinate_transformation_mode,
        nearestMode: a.nearest_mode,
        ...(a.sizes ? { sizes: a.sizes } : { scales: a.scales }),
      }),
    }));
    const runner = await Runner.create(outputs, { threads: 1 });
    const out = await runner.run({ x });
    await runner.release();
    assert.equal(configs.length, 150);
    configs.forEach((a, i) => {
      const want = byMatrices(x, shape, a);
      const got = out[`y${i}`];
      assert.equal(got.length, want.length, `config ${i} size`);
      got.forEach((v, k) => {
        assert.ok(Math.abs(v - want[k]) <= 1e-6, `${JSON.stringify(a)}: [${k}] ${v} vs matrices ${want[k]}`);
      });
    });
  });
});
