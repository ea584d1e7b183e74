/**
 * Parity with torchvision 0.14 + Pillow 9.4: Resize(r) → CenterCrop(c) → ToTensor → Normalize on
 * the fixtures (and the shark photo when present). Each test reports its error per channel in
 * 0..255 units. Lossless sources must match bit for bit — that pins the resampling, cropping and
 * normalisation; lossy ones (JPEG, WebP) depend on the decoder inside sharp as well, so they get a
 * tolerance far below the 2/255 target (today they are bit-exact too, and the report says so).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resizedSize } from '../../src/image/budget.js';
import { loadImage, type RgbImage } from '../../src/image/load.js';
import { centerCrop, preprocess } from '../../src/image/preprocess.js';
import { resizeBilinear } from '../../src/image/resample.js';
import { IMAGENET } from '../../src/models/architecture.js';
import {
  type CaseRef,
  cases,
  compare,
  describeErrors,
  fixture,
  hasShark,
  SHARK,
  tensor,
} from './reference.js';

const lossy = (file: string) => /\.(jpe?g|webp)$/.test(file) || file === 'shark';
const prep = (ref: CaseRef, resize = ref.resize) => ({ resize, mean: ref.mean, std: ref.std });

const images = new Map<string, Promise<RgbImage>>();
const image = (file: string) => {
  if (!images.has(file)) images.set(file, loadImage(fixture(file)));
  return images.get(file)!;
};

async function check(key: string, ref: CaseRef, t: { diagnostic(msg: string): void }) {
  const x = preprocess(await image(ref.file), prep(ref), ref.crop);
  assert.deepEqual(x.shape, ref.shape);
  assert.equal(x.data.length, ref.shape[0] * ref.crop[0] * ref.crop[1]);
  assert.deepEqual([x.display.height, x.display.width], ref.crop);
  const c = compare(key, x);
  t.diagnostic(`${key}: ${describeErrors(c)}`);
  if (!lossy(ref.file)) {
    assert.ok(c.exact, `${key}: not bit-exact`);
    return;
  }
  for (let ch = 0; ch < c.sub.length; ch++) {
    assert.ok(c.sub[ch].mean <= 0.5, `${key} channel ${ch}: mean |error| ${c.sub[ch].mean}/255`);
    assert.ok(c.sub[ch].max <= 8, `${key} channel ${ch}: max |error| ${c.sub[ch].max}/255`);
    assert.ok(c.meanShift[ch] <= 0.25, `${key} channel ${ch}: mean shift ${c.meanShift[ch]}/255`);
  }
}

describe('preprocess: torchvision parity', () => {
  for (const [key, ref] of Object.entries(cases)) {
    if (ref.file === 'shark') continue;
    it(key, (t) => check(key, ref, t));
  }
  for (const key of ['shark:256', 'shark:29', 'shark:L28'])
    it(key, { skip: !hasShark ? `${SHARK} absent` : !cases[key] && 'no reference' }, (t) =>
      check(key, cases[key], t),
    );

  it('ToTensor + Normalize bit for bit (float32, one rounding per operation)', () => {
    let checked = 0;
    for (const [key, ref] of Object.entries(cases)) {
      const want = tensor(`${key}.tensor_sub`);
      if (!want) continue;
      // torchvision's own 8-bit crop, subsampled like the tensor: normalisation alone
      const sub = tensor(`${key}.crop_sub`)!;
      const step = ref.tensor_stride! / ref.stride;
      const [h, w] = [want.shape[1], want.shape[2]];
      const C = sub.shape[2];
      const data = new Uint8Array(h * w * 3); // as RGB: grey copied (PIL's "L" of it is itself)
      for (let y = 0; y < h; y++)
        for (let i = 0; i < w; i++)
          for (let c = 0; c < 3; c++)
            data[(y * w + i) * 3 + c] =
              sub.bytes[(y * step * sub.shape[1] + i * step) * C + (C === 3 ? c : 0)];
      const x = preprocess({ width: w, height: h, data }, prep(ref, Math.min(h, w)), [h, w]);
      const expected = new Float32Array(want.bytes.slice().buffer);
      assert.deepEqual(Array.from(x.data), Array.from(expected), key);
      checked += expected.length;
    }
    assert.ok(checked > 2000);
  });
});

describe('preprocess: torchvision arithmetic', () => {
  it('the longer side is int(size · long / short)', () => {
    assert.deepEqual(resizedSize(550, 367, 256), [383, 256]);
    assert.deepEqual(resizedSize(181, 257, 256), [256, 363]);
    assert.deepEqual(resizedSize(300, 200, 256), [384, 256]);
    assert.deepEqual(resizedSize(256, 256, 256), [256, 256]);
  });

  it("centre-crop offsets use Python's round-half-to-even", () => {
    // a 6 × 1 image whose pixel values are their column: offset (6 − 3) / 2 = 1.5 → 2
    const row = (w: number) => ({
      width: w,
      height: 1,
      data: Uint8Array.from({ length: 3 * w }, (_, i) => Math.floor(i / 3)),
    });
    assert.equal(centerCrop(row(6), 1, 3).data[0], 2);
    // (7 − 2) / 2 = 2.5 → 2, not 3
    assert.equal(centerCrop(row(7), 1, 2).data[0], 2);
    // (9 − 2) / 2 = 3.5 → 4
    assert.equal(centerCrop(row(9), 1, 2).data[0], 4);
  });

  it('a crop larger than the image pads with zeros as torchvision does', () => {
    const img = { width: 3, height: 2, data: new Uint8Array(18).fill(200) };
    const c = centerCrop(img, 4, 4);
    // padding left 0, top 1, right 1, bottom 1
    const at = (x: number, y: number) => c.data[(y * 4 + x) * 3];
    assert.deepEqual([at(0, 0), at(0, 1), at(2, 2), at(3, 1), at(0, 3)], [0, 200, 200, 0, 0]);
  });

  it('resizing to the same size changes nothing; one-axis resizes work', () => {
    const img = { width: 5, height: 4, data: Uint8Array.from({ length: 60 }, (_, i) => (i * 37) % 256) };
    assert.deepEqual(resizeBilinear(img, 5, 4).data, img.data);
    assert.equal(resizeBilinear(img, 2, 4).data.length, 2 * 4 * 3);
    assert.equal(resizeBilinear(img, 5, 9).data.length, 5 * 9 * 3);
  });

  it("uses the architecture's numbers; a ResNet-50 input from a 4000 × 3000 photo", (t) => {
    const w = 4000;
    const h = 3000;
    const data = new Uint8Array(w * h * 3);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
    const t0 = performance.now();
    const x = preprocess({ width: w, height: h, data }, IMAGENET, [224, 224]);
    const ms = performance.now() - t0;
    assert.deepEqual(x.shape, [3, 224, 224]);
    t.diagnostic(`${ms.toFixed(0)} ms (speed is the bench's business, not this test's)`);
  });
});
