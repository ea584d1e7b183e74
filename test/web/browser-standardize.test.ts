/**
 * The page's "Rank by" choice in Chromium: z or POT on the bundled statistics (which keep
 * tails) — with POT the table, the chart's tooltip and the filter map's caption show −log10 P
 * and the table is the API's POT ranking — and only z, saying why, for statistics without tails.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { explained, openSession, type Session, skip } from './browser-session.js';

const UNTAILED = 'test/fixtures/fashion-cnn-stats-before-tails.safetensors';

describe('pss serve in a browser: z or POT', { skip }, () => {
  let s: Session;
  before(async () => {
    s = await openSession();
  });
  after(async () => {
    assert.deepEqual(s?.pageErrors ?? [], []);
    assert.deepEqual(s?.external ?? [], []);
    await s?.close();
  });

  it('switches the profile to POT and back; a model without tails offers only z', async () => {
    const { page } = s;
    await page.goto(s.server.url);
    await explained(page, 'Shirt (6)', 'T-shirt/top (0)');
    await page.locator('.example[data-file="coat-as-pullover-5381.png"]').click();
    await explained(page, 'Coat (4)', 'Pullover (2)');
    assert.equal(await page.locator('#standardize').inputValue(), 'z');
    assert.equal(await s.text('#top-value-head'), 'z');
    assert.match(await s.text('#standardize-note'), /q = 0\.85/);

    await page.locator('#standardize').selectOption('pot');
    await page.locator('#top-value-head', { hasText: '−log10 P' }).waitFor();
    await page.locator('#activity').waitFor({ state: 'hidden' });
    assert.match(
      await s.text('#chart-caption'),
      /sorted by −log10 P, P being POT's tail probability \(q = 0\.85\)/,
    );
    assert.match(await s.text('#map-pss-caption'), /top 10 filters by POT/);
    const shown = await page
      .locator('#top-table tbody tr')
      .evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-index'))));
    const state = (await (await fetch(new URL('/api/state', s.server.url))).json()) as { initial: string };
    const api = (await (
      await fetch(new URL('/api/explain', s.server.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: state.initial,
          image: 'example:coat-as-pullover-5381.png',
          label: 4,
          standardize: 'pot',
        }),
      })
    ).json()) as { profile: { top: { index: number }[] } };
    assert.deepEqual(
      shown,
      api.profile.top.map((t) => t.index),
    );
    const first = await page.locator('#top-table tbody tr').first().locator('td').allTextContents();
    const dot = page.locator(`#chart circle.top[data-index="${shown[0]}"]`);
    await dot.hover();
    const tip = page.locator('#chart-tooltip');
    await tip.waitFor({ state: 'visible' });
    assert.match(
      (await tip.textContent()) ?? '',
      new RegExp(`^${first[1]} · filter ${first[2]}−log10 P = ${first[3]} · rank 1`),
    );
    await dot.click();
    await page.locator('#map-filter').waitFor({ state: 'visible' });
    await page.locator('#activity').waitFor({ state: 'hidden' });
    assert.match(
      await s.text('#map-filter-caption'),
      new RegExp(`^Filter ${first[1]} #${first[2]} \\(−log10 P = ${first[3]}\\)`),
    );
    await s.shot('standardize-pot.png');

    await page.locator('#standardize').selectOption('z');
    await page.locator('#top-value-head', { hasText: /^z$/ }).waitFor();
    await page.locator('#chart-caption', { hasText: 'sorted by z' }).waitFor();

    // the embedded model's first statistics keep no tails: only z, and the page says why
    await page.locator('#standardize').selectOption('pot');
    await page.locator('#top-value-head', { hasText: '−log10 P' }).waitFor();
    await page.locator('#load-model summary').click();
    await page.locator('#zoo-arch').selectOption('fashion-cnn');
    await page.locator('#zoo-stats-file').setInputFiles(UNTAILED);
    await page.locator('#zoo-form button[type="submit"]').click();
    await page.locator('#standardize-note', { hasText: 'POT is not offered' }).waitFor();
    assert.match(
      await s.text('#standardize-note'),
      /^POT is not offered for this model: fashion-cnn-stats-before-tails\.safetensors keeps no tails/,
    );
    assert.equal(await page.locator('#standardize').inputValue(), 'z');
    assert.ok(await page.locator('#standardize option[value="pot"]').isDisabled());
    await explained(page, 'Shirt (6)', 'T-shirt/top (0)');
    assert.equal(await s.text('#top-value-head'), 'z');
    await s.shot('standardize-untailed.png');

    // back to the bundled statistics: the choice made (POT) comes back
    await page.locator('#model-select').selectOption(state.initial);
    await explained(page, 'Shirt (6)', 'T-shirt/top (0)');
    assert.equal(await page.locator('#standardize').inputValue(), 'pot');
    assert.equal(await s.text('#top-value-head'), '−log10 P');
  });
});
