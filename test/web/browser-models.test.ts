/**
 * The explorer in Chromium with other models: a 1-channel 32×32 ONNX classifier explained end to
 * end with its preprocessor_config.json (the page's prediction checked against the library's),
 * models the server released leaving the list, and the race of an upload's prediction against
 * an example clicked meanwhile.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadInput } from '../../src/image/input.js';
import { Model } from '../../src/models/model.js';
import { onnxModel } from '../../src/models/onnx-import.js';
import { choosePreprocessing } from '../../src/models/preprocessing-config.js';
import { SaliencyEngine } from '../../src/saliency/engine.js';
import { softmax } from '../../src/saliency/report.js';
import { explained, openSession, type Session, skip } from './browser-session.js';
import { onnxClassifier } from './onnx-models.js';

const PHOTO = 'test/fixtures/images/rgb_300x200.jpg';
const CONFIG = {
  do_resize: true,
  size: { height: 32, width: 32 },
  resample: 2,
  do_rescale: true,
  rescale_factor: 1 / 255,
  do_normalize: true,
  image_mean: [0.5],
  image_std: [0.25],
};

describe('pss serve in a browser: other models', { skip }, () => {
  let s: Session;
  const files = mkdtempSync(join(tmpdir(), 'pss-web-models-'));
  const write = (name: string, data: Uint8Array | string) => {
    writeFileSync(join(files, name), data);
    return join(files, name);
  };

  before(async () => {
    s = await openSession();
    await s.page.goto(s.server.url);
    await explained(s.page, 'Shirt (6)', 'T-shirt/top (0)');
  });
  after(async () => {
    await s?.close();
    rmSync(files, { recursive: true, force: true });
  });

  it('an upload whose prediction comes back after an example was clicked does not touch that example', async () => {
    const { page } = s;
    // the server's answers to /api/predict arrive 1.5 s late: time to click an example
    let delayed = 0;
    await page.route('**/api/predict', async (route) => {
      delayed++;
      const answer = await route.fetch();
      await new Promise((r) => setTimeout(r, 1500));
      await route.fulfill({ response: answer });
    });
    await page.locator('#image-file').setInputFiles('examples/fashion/coat-as-pullover-5381.png');
    await page.waitForRequest('**/api/predict');
    await page.locator('.example[data-file="bag-1884.png"]').click();
    await explained(page, 'Bag (8)', 'Bag (8)');
    await page.waitForTimeout(2000); // the late prediction has come and gone
    await page.locator('#activity').waitFor({ state: 'hidden' });
    await page.unroute('**/api/predict');
    assert.equal(delayed, 1);
    assert.equal(await s.text('#true-class'), 'Bag (8)');
    assert.equal(await page.locator('#label').inputValue(), '8');
    assert.ok(await page.locator('#label-note').isHidden());
    assert.match(
      (await page.locator('#map-input').getAttribute('alt')) ?? '',
      /^bag-1884\.png as the model sees it/,
    );
    assert.equal(await page.locator('.example.chosen').getAttribute('data-file'), 'bag-1884.png');
  });

  it('explains a 1-channel 32×32 ONNX classifier end to end with its preprocessor_config.json', async () => {
    const { page } = s;
    const bytes = onnxClassifier({ channels: 1, size: 32, convs: [8, 16], classes: 10 });
    const onnx = write('grey32.onnx', bytes);
    const config = write('preprocessor_config.json', JSON.stringify(CONFIG));
    await page.locator('#load-model summary').click();
    await page.locator('#onnx-preprocessing').selectOption('file');
    // no description chosen yet: the page says so and sends nothing
    await page.locator('#onnx-file').setInputFiles(onnx);
    assert.match(await s.text('#onnx-message'), /Choose the preprocessor_config\.json first/);
    await page.locator('#onnx-description').setInputFiles(config);
    await page.locator('#onnx-file').setInputFiles(onnx);
    await page.locator('#model-select option', { hasText: 'grey32.onnx' }).waitFor({ state: 'attached' });
    const info = await s.text('#model-info');
    assert.match(info, /input 1×32×32, 10 classes/);
    assert.match(
      info,
      /Preprocessing: resize to 32×32 \(aspect ratio not kept\) → crop 32×32, mean \[0\.5\], std \[0\.25\]\./,
    );
    assert.doesNotMatch(info, /assumed/);

    await page.locator('#image-file').setInputFiles(PHOTO);
    await page.locator('#prediction', { hasText: 'predicted: class' }).waitFor();
    await page.locator('#top-table tbody tr').first().waitFor();
    await page.locator('#activity').waitFor({ state: 'hidden' });
    for (const id of ['#map-input', '#map-pss', '#map-cam-predicted', '#map-cam-true'])
      assert.match((await page.locator(id).getAttribute('src')) ?? '', /^data:image\/png;base64,/);
    assert.equal(await page.locator('#top-table tbody tr').count(), 10);

    // the page's prediction is the library's, with the same description
    const imported = onnxModel(bytes, 'grey32.onnx');
    const p = choosePreprocessing(JSON.stringify(CONFIG), imported.arch.inputShape, 'grey32.onnx');
    const model = new Model(
      { ...imported.arch, preprocessing: p.preprocessing },
      10,
      imported.weights,
      'grey32',
    );
    const x = await loadInput(readFileSync(PHOTO), model);
    await using engine = new SaliencyEngine(model);
    const [r] = await engine.compute({ data: x.data, shape: [1, 1, 32, 32] }, [0]);
    const probabilities = softmax(r.logits);
    const best = probabilities.indexOf(Math.max(...probabilities));
    assert.equal(await s.text('#predicted-class'), `class ${best}`);
    const top = (await page.locator('#top5 li').allInnerTexts())[0];
    assert.match(top, new RegExp(`^class ${best}\\s+${(100 * probabilities[best]).toFixed(1)}%$`));

    // a filter of its own convs, by keyboard-free click, and zeroing it
    await page.locator('#chart circle.top').first().click();
    await page.locator('#map-filter').waitFor({ state: 'visible' });
    await page.locator('#prune-toggle').check();
    await page.locator('#pruned', { hasText: 'With 10 filters zeroed' }).waitFor();
    assert.equal((await page.locator('#pruned-top5 li').allInnerTexts()).length, 5);
    await s.shot('10-onnx-grey32.png');
  });

  it('a model the server released leaves the list; Release gives one back', async () => {
    const { page } = s;
    await page.locator('#prune-toggle').uncheck();
    const openForm = async () => {
      if ((await page.locator('#load-model').getAttribute('open')) === null)
        await page.locator('#load-model summary').click();
    };
    await openForm();
    await page.locator('#onnx-preprocessing').selectOption('auto');
    for (const [name, classes] of [
      ['a.onnx', 4],
      ['b.onnx', 5],
      ['c.onnx', 6],
    ] as const) {
      await openForm();
      await page.locator('#onnx-file').setInputFiles(write(name, onnxClassifier({ classes, size: 16 })));
      await page.locator('#model-select option', { hasText: name }).waitFor({ state: 'attached' });
      await page.locator('#activity').waitFor({ state: 'hidden' });
    }
    // the server keeps two models besides the bundled one: grey32 and a went, b and c stay
    const titles = () => page.locator('#model-select option').allTextContents();
    assert.deepEqual(await titles(), ['fashion-cnn (bundled)', 'b.onnx', 'c.onnx']);
    assert.match(await s.text('#model-notes'), /preprocessing assumed from the input shape 3×16×16/);
    await page.locator('#model-release').click();
    await page.locator('#model-select option', { hasText: 'c.onnx' }).waitFor({ state: 'detached' });
    assert.deepEqual(await titles(), ['fashion-cnn (bundled)', 'b.onnx']);
    assert.equal(await page.locator('#model-select').inputValue(), 'm1');
    assert.ok(await page.locator('#model-release').isHidden(), 'the bundled model cannot be released');
    // the uploaded photo, now with Fashion-MNIST's classes
    await page.locator('#predicted-class', { hasText: /^[A-Za-z/ -]+ \(\d\)$/ }).waitFor();
  });

  it('loads nothing from outside the server, and throws no script errors', () => {
    assert.deepEqual(s.external, []);
    assert.deepEqual(s.pageErrors, []);
  });
});
