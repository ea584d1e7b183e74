/**
 * Preprocessing descriptions against their references (test/fixtures/images/hf_preprocess.json,
 * made by scripts/reference/make_hf_preprocess_fixtures.py): Pillow 9.4's resize with each of its
 * filters, and the float32 tensors Hugging Face's image processors make for HF-style
 * descriptions (exact, shortest-edge, longest-edge and max-size resizes; HF's crop offsets;
 * rescale factors; padding to a fixed canvas). Lossless PNGs, so every byte must match.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadInput } from '../../src/image/input.js';
import { loadImage, type RgbImage } from '../../src/image/load.js';
import { grayscale, preprocess } from '../../src/image/preprocess.js';
import { resizePillow } from '../../src/image/resample.js';
import type { Model } from '../../src/models/model.js';
import { choosePreprocessing, preset, presetPreprocessing } from '../../src/models/preprocessing-config.js';
import { IMAGES } from './reference.js';

interface U8Ref {
  sha256: string;
  sum: number[];
}
interface CaseRef {
  file: string;
  shape: [number, number, number];
  description: Record<string, unknown>;
  sha256: string;
  sum: number[];
}
const ref: {
  pillow: string;
  resample: Record<string, U8Ref>;
  presets: Record<string, Omit<CaseRef, 'description'>>;
  cases: Record<string, CaseRef>;
} = JSON.parse(readFileSync(`${IMAGES}/hf_preprocess.json`, 'utf8'));
const sha256 = (u: Uint8Array) => createHash('sha256').update(u).digest('hex');
const images = new Map<string, Promise<RgbImage>>();
const image = (file: string) => {
  if (!images.has(file)) images.set(file, loadImage(`${IMAGES}/${file}`));
  return images.get(file)!;
};

describe(`Pillow ${ref.pillow}'s resize, every filter`, () => {
  it('nearest, lanczos, bilinear, bicubic, box and hamming: every byte, down, up and one axis', async (t) => {
    let exact = 0;
    const worst: string[] = [];
    for (const [key, r] of Object.entries(ref.resample)) {
      const [, file, grey, f, w, h] = /^(\S+?)(:L)? (\d) (\d+)x(\d+)$/.exec(key)!;
      const rgb = await image(file);
      const out = resizePillow(grey ? grayscale(rgb) : rgb, Number(w), Number(h), Number(f));
      const C = grey ? 1 : 3;
      const sums = Array.from({ length: C }, (_, c) =>
        out.data.reduce((s, v, i) => (i % C === c ? s + v : s), 0),
      );
      if (sha256(out.data) === r.sha256) exact++;
      else worst.push(`${key}: sums ${sums} vs ${r.sum}`);
    }
    const n = Object.keys(ref.resample).length;
    t.diagnostic(`${exact} of ${n} resizes identical to Pillow's`);
    assert.deepEqual(worst, []);
    assert.equal(n, 2 * 6 * 6);
  });
});

describe("torchvision's transforms that are not bilinear, as presets", () => {
  for (const [name, r] of Object.entries(ref.presets))
    it(`${name}: the preset, and the built-in architecture's preprocessing`, async () => {
      const choice = preset(name, r.shape, 'm');
      assert.deepEqual(choice.notes, []);
      assert.match(choice.summary, / bicubic → crop 224×224, mean/);
      assert.deepEqual(presetPreprocessing(name), choice.preprocessing);
      const x = preprocess(await image(r.file), choice.preprocessing, [r.shape[1], r.shape[2]]);
      assert.equal(sha256(new Uint8Array(x.data.buffer)), r.sha256);
    });
});

describe("Hugging Face's image processors, as descriptions", () => {
  for (const [key, r] of Object.entries(ref.cases))
    it(key, async (t) => {
      const choice = choosePreprocessing(JSON.stringify(r.description), r.shape, 'm.onnx', 'desc');
      const x = preprocess(await image(r.file), choice.preprocessing, [r.shape[1], r.shape[2]]);
      t.diagnostic(choice.summary);
      assert.deepEqual(x.shape, r.shape);
      const n = r.shape[1] * r.shape[2];
      const sums = r.sum.map((_, c) => x.data.subarray(c * n, (c + 1) * n).reduce((s, v) => s + v, 0));
      assert.equal(
        sha256(new Uint8Array(x.data.buffer)),
        r.sha256,
        `tensor differs: sums ${sums.map((v) => v.toFixed(4))} vs ${r.sum.map((v) => v.toFixed(4))}`,
      );
    });
});

describe('the pixel budget of a box resize', () => {
  it('a 16000×1 strip fits a 256×256 box; resizing its shorter side to 256 would not fit the budget', async () => {
    const sharp = (await import('sharp')).default;
    const png = await sharp({ create: { width: 16000, height: 1, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    const model = (preprocessing: object) =>
      ({ arch: { inputShape: [3, 256, 256], preprocessing } }) as unknown as Model;
    const half = { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };
    await assert.rejects(loadInput(png, model({ resize: 256, ...half })), /would make it 4096000×256/);
    const box = { resize: 256, ...half, box: { height: 256, width: 256, fit: 'contain' } };
    const x = await loadInput(png, model({ ...box, pad: { value: [0, 0, 0], position: 'center' } }));
    // 256×1 in the middle row: grey 128 → (128/255 − 0.5)/0.5; the rest is padding
    const n = 256 * 256;
    const row = 127 * 256; // floor((256 − 1) / 2)
    assert.equal(x.data[row], Math.fround(Math.fround(Math.fround(128 / 255) - 0.5) / 0.5));
    assert.equal(x.data[row + 256], 0);
    assert.equal(x.data.subarray(0, n).filter((v) => v !== 0).length, 256);
  });
});
