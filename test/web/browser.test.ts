/**
 * The web explorer end to end, in a real browser: `pss serve` in a child process, Debian's
 * Chromium driven by playwright-core, offline. Screenshots go to test-artifacts/web/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { onnxWithUnknownOp, type ServeProcess, serve } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = 'test-artifacts/web';
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

async function playwright() {
  try {
    return await import('playwright-core');
  } catch {
    return undefined;
  }
}
const pw = await playwright();
const skip = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is absent (Debian: apt-get install -y chromium)`
  : !pw
    ? 'playwright-core is not installed (npm install -D playwright-core)'
    : false;

describe('pss serve in a browser', { skip }, () => {
  let server: ServeProcess;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const files = mkdtempSync(join(tmpdir(), 'pss-web-'));
  const external: string[] = [];
  const pageErrors: string[] = [];

  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, name), fullPage: true });
  const text = async (selector: string) => (await page.locator(selector).textContent()) ?? '';
  const probabilities = (list: string) => page.locator(`${list} li`).allInnerTexts();
  /** The page shows an explanation of this example (true and predicted class). */
  const explained = async (file: string, truth: string, predicted: string) => {
    await page.locator(`.example[data-file="${file}"]`).click();
    await page.locator('#true-class', { hasText: truth }).waitFor();
    await page.locator('#predicted-class', { hasText: predicted }).waitFor();
    await page.locator('#activity').waitFor({ state: 'hidden' });
  };
  const errorShown = async (pattern: RegExp) => {
    await page.locator('#error').waitFor({ state: 'visible' });
    assert.match(await text('#error-text'), pattern);
  };

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await serve();
    profile = mkdtempSync(join(tmpdir(), 'pss-chromium-'));
    context = await pw!.chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1440, height: 1000 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(30_000);
    page.on('request', (r) => {
      if (!r.url().startsWith(server.url) && !r.url().startsWith('data:')) external.push(r.url());
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });

  after(async () => {
    await context?.close();
    rmSync(profile, { recursive: true, force: true });
    rmSync(files, { recursive: true, force: true });
    if (server) {
      const code = await server.stop();
      assert.equal(code, 0, server.output());
      assert.match(server.output(), /stopping/);
    }
  });

  it('explains a shipped example: prediction, top 5, maps, the filter profile', async () => {
    await page.goto(server.url);
    // The page starts on the bundled model's default example.
    await page.locator('#predicted-class', { hasText: 'T-shirt/top (0)' }).waitFor();
    assert.equal(await text('#true-class'), 'Shirt (6)');
    assert.equal(await page.locator('.example').count(), 12);

    await explained('coat-as-pullover-5381.png', 'Coat (4)', 'Pullover (2)');
    assert.match(await text('#prediction'), /misclassified/);
    const top5 = await probabilities('#top5');
    assert.equal(top5.length, 5);
    assert.match(top5[0], /^Pullover\s+\d+\.\d+%$/);
    assert.ok(top5.some((row) => row.startsWith('Coat')));
    for (const id of ['#map-input', '#map-pss', '#map-cam-predicted', '#map-cam-true'])
      assert.match((await page.locator(id).getAttribute('src')) ?? '', /^data:image\/png;base64,/);
    assert.equal(await page.locator('#chart circle.top').count(), 10);
    assert.equal(await page.locator('#top-table tbody tr').count(), 10);
    await shot('01-explained.png');
  });

  it('hovering a filter shows its layer, filter and z; clicking it maps that one filter', async () => {
    const dot = page.locator('#chart circle.top').first();
    const index = Number(await dot.getAttribute('data-index'));
    await dot.hover();
    const tip = page.locator('#chart-tooltip');
    await tip.waitFor({ state: 'visible' });
    assert.equal(await tip.getAttribute('data-index'), String(index));
    const first = await page.locator('#top-table tbody tr').first().locator('td').allTextContents();
    assert.match(
      (await tip.textContent()) ?? '',
      new RegExp(`^${first[1]} · filter ${first[2]}z = ${first[3]} · rank 1`),
    );

    // anywhere on the profile: the nearest filter
    const box = (await page.locator('#chart rect.hit').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.7);
    assert.match((await tip.textContent()) ?? '', /^conv\d · filter \d+/);

    await dot.click();
    await page.locator('#map-filter').waitFor({ state: 'visible' });
    assert.match((await page.locator('#map-filter').getAttribute('src')) ?? '', /^data:image\/png;base64,/);
    assert.match(
      await text('#map-filter-caption'),
      new RegExp(`^Filter ${first[1]} #${first[2]} \\(z = ${first[3]}\\)`),
    );
    assert.equal(await page.locator('#chart circle.pick.selected').count(), 1);
    assert.equal(await text('#prune-clicked-n'), '1');
    await page.locator('#activity').waitFor({ state: 'hidden' });
    await page.locator('#chart circle.pick.selected').hover();
    await tip.waitFor({ state: 'visible' });
    await shot('02-filter.png');
  });

  it('zeroing the top-k filters, then the clicked one, recomputes the prediction', async () => {
    const before = await probabilities('#top5');
    await page.locator('#prune-toggle').check();
    await page.locator('#pruned', { hasText: 'With 10 filters zeroed' }).waitFor();
    const pruned = await probabilities('#pruned-top5');
    assert.equal(pruned.length, 5);
    assert.notDeepEqual(pruned, before);
    await shot('03-pruned.png');

    await page.locator('input[name="prune-mode"][value="clicked"]').check();
    await page.locator('#pruned', { hasText: 'With 1 filter zeroed' }).waitFor();
    const one = await probabilities('#pruned-top5');
    assert.notDeepEqual(one, pruned);
    await page.locator('#prune-toggle').uncheck();
  });

  it('bad uploads give a message in the page, and the server keeps serving', async () => {
    // a text file as an image, through the file picker
    const notes = join(files, 'notes.png');
    writeFileSync(notes, 'these are not pixels\n');
    await page.locator('#image-file').setInputFiles(notes);
    await errorShown(/image file notes\.png is not a JPEG, PNG, WebP, GIF or TIFF image/);
    await explained('bag-1884.png', 'Bag (8)', 'Bag (8)');
    assert.ok(await page.locator('#error').isHidden());

    // a file over the limit, dropped on the page
    // (page code as a string: the tests are type-checked without the DOM library)
    await page.evaluate(`{
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(21000000)], 'huge.jpg', { type: 'image/jpeg' }));
      document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true }));
    }`);
    await errorShown(/the image huge\.jpg is 21 MB; the limit is 20 MB/);
    await explained('sneaker-9587.png', 'Sneaker (7)', 'Sneaker (7)');

    // an ONNX model with an operator pss cannot differentiate
    const onnx = join(files, 'odd.onnx');
    writeFileSync(onnx, onnxWithUnknownOp());
    await page.locator('#onnx-file').setInputFiles(onnx);
    await errorShown(/odd\.onnx uses ONNX operators pss cannot differentiate: Foo/);
    await shot('04-error.png');
    await explained('coat-as-pullover-5381.png', 'Coat (4)', 'Pullover (2)');
    assert.ok(await page.locator('#error').isHidden());
  });

  it('loads a built-in model from an uploaded weights file and explains an uploaded photo with it', async () => {
    await page.locator('#load-model summary').click();
    await page.locator('#zoo-arch').selectOption('tinycnn');
    // no weights yet: the form says so, nothing is sent
    await page.locator('#zoo-form button[type="submit"]').click();
    assert.match(await text('#zoo-message'), /tinycnn needs weights: choose a file/);
    await page.locator('#zoo-weights-file').setInputFiles('examples/tinycnn-deterministic.safetensors');
    await page.locator('#zoo-form button[type="submit"]').click();
    await page.locator('#model-select option', { hasText: 'tinycnn' }).waitFor({ state: 'attached' });
    await page.locator('#examples', { hasText: 'No shipped examples' }).waitFor();
    assert.match(await text('#model-info'), /no statistics: raw saliency/);

    await page.locator('#image-file').setInputFiles('test/fixtures/images/rgb_300x200.jpg');
    await page.locator('#prediction', { hasText: 'predicted: class' }).waitFor();
    await page.locator('#chart-caption', { hasText: 'No statistics' }).waitFor();
    await page.locator('#activity').waitFor({ state: 'hidden' });
    assert.equal(await text('#top-value-head'), 'saliency');
    assert.equal((await probabilities('#top5')).length, 5);
    // no label given: the prediction stands in, and the page says so instead of judging it
    assert.equal(await text('#true-class'), 'not given');
    assert.match(await text('#prediction'), /assumed: the prediction, class \d+ — set the true label/);
    assert.doesNotMatch(await text('#prediction'), /correct|misclassified|loss/);
    assert.ok(await page.locator('#label-note').isVisible());
    await shot('05-other-model.png');

    // back to the bundled model: the same photo, with Fashion-MNIST's classes
    await page.locator('#model-select').selectOption({ label: 'fashion-cnn (bundled)' });
    await page.locator('#chart-caption', { hasText: 'sorted by z' }).waitFor();
    await page.locator('#activity').waitFor({ state: 'hidden' });
    assert.match(await text('#predicted-class'), /^[A-Za-z/ -]+ \(\d\)$/);
  });

  it('loads a model over filters and neurons: the page names each unit by its kind', async () => {
    await page.locator('#load-model summary').click();
    await page.locator('#model-units').selectOption('filters+neurons');
    await page.locator('#zoo-arch').selectOption('fashion-cnn');
    await page.locator('#zoo-weights-file').setInputFiles([]); // its bundled weights
    await page.locator('#zoo-form button[type="submit"]').click();
    await page.locator('#model-select option', { hasText: 'filters+neurons' }).waitFor({ state: 'attached' });
    await page
      .locator('#model-info', { hasText: '224 filters, 10 neurons (--units filters+neurons)' })
      .waitFor();
    await explained('shirt-as-tshirt-5806.png', 'Shirt (6)', 'T-shirt/top (0)');
    await page.locator('#chart-caption', { hasText: "Each layer's units (filters, neurons)" }).waitFor();
    // the last layer of the profile is the fc's neurons
    const box = (await page.locator('#chart rect.hit').boundingBox())!;
    await page.mouse.move(box.x + box.width - 2, box.y + box.height * 0.5);
    const tip = page.locator('#chart-tooltip');
    await tip.waitFor({ state: 'visible' });
    assert.match((await tip.textContent()) ?? '', /^fc · neuron \d+/);
    await shot('06-units.png');
    // the page's own wording follows: units, not filters
    assert.equal(await text('#prune-panel h2'), 'Zero units');
    await page.locator('#model-select').selectOption({ label: 'fashion-cnn (bundled)' });
    await page.locator('#chart-caption', { hasText: 'sorted by z' }).waitFor();
    assert.equal(await text('#prune-panel h2'), 'Zero filters');
  });

  it('loads nothing from outside the server, and throws no script errors', () => {
    assert.deepEqual(external, []);
    assert.deepEqual(pageErrors, []);
  });
});
