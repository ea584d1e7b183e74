/**
 * The explorer in Chromium for keyboards and small screens: the whole flow by keyboard only
 * (choose an example, upload a file, pick a filter in the chart, zero it), informative alt
 * text, and nothing wider than the window at 360 px and 1400 px (screenshots kept).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { explained, openSession, type Session, skip } from './browser-session.js';

/** Presses Tab until the focused element matches `selector` (at most `max` presses). */
async function tabTo(page: Page, selector: string, max = 80): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(`document.activeElement?.matches(${JSON.stringify(selector)}) ?? false`)) return;
  }
  throw new Error(`Tab never reached ${selector}`);
}

/**
 * Space on the focused file input opens the file chooser. Once, in CI, the chooser never came
 * (not reproduced here); a press that Chromium drops is pressed again, up to three times — a
 * page where the keyboard cannot open it still fails.
 */
async function openByKeyboard(page: Page) {
  const opened = page.waitForEvent('filechooser', { timeout: 20_000 });
  for (let i = 0; i < 3; i++) {
    assert.ok(
      await page.evaluate(`document.activeElement?.id === 'image-file'`),
      'the file input has the focus',
    );
    await page.keyboard.press('Space');
    const came = await Promise.race([
      opened.then(() => true),
      new Promise((r) => setTimeout(r, 4000, false)),
    ]);
    if (came) break;
  }
  return opened;
}

/** Elements whose box leaves the window on the right or left (the page code as a string: no DOM types here). */
const overflowing = (page: Page) =>
  page.evaluate(`(() => {
    const w = document.documentElement.clientWidth;
    const out = [];
    if (document.documentElement.scrollWidth > w) out.push('page scrolls sideways: ' + document.documentElement.scrollWidth + ' > ' + w);
    for (const e of document.querySelectorAll('body *')) {
      if (e.closest('.table-wrap, .visually-hidden, [hidden], option')) continue;
      const r = e.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (r.right > w + 0.5 || r.left < -0.5) out.push((e.id ? '#' + e.id : e.tagName.toLowerCase() + '.' + e.className) + ' ' + Math.round(r.left) + '..' + Math.round(r.right));
    }
    return out;
  })()`) as Promise<string[]>;

