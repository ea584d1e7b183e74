import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import {
  clipAndScale,
  colourMask,
  encodePng,
  gaussianBlur3x3,
  inputHeatmap,
  JET_LUT_BGR,
  overlayFloat,
  percentile,
  pixelSaliency,
  writePng,
} from '../../src/figures/heatmap.js';
import type { RgbImage } from '../../src/image/load.js';
import { parseSafeTensors, toFloat32 } from '../../src/io/safetensors.js';

const ARTIFACTS = 'test-artifacts/figures';
mkdirSync(ARTIFACTS, { recursive: true });

// Made by scripts/reference/make_heatmap_fixture.py (numpy; see its docstring).
const st = parseSafeTensors(new Uint8Array(readFileSync('test/fixtures/figures/heatmap.safetensors')));
const tensor = (k: string) => {
  const t = st.tensors.get(k);
  if (!t) throw new Error(`fixture lacks ${k}`);
  return t;
};
const H = Number(st.metadata.H);
const W = Number(st.metadata.W);
const M = { data: toFloat32(tensor('M')), shape: tensor('M').shape };
const image: RgbImage = { width: W, height: H, data: new Uint8Array(tensor('image').bytes) };

describe('heatmap: parity with the original post-processing (numpy reference)', () => {
  it("JET_LUT_BGR equals OpenCV's COLORMAP_JET table as derived from colormap.cpp", () => {
    assert.deepEqual(JET_LUT_BGR, new Uint8Array(tensor('lut').bytes));
    assert.deepEqual([...JET_LUT_BGR.subarray(0, 3)], [128, 0, 0]); // B, G, R: dark blue
    assert.deepEqual([...JET_LUT_BGR.subarray(765, 768)], [0, 0, 128]); // dark red
  });

  it('percentiles, clipping and min-max scaling match numpy exactly', () => {
    const g = pixelSaliency(M);
    const p99 = percentile(g, 99);
    assert.equal(p99, Number(st.metadata.p99));
    for (let i = 0; i < g.length; i++) if (g[i] > p99) g[i] = p99;
    assert.equal(percentile(g, 90), Number(st.metadata.p90));
    const scaled = clipAndScale(pixelSaliency(M));
    assert.deepEqual(scaled, toFloat32(tensor('g')));
  });

  for (const [tag, sigma] of [
    ['s0', 0],
    ['s08', 0.8],
  ] as const) {
    it(`colour indices and overlay match (blur ${sigma === 0 ? "OpenCV's fixed [1/4, 1/2, 1/4]" : 'σ = 0.8'})`, async () => {
      const hm = inputHeatmap(M, image, { blurSigma: sigma });
      // the colour index uint8(255 · blur(1 − s)), recomputed here, must match exactly
      const mask = gaussianBlur3x3(
        hm.saliency.map((v) => 1 - v),
        W,
        H,
        sigma,
      );
      const idx = new Uint8Array(tensor(`idx_${tag}`).bytes);
      let idxMismatch = 0;
      for (let i = 0; i < mask.length; i++)
        if (Math.trunc(Math.fround(255 * mask[i])) !== idx[i]) idxMismatch++;
      assert.equal(idxMismatch, 0, `${idxMismatch} colour indices differ`);
      // the colour layer: LUT bytes as R, G, B
      const heat = colourMask(mask, W, H);
      assert.deepEqual(hm.heat, heat);
      for (let i = 0; i < idx.length; i++)
        for (let c = 0; c < 3; c++) assert.equal(heat.data[3 * i + c], JET_LUT_BGR[3 * idx[i] + c]);
      // the overlay: float and 8-bit
      const ref = toFloat32(tensor(`cam_${tag}`));
      const cam = overlayFloat(heat, image);
      let maxFloat = 0;
      let max8 = 0;
      for (let i = 0; i < ref.length; i++) {
        maxFloat = Math.max(maxFloat, Math.abs(cam[i] - ref[i]));
        max8 = Math.max(max8, Math.abs(hm.overlay.data[i] / 255 - ref[i]));
      }
      // display/255 vs the original's de-normalised tensor: ≤ 1.2e-7 before the division by the max
      assert.ok(maxFloat < 1e-6, `float overlay differs by ${maxFloat}`);
      assert.ok(max8 <= 1 / 255, `8-bit overlay differs by ${max8 * 255}/255`);
      console.log(
        `  ${tag}: colour indices exact; overlay max |Δ| float ${maxFloat.toExponential(2)}, 8-bit ${(max8 * 255).toFixed(3)}/255`,
      );
      await writePng(`${ARTIFACTS}/heatmap_fixture_${tag}_overlay.png`, hm.overlay, { scale: 6 });
      await writePng(`${ARTIFACTS}/heatmap_fixture_${tag}_heat.png`, hm.heat, { scale: 6 });
    });
  }
});

