/**
 * What the browser tests share: `pss serve` in a child process and Debian's Chromium (headless,
 * offline flags, a fresh profile) driven by playwright-core; screenshots in test-artifacts/web/.
 * `skip` says why the tests cannot run here (no Chromium, no playwright-core).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { type ServeProcess, serve } from './helpers.js';

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = 'test-artifacts/web';
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
export const skip = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is absent (Debian: apt-get install -y chromium)`
  : !pw
    ? 'playwright-core is not installed (npm install -D playwright-core)'
    : false;

export interface Session {
  server: ServeProcess;
  context: BrowserContext;
  page: Page;
  /** Requests to anything but the server; script errors of the page. */
  external: string[];
  pageErrors: string[];
  shot(name: string): Promise<unknown>;
  text(selector: string): Promise<string>;
  /** Stops the browser and the server (asserting a clean exit). */
  close(): Promise<void>;
}

export async function openSession(
  args: string[] = [],
  viewport = { width: 1440, height: 1000 },
): Promise<Session> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const server = await serve(args);
  const profile = mkdtempSync(join(tmpdir(), 'pss-chromium-'));
  const context = await pw!.chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30_000);
  const external: string[] = [];
  const pageErrors: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(server.url) && !r.url().startsWith('data:')) external.push(r.url());
  });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  return {
    server,
    context,
    page,
    external,
    pageErrors,
    shot: (name) => page.screenshot({ path: join(ARTIFACTS, name), fullPage: true }),
    text: async (selector) => (await page.locator(selector).textContent()) ?? '',
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
      const code = await server.stop();
      assert.equal(code, 0, server.output());
    },
  };
}

/** Waits until the page shows an explanation with these true and predicted classes, and is idle. */
export async function explained(page: Page, truth: string, predicted: string): Promise<void> {
  await page.locator('#true-class', { hasText: truth }).waitFor();
  await page.locator('#predicted-class', { hasText: predicted }).waitFor();
  await page.locator('#activity').waitFor({ state: 'hidden' });
}