describe('pss serve in a browser: keyboard and screen sizes', { skip }, () => {
  let s: Session;
  before(async () => {
    s = await openSession();
  });
  after(async () => {
    await s?.close();
  });

  it('keyboard only: choose an example, upload a file, pick a filter in the chart, zero it', async () => {
    const { page } = s;
    // Playwright starts intercepting file choosers only when a listener is added, without waiting
    // for Chromium to confirm; listening from the start keeps that out of the key press's way.
    page.on('filechooser', () => {});
    await page.goto(s.server.url);
    await explained(page, 'Shirt (6)', 'T-shirt/top (0)');

    await tabTo(page, '.example[data-file="bag-1884.png"]');
    await page.keyboard.press('Enter');
    await explained(page, 'Bag (8)', 'Bag (8)');

    await tabTo(page, '#image-file');
    const chooser = await openByKeyboard(page);
    await chooser.setFiles('examples/fashion/coat-as-pullover-5381.png');
    await page.locator('#prediction', { hasText: 'not given' }).waitFor();
    await page.locator('#top-table tbody tr').first().waitFor();
    await page.locator('#activity').waitFor({ state: 'hidden' });

    // the true label, by keyboard: the note about the assumed label goes away
    await tabTo(page, '#label');
    await page.keyboard.press('Home');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown'); // class 4: Coat
    await explained(page, 'Coat (4)', 'Pullover (2)');
    assert.ok(await page.locator('#label-note').isHidden());

    await tabTo(page, '#chart');
    const live = await s.text('#chart-focus');
    assert.match(live, /^conv\d filter \d+: z -?\d/);
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    const moved = await s.text('#chart-focus');
    assert.notEqual(moved, live);
    const index = await page.locator('#chart-tooltip').getAttribute('data-index');
    await page.keyboard.press('Enter');
    await page.locator('#map-filter').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#chart circle.pick.selected').getAttribute('data-index'), index);
    const [layer, filter] = moved.split(': ')[0].split(' filter ');
    assert.match(await s.text('#map-filter-caption'), new RegExp(`^Filter ${layer} #${filter} `));

    await tabTo(page, '#prune-toggle');
    await page.keyboard.press('Space');
    await page.locator('#pruned', { hasText: 'With 10 filters zeroed' }).waitFor();
    await tabTo(page, 'input[name="prune-mode"]');
    await page.keyboard.press('ArrowRight'); // the radio group: "the clicked ones"
    await page.locator('#pruned', { hasText: 'With 1 filter zeroed' }).waitFor();
    await s.shot('20-keyboard.png');
  });

  it('k and boost are checked in the page: an empty or wrong value is said beside the field, nothing is sent', async () => {
    const { page } = s;
    let sent = 0;
    page.on('request', (r) => {
      if (r.url().endsWith('/api/explain')) sent++;
    });
    await page.locator('#k').fill('');
    await page.locator('#k').press('Tab');
    assert.equal(await s.text('#k-message'), 'k must be a whole number from 1 to 224');
    assert.equal(await page.locator('#k').getAttribute('aria-invalid'), 'true');
    assert.equal(sent, 0);
    await page.locator('#k').fill('10');
    await page.locator('#k').press('Tab');
    await page.locator('#activity').waitFor({ state: 'hidden' });
    assert.ok(await page.locator('#k-message').isHidden());
    const before = sent;
    assert.ok(before > 0);
    await page.locator('#boost').fill('');
    await page.locator('#boost').press('Tab');
    assert.equal(await s.text('#boost-message'), 'boost must be a number from 0 to 1,000,000');
    await page.locator('#boost').fill('-1');
    await page.locator('#boost').press('Tab');
    assert.equal(await s.text('#boost-message'), 'boost must be a number from 0 to 1,000,000');
    assert.equal(sent, before);
    await page.locator('#boost').fill('100');
    await page.locator('#boost').press('Tab');
    await page.locator('#activity').waitFor({ state: 'hidden' });
    assert.ok(await page.locator('#boost-message').isHidden());
    assert.ok(sent > before);
  });

  it('maps and examples have informative alt text', async () => {
    const { page } = s;
    const alts: Record<string, string> = {};
    for (const id of ['map-input', 'map-pss', 'map-filter', 'map-cam-predicted', 'map-cam-true'])
      alts[id] = (await page.locator(`#${id}`).getAttribute('alt')) ?? '';
    assert.match(alts['map-input'], /^coat-as-pullover-5381\.png as the model sees it \(28×28 pixels\)$/);
    assert.match(alts['map-pss'], /the pixels that drive the top 10 filters/);
    assert.match(
      alts['map-filter'],
      /^Input-space map of filter conv\d #\d+ over coat-as-pullover-5381\.png/,
    );
    assert.match(alts['map-cam-predicted'], /predicted class Pullover \(2\)/);
    assert.match(alts['map-cam-true'], /true class Coat \(4\)/);
    const example = await page.locator('.example[data-file="bag-1884.png"]').getAttribute('aria-label');
    assert.equal(example, 'Example: Bag');
    assert.deepEqual(s.pageErrors, []);
  });

  for (const width of [360, 800, 1400]) {
    it(`nothing overflows at ${width} px`, async () => {
      const { page } = s;
      await page.setViewportSize({ width, height: 900 });
      await page.goto(s.server.url);
      await explained(page, 'Shirt (6)', 'T-shirt/top (0)');
      await page.locator('#chart circle.top').first().click();
      await page.locator('#map-filter').waitFor({ state: 'visible' });
      await page.locator('#load-model summary').click();
      await page.locator('#activity').waitFor({ state: 'hidden' });
      await s.shot(`30-width-${width}.png`);
      assert.deepEqual(await overflowing(page), []);
      const chart = (await page.locator('#chart svg').boundingBox())!;
      assert.ok(chart.width <= width, `chart ${chart.width} px wide`);
    });
  }
});