describe('heatmap: edge cases', () => {
  it('percentile follows numpy on edge cases (n = 1, 2, ties, q = 0 and 100)', () => {
    const cases = JSON.parse(st.metadata.percentile_cases) as [number[], number, number][];
    assert.ok(cases.length > 20);
    for (const [values, q, expected] of cases)
      assert.equal(percentile(Float32Array.from(values), q), expected, `q=${q} of [${values.slice(0, 8)}…]`);
  });

  it('percentile refuses bad input and propagates NaN', () => {
    assert.throws(() => percentile([], 50), RangeError);
    assert.throws(() => percentile([1], 101), RangeError);
    assert.throws(() => percentile([1], Number.NaN), RangeError);
    assert.ok(Number.isNaN(percentile([1, Number.NaN, 3], 50)));
  });

  it('a constant map gives zeros, never NaN, and a uniformly "cold" colour layer', () => {
    const grad = { data: new Float32Array(3 * 8 * 5).fill(0.25), shape: [1, 3, 8, 5] };
    const img: RgbImage = { width: 5, height: 8, data: new Uint8Array(120).fill(100) };
    const hm = inputHeatmap(grad, img);
    assert.ok(hm.saliency.every((v) => v === 0));
    for (let i = 0; i < 40; i++) assert.deepEqual([...hm.heat.data.subarray(3 * i, 3 * i + 3)], [0, 0, 128]);
    assert.ok(hm.overlay.data.every((v) => Number.isInteger(v)));
    // an all-zero gradient too
    const zero = inputHeatmap({ data: new Float32Array(120), shape: [3, 8, 5] }, img);
    assert.ok(zero.saliency.every((v) => v === 0));
  });

  it('a map constant above its 90th percentile (p90 = p99) scales to zeros', () => {
    // the 11 largest of 100 values are equal: the 90th (index 89.1) and 99th (98.01) percentiles coincide
    const v = Float32Array.from({ length: 100 }, (_, i) => (i < 89 ? i / 200 : 0.7));
    assert.equal(percentile(v, 90), percentile(v, 99));
    assert.ok(clipAndScale(v).every((x) => x === 0));
  });

  it('signed max over channels, then abs (not the largest magnitude)', () => {
    // one pixel, channels [-5, -1, -3]: max = -1 → 1 (the largest magnitude would be 5)
    assert.deepEqual(pixelSaliency({ data: [-5, -1, -3], shape: [3, 1, 1] }), Float32Array.of(1));
    assert.deepEqual(pixelSaliency({ data: [-5, 2, -3], shape: [3, 1, 1] }), Float32Array.of(2));
    // greyscale models: one channel
    assert.deepEqual(pixelSaliency({ data: [-0.5, 0.25], shape: [1, 1, 2] }), Float32Array.of(0.5, 0.25));
  });

  it('the blur keeps a constant map constant and reflects at the border (BORDER_REFLECT_101)', () => {
    const c = gaussianBlur3x3(new Float32Array(12).fill(0.3), 4, 3);
    assert.ok(c.every((v) => v === Math.fround(0.3)));
    // 1-D impulse at the left edge of a 1-row image: reflect-101 mirrors index 1 to -1
    const row = gaussianBlur3x3(Float32Array.of(0, 1, 0, 0), 4, 1);
    assert.deepEqual([...row], [0.5, 0.5, 0.25, 0]);
    // a 1×1 image is its own neighbourhood
    assert.deepEqual([...gaussianBlur3x3(Float32Array.of(0.75), 1, 1)], [0.75]);
  });

  it('refuses wrong shapes, sizes and non-finite gradients', () => {
    const img: RgbImage = { width: 2, height: 2, data: new Uint8Array(12) };
    assert.throws(() => inputHeatmap({ data: new Float32Array(12), shape: [3, 2, 2, 1] }, img), /shape/);
    assert.throws(() => inputHeatmap({ data: new Float32Array(11), shape: [3, 2, 2] }, img), /holds 11/);
    assert.throws(() => inputHeatmap({ data: new Float32Array(27), shape: [3, 3, 3] }, img), /3×3.*2×2/);
    const nan = new Float32Array(12);
    nan[5] = Number.NaN;
    assert.throws(() => inputHeatmap({ data: nan, shape: [3, 2, 2] }, img), /non-finite/);
    assert.throws(() =>
      inputHeatmap({ data: new Float32Array(12), shape: [3, 2, 2] }, img, { clip: [99, 90] }),
    );
  });

  it('encodes PNGs of the right size (with nearest-neighbour scaling)', async () => {
    const img: RgbImage = { width: 3, height: 2, data: Uint8Array.from({ length: 18 }, (_, i) => i * 14) };
    const png = await encodePng(img, { scale: 4 });
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.width, 12);
    assert.equal(info.height, 8);
    assert.deepEqual([...data.subarray(0, 3)], [0, 14, 28]);
    assert.deepEqual([...data.subarray(3 * 12 * 7 + 3 * 11)], [210, 224, 238]);
  });
});
