import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import {
  camOverlay,
  comparisonFigure,
  composePanels,
  normalizeMap,
  resizeBilinear,
} from '../../src/figures/gradcam.js';
import { colourMask, inputHeatmap, jetColours, writePng } from '../../src/figures/heatmap.js';
import type { RgbImage } from '../../src/image/load.js';
import { loadImage } from '../../src/image/load.js';
import { type PreprocessedImage, preprocess } from '../../src/image/preprocess.js';
import { IMAGENET } from '../../src/models/architecture.js';
import { prng } from './synthetic.js';

const ARTIFACTS = 'test-artifacts/figures';
mkdirSync(ARTIFACTS, { recursive: true });
const SHARK = '../shared/reference-data/great_white_shark_mispred_as_killer_whale.jpeg';

/** The shark photo's 224×224 crop when the reference data is there, else a synthetic picture. */
async function testImage(): Promise<PreprocessedImage['display']> {
  if (existsSync(SHARK)) return preprocess(await loadImage(SHARK), IMAGENET, 224).display;
  const data = new Uint8Array(224 * 224 * 3);
  for (let y = 0; y < 224; y++)
    for (let x = 0; x < 224; x++) data.set([x, y, 255 - ((x + y) >> 1)], 3 * (224 * y + x));
  return { width: 224, height: 224, data };
}

/** A sparse, speckled input gradient with a hot region (like second-order PSS gradients). */
function syntheticGradient(cx: number, cy: number): { data: Float32Array; shape: number[] } {
  const r = prng(5);
  const n = 224 * 224;
  const data = new Float32Array(3 * n);
  for (let y = 0; y < 224; y++)
    for (let x = 0; x < 224; x++) {
      const near = Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 30 ** 2));
      for (let c = 0; c < 3; c++)
        data[c * n + y * 224 + x] = r.normal() * (0.05 + near) * (r.uniform() < 0.3 ? 4 : 1);
    }
  return { data, shape: [1, 3, 224, 224] };
}

describe('Grad-CAM helpers', () => {
  it('bilinear upsampling with aligned pixel centres (as torch interpolate, align_corners=False)', () => {
    const out = resizeBilinear({ data: [0, 1, 2, 3], width: 2, height: 2 }, 4, 4);
    assert.deepEqual(
      [...out],
      [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3],
    );
    // downsampling and a non-square map
    const down = resizeBilinear({ data: [0, 1, 2, 3, 4, 5], width: 3, height: 2 }, 1, 1);
    assert.deepEqual([...down], [2.5]);
  });

  it('normalises to [0, 1]; a constant map gives zeros; bad maps are refused', () => {
    assert.deepEqual([...normalizeMap({ data: [2, 4, 6, 10], width: 2, height: 2 })], [0, 0.25, 0.5, 1]);
    assert.deepEqual([...normalizeMap({ data: [3, 3, 3], width: 3, height: 1 })], [0, 0, 0]);
    assert.throws(() => normalizeMap({ data: [1, Number.NaN], width: 2, height: 1 }), /non-finite/);
    assert.throws(() => normalizeMap({ data: [1, 2, 3], width: 2, height: 2 }), /holds 3/);
  });

  it('overlays a 7×7 map on a 224×224 image, coloured exactly like the PSS heatmap', async () => {
    const image = await testImage();
    const cam = {
      data: Float32Array.from({ length: 49 }, (_, i) =>
        Math.max(0, 3 - Math.hypot((i % 7) - 4, Math.floor(i / 7) - 2)),
      ),
      width: 7,
      height: 7,
    };
    const o = camOverlay(cam, image);
    for (const img of [o.heat, o.overlay]) {
      assert.equal(img.width, 224);
      assert.equal(img.height, 224);
      assert.equal(img.data.length, 224 * 224 * 3);
    }
    assert.equal(o.map.length, 224 * 224);
    // same colours as the heatmap's layer for the same values: colourMask(1 − v)
    assert.deepEqual(
      o.heat,
      colourMask(
        o.map.map((v) => 1 - v),
        224,
        224,
      ),
    );
    assert.deepEqual(jetColours(Float32Array.of(1, 0), 2, 1).data, Uint8Array.of(128, 0, 0, 0, 0, 128)); // hot = red
    // a map of another aspect ratio on a non-square image
    const wide: RgbImage = { width: 40, height: 30, data: new Uint8Array(3600).fill(90) };
    const o2 = camOverlay({ data: [0, 1, 2, 3, 4, 5], width: 3, height: 2 }, wide);
    assert.deepEqual([o2.overlay.width, o2.overlay.height], [40, 30]);
    await writePng(`${ARTIFACTS}/gradcam_overlay.png`, o.overlay);
  });

  it('side-by-side figure: image | PSS | Grad-CAM (predicted) | Grad-CAM (true), with captions', async () => {
    const image = await testImage();
    const hm = inputHeatmap(syntheticGradient(150, 90), image);
    const camPred = {
      data: Float32Array.from({ length: 49 }, (_, i) =>
        Math.max(0, 2.5 - Math.hypot((i % 7) - 5, Math.floor(i / 7) - 3)),
      ),
      width: 7,
      height: 7,
    };
    const camTrue = {
      data: Float32Array.from({ length: 49 }, (_, i) =>
        Math.max(0, 2.5 - Math.hypot((i % 7) - 1.5, Math.floor(i / 7) - 3)),
      ),
      width: 7,
      height: 7,
    };
    const t0 = performance.now();
    const png = await comparisonFigure({
      image,
      pssOverlay: hm.overlay,
      gradcamPredicted: camPred,
      gradcamTrue: camTrue,
      predicted: {
        class: 148,
        name: 'killer whale',
        probability: 0.713,
      },
      label: {
        class: 2,
        name: 'great white shark, white shark, man-eater, man-eating shark, Carcharodon carcharias',
        probability: 0.118,
      },
      pssCaption: 'top 10 filters boosted ×100',
    });
    console.log(`  comparison figure ${(performance.now() - t0).toFixed(0)} ms`);
    const meta = await sharp(png).metadata();
    assert.equal(meta.width, 4 * 300 + 5 * 16);
    assert.equal(meta.height, 16 + 43 + 300 + 16);
    writeFileSync(`${ARTIFACTS}/comparison.png`, png);
    await writePng(`${ARTIFACTS}/pss_overlay_synthetic.png`, hm.overlay);
    await writePng(`${ARTIFACTS}/pss_heat_synthetic.png`, hm.heat);

    // three panels when one Grad-CAM is missing; a smaller panel size
    const three = await comparisonFigure(
      {
        image,
        pssOverlay: hm.overlay,
        gradcamPredicted: camPred,
        predicted: { class: 1 },
        label: { class: 1 },
      },
      { panelSize: 128, gap: 8 },
    );
    const m3 = await sharp(three).metadata();
    assert.equal(m3.width, 3 * 128 + 4 * 8);
  });

  it('composes panels of any aspect ratio and escapes captions', async () => {
    const tall: RgbImage = { width: 20, height: 40, data: new Uint8Array(2400).fill(200) };
    const png = await composePanels([{ image: tall, title: '<b>& "quoted"</b>', caption: 'a < b' }], {
      panelSize: 64,
      gap: 4,
    });
    const meta = await sharp(png).metadata();
    assert.equal(meta.width, 64 + 8);
    assert.rejects(() => composePanels([]), /no panels/);
  });
});
