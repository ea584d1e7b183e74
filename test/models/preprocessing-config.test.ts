/** Preprocessing as data: descriptions (pss's fields, Hugging Face's), presets, refusals, files beside a model. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadInput } from '../../src/image/input.js';
import { IMAGENET } from '../../src/models/architecture.js';
import { inception_v3 } from '../../src/models/inception.js';
import { onnxModel } from '../../src/models/onnx-import.js';
import { choosePreprocessing, PRESETS, preset } from '../../src/models/preprocessing-config.js';
import { applyDescription, findDescription } from '../../src/models/preprocessing-file.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { importUploadedOnnx } from '../../src/web/onnx-upload.js';
import { loadSkeleton } from '../helpers/onnx.js';

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
    // each entry, read as a description, is the preset (torchvision's crop offsets included)
    for (const [name, d] of Object.entries(PRESETS)) {
      const shape = [3, d.crop_size, d.crop_size] as [number, number, number];
      assert.deepEqual(pick(d, shape).preprocessing, preset(name, shape, 'm').preprocessing, name);
    }
    assert.throws(
      () => pick({ ...PRESETS.imagenet, crop_offsets: 'numpy' }),
      /"crop_offsets" must be "torchvision" or "hf"/,
    );
  });

  it("Hugging Face's fields: shortest edge and crop, ConvNeXt's crop_pct, exact sizes, no normalisation", () => {
    const vit = pick({
      do_resize: true,
      size: { shortest_edge: 256 },
      crop_size: { height: 224, width: 224 },
      image_mean: IMAGENET.mean,
      image_std: IMAGENET.std,
    });
    // HF's fields take HF's centre-crop offsets (floor, not Python's round)
    assert.deepEqual(vit.preprocessing, { ...IMAGENET, hfCrop: true });
    assert.equal(vit.assumed, false);
    assert.equal(
      vit.summary,
      "resize 256 → crop 224×224, mean [0.485, 0.456, 0.406], std [0.229, 0.224, 0.225], HF's centre-crop offsets",
    );
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
    assert.deepEqual(exact.preprocessing.box, { height: 32, width: 32, fit: 'exact' });
    assert.deepEqual(exact.notes, []);
    assert.match(exact.summary, /^resize to 32×32 \(aspect ratio not kept\) → crop 32×32, mean \[0\.5\]/);
    const plain = pick({ resize: 36, do_normalize: false }, [1, 32, 32]);
    assert.deepEqual(plain.preprocessing, { resize: 36, mean: [0], std: [1] });
    const bicubic = pick({ resize: 256, mean: IMAGENET.mean, std: IMAGENET.std, resample: 3 });
    assert.deepEqual(bicubic.preprocessing, { ...IMAGENET, resample: 3 });
    assert.match(bicubic.summary, /^resize 256 bicubic → crop 224×224, mean/);
    assert.deepEqual(bicubic.notes, []);
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
    // ConvNeXt from 384 on: warped to size × size, not cropped
    const c384 = pick(
      { size: { shortest_edge: 384 }, crop_pct: 0.875, image_mean: IMAGENET.mean, image_std: IMAGENET.std },
      [3, 384, 384],
    );
    assert.deepEqual(c384.preprocessing.box, { height: 384, width: 384, fit: 'exact' });
    // a number is read as the shortest edge, and the note says how ViT-style processors read it
    assert.match(
      pick({ size: 224, image_mean: IMAGENET.mean, image_std: IMAGENET.std }).notes[0],
      /"size" 224 as a number: read as the shortest edge .* \{"height": 224, "width": 224\}/,
    );
  });

  it("HF's other fields: longest edge, max size, no resize, rescale, padding to a fixed canvas", () => {
    const half = { image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] };
    const sam = pick({
      size: { longest_edge: 224 },
      do_pad: true,
      pad_size: { height: 224, width: 224 },
      ...half,
    });
    assert.deepEqual(sam.preprocessing.box, { height: 224, width: 224, fit: 'contain' });
    assert.deepEqual(sam.preprocessing.pad, { value: [0, 0, 0], position: 'top-left' });
    const line = pick(
      {
        size: { max_height: 48, max_width: 192 },
        do_pad: true,
        pad_value: -1,
        pad_position: 'center',
        resample: 0,
        do_rescale: false,
        ...half,
      },
      [3, 48, 192],
    );
    assert.deepEqual(line.preprocessing, {
      resize: 192,
      mean: half.image_mean,
      std: half.image_std,
      hfCrop: true,
      resample: 0,
      rescale: 1,
      box: { height: 48, width: 192, fit: 'contain-trunc' },
      pad: { value: [-1, -1, -1], position: 'center' },
    });
    assert.equal(
      line.summary,
      'resize to fit 48×192 (sides rounded down) nearest → crop or pad to 48×192 (padding [-1, -1, -1] around the image), pixels × 1, mean [0.5, 0.5, 0.5], std [0.5, 0.5, 0.5]',
    );
    const raw = pick({ do_resize: false, rescale_factor: 1 / 127.5, ...half });
    assert.equal(raw.preprocessing.noResize, true);
    assert.equal(raw.preprocessing.rescale, 1 / 127.5);
    assert.match(raw.summary, /^no resize → crop 224×224, pixels × 0\.00784314, mean/);
    assert.match(
      pick({ image_processor_type: 'ViTImageProcessorFast', ...half }).notes[0],
      /names ViTImageProcessorFast; pss computes what the slow \(Pillow\) processor does/,
    );
    assert.deepEqual(pick({ image_processor_type: 'ViTImageProcessor', ...half }).notes, []);
    // the default factor is no choice to report
    assert.equal(pick({ rescale_factor: 1 / 255, ...half }).preprocessing.rescale, undefined);
  });

  it('what cannot be honoured is refused with the reason', () => {
    const cases: [unknown, RegExp][] = [
      [{ image_mean: [0.5], image_std: [0.5] }, /has 1 mean and 1 std values; m\.onnx takes 3 channels/],
      [{ resize: 256, mean: [0, 0, 0], std: [1, 0, 1] }, /every std must be positive/],
      [{ rescale_factor: 0, mean: [0, 0, 0], std: [1, 1, 1] }, /"rescale_factor" must be a positive number/],
      [
        { resample: 'bicubic', mean: [0, 0, 0], std: [1, 1, 1] },
        /"resample" "bicubic" is not one of Pillow's filters/,
      ],
      [
        { resample: 6, mean: [0, 0, 0], std: [1, 1, 1] },
        /"resample" 6 is not one of Pillow's filters \(0 nearest/,
      ],
      [
        { size: { shortest_edge: 800, longest_edge: 1333 }, mean: [0, 0, 0], std: [1, 1, 1] },
        /both shortest_edge and longest_edge \(DETR's resize\) is not supported/,
      ],
      [
        { size: { height: 0, width: 9 }, mean: [0, 0, 0], std: [1, 1, 1] },
        /sides of "size" must be integers from 1/,
      ],
      [
        { do_pad: true, pad_size: { height: 256, width: 256 }, mean: [0, 0, 0], std: [1, 1, 1] },
        /"pad_size" is not the model's input 224×224/,
      ],
      [
        { do_pad: true, pad_value: [0, 0], mean: [0, 0, 0], std: [1, 1, 1] },
        /"pad_value" must be a number or 3 numbers/,
      ],
      [
        { do_pad: true, pad_position: 'bottom', mean: [0, 0, 0], std: [1, 1, 1] },
        /"pad_position" must be "top-left"/,
      ],
      [
        { do_flip_channel_order: true, mean: [0, 0, 0], std: [1, 1, 1] },
        /"do_flip_channel_order" is not supported/,
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

  it('a dynamic-size model (paddle2onnx-style) takes the canvas its description fixes: padded text line, 48×192', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pss-pre-dyn-'));
    try {
      const path = join(dir, 'cls.onnx');
      const bytes = loadSkeleton('test/fixtures/onnx/mobilenet_v3_small-op9-dynamic.skeleton.onnx.gz');
      const dynamic = onnxModel(bytes, path);
      assert.equal(dynamic.arch.dynamicSize, true);
      const desc = join(dir, 'cls.json');
      const line = {
        size: { max_height: 48, max_width: 192 },
        do_pad: true,
        image_mean: [0.5, 0.5, 0.5],
        image_std: [0.5, 0.5, 0.5],
      };
      writeFileSync(desc, JSON.stringify(line));
      const model = await applyDescription(dynamic, path, desc);
      assert.deepEqual(model.arch.inputShape, [3, 48, 192]);
      const notes = (model.info.notes ?? []).join('\n');
      assert.match(notes, /input size 48x192: the size .*cls\.json fixes \(the model's is dynamic\)/);
      assert.match(
        notes,
        /resize to fit 48×192 \(sides rounded down\) → crop or pad to 48×192 \(padding \[0, 0, 0\] after/,
      );
      // a 150×100 photo: 72×48, then 120 columns of padding (0, the normalised grey)
      const x = await loadInput('test/fixtures/images/rgb_150x100.png', model);
      assert.deepEqual(x.shape, [3, 48, 192]);
      assert.equal(
        x.data.subarray(72, 192).every((v) => v === 0),
        true,
      );
      assert.notEqual(x.data[71], 0);
      await using engine = new SaliencyEngine(model);
      const [r] = await engine.compute({ data: x.data, shape: [1, ...x.shape] }, [0]);
      assert.equal(r.logits.length, 1000);
      assert.ok(r.logits.every(Number.isFinite));
      // the explorer's upload takes the same size
      writeFileSync(path, bytes);
      const uploaded = await importUploadedOnnx(
        { path, name: 'cls.onnx', bytes: bytes.length, sha256: '' },
        JSON.stringify(line),
      );
      assert.deepEqual(uploaded.model.arch.inputShape, [3, 48, 192]);
      // a description that fixes no size (a shortest edge alone) leaves the default
      writeFileSync(
        desc,
        JSON.stringify({
          size: { shortest_edge: 256 },
          image_mean: line.image_mean,
          image_std: line.image_std,
        }),
      );
      assert.deepEqual(
        (await applyDescription(dynamic, path, desc)).arch.inputShape,
        dynamic.arch.inputShape,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
