/** Preprocessing as data: descriptions (pss's fields, Hugging Face's), presets, refusals, files beside a model. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { IMAGENET } from '../../src/models/architecture.js';
import { inception_v3 } from '../../src/models/inception.js';
import { choosePreprocessing, PRESETS, preset } from '../../src/models/preprocessing-config.js';
import { findDescription } from '../../src/models/preprocessing-file.js';

const RGB224 = [3, 224, 224] as const;
const pick = (d: unknown, shape: readonly [number, number, number] = RGB224) =>
  choosePreprocessing(JSON.stringify(d), shape, 'm.onnx', 'desc');

describe('preprocessing descriptions', () => {
  it("the torchvision presets are the built-in architectures' transforms", () => {
    assert.deepEqual(preset('imagenet', RGB224, 'm').preprocessing, IMAGENET);
    assert.deepEqual(preset('inception', [3, 299, 299], 'm').preprocessing, inception_v3.preprocessing);
    assert.deepEqual(Object.keys(PRESETS).slice(0, 2), ['imagenet', 'inception']);
    assert.throws(
      () => choosePreprocessing('vgg', RGB224, 'm'),
      /unknown preprocessing preset "vgg"; the presets are imagenet, inception/,
    );
    assert.throws(() => preset('imagenet', [1, 224, 224], 'm'), /makes RGB inputs; m takes 1 channel/);
  });

  it("Hugging Face's fields: shortest edge and crop, ConvNeXt's crop_pct, exact sizes, no normalisation", () => {
    const vit = pick({
      do_resize: true,
      size: { shortest_edge: 256 },
      crop_size: { height: 224, width: 224 },
      image_mean: IMAGENET.mean,
      image_std: IMAGENET.std,
    });
    assert.deepEqual(vit.preprocessing, IMAGENET);
    assert.equal(vit.assumed, false);
    // ConvNeXt below 384: the shortest edge is resized to size / crop_pct (224 / 0.875 = 256)
    const convnext = pick({
      size: { shortest_edge: 224 },
      crop_pct: 0.875,
      image_mean: IMAGENET.mean,
      image_std: IMAGENET.std,
    });
    assert.equal(convnext.preprocessing.resize, 256);
    const exact = pick(
      { size: { height: 32, width: 32 }, image_mean: [0.5], image_std: [0.25] },
      [1, 32, 32],
    );
    assert.deepEqual(exact.preprocessing, { resize: 32, mean: [0.5], std: [0.25] });
    assert.match(exact.notes[0], /resizes to exactly 32×32; pss keeps the aspect ratio and centre-crops/);
    const plain = pick({ resize: 36, do_normalize: false }, [1, 32, 32]);
    assert.deepEqual(plain.preprocessing, { resize: 36, mean: [0], std: [1] });
    assert.match(
      pick({ resize: 256, mean: IMAGENET.mean, std: IMAGENET.std, resample: 3 }).notes[0],
      /resample 3; pss resizes bilinearly/,
    );
    const uncropped = pick({
      size: { shortest_edge: 256 },
      do_center_crop: false,
      image_mean: IMAGENET.mean,
      image_std: IMAGENET.std,
    });
    assert.match(
      uncropped.notes[0],
      /asks for no centre crop; the model takes 224×224, so pss crops the middle/,
    );
  });

  it('what cannot be honoured is refused with the reason', () => {
    const cases: [unknown, RegExp][] = [
      [{ image_mean: [0.5], image_std: [0.5] }, /has 1 mean and 1 std values; m\.onnx takes 3 channels/],
      [{ resize: 256, mean: [0, 0, 0], std: [1, 0, 1] }, /every std must be positive/],
      [{ do_rescale: false, mean: [0, 0, 0], std: [1, 1, 1] }, /scales pixels by 1\/255 only/],
      [{ rescale_factor: 1, mean: [0, 0, 0], std: [1, 1, 1] }, /scales pixels by 1\/255 only/],
      [
        { size: { height: 300, width: 300 }, mean: [0, 0, 0], std: [1, 1, 1] },
        /"size" 300×300 is not the model's input 224×224/,
      ],
      [{ crop_size: 256, mean: [0, 0, 0], std: [1, 1, 1] }, /"crop_size" is not the model's input 224×224/],
      [{ resize: 100, mean: [0, 0, 0], std: [1, 1, 1] }, /the resize must be an integer from 224 to 4096/],
      [{ size: 'big', mean: [0, 0, 0], std: [1, 1, 1] }, /"size" must be a number/],
      [[1, 2], /must be a JSON object/],
      [{ resize: 256 }, /"mean" and "std" .* must be lists of numbers/],
    ];
    for (const [d, message] of cases) assert.throws(() => pick(d), message, JSON.stringify(d));
    assert.throws(() => choosePreprocessing('{"size":', RGB224, 'm', 'desc'), /desc is not valid JSON/);
    assert.throws(() => choosePreprocessing(undefined, [4, 32, 32], 'm'), /m takes 4-channel inputs/);
  });

  it('without a description: worked out from the input shape, and said to be assumed', () => {
    assert.deepEqual(choosePreprocessing(undefined, RGB224, 'm').preprocessing, IMAGENET);
    const grey = choosePreprocessing('auto', [1, 32, 32], 'm');
    assert.deepEqual(grey.preprocessing, { resize: 32, mean: [0], std: [1] });
    assert.equal(grey.assumed, true);
  });

  it('finds a preprocessor_config.json beside an .onnx file; a given file or preset comes first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pss-pre-'));
    try {
      const model = join(dir, 'm.onnx');
      assert.equal(await findDescription(model, undefined), undefined);
      writeFileSync(join(dir, 'preprocessor_config.json'), '{"resize": 40}');
      assert.deepEqual(await findDescription(model, undefined), {
        text: '{"resize": 40}',
        from: 'preprocessor_config.json beside m.onnx',
      });
      assert.equal((await findDescription(model, 'imagenet'))?.from, 'the imagenet preset');
      assert.equal(
        await findDescription(join(dir, 'resnet'), undefined),
        undefined,
        'only beside .onnx files',
      );
      await assert.rejects(
        findDescription(model, join(dir, 'nope.json')),
        /--preprocessing: .*nope\.json not found/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
