/**
 * Debian's Chromium driven by playwright-core, for the dashboard's browser tests
 * and benchmark: headless, sandbox off (containers), a fresh profile per launch.
 * The tests skip when /usr/bin/chromium is missing (`.ci/run` installs it).
 *
 * @packageDocumentation
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Where Debian installs Chromium. */
export const CHROMIUM = '/usr/bin/chromium';

/** Why the browser tests cannot run here, or undefined when they can. */
export const browserMissing: string | undefined = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium) to run the dashboard's browser tests`;

/** The folder (git-ignored) screenshots are saved in. */
export const SCREENSHOTS = new URL('../../screenshots/', import.meta.url).pathname;

/** Launches Chromium headless; each context is a fresh profile. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A page of a fresh context that already holds `token` (as the page keeps it after reading `#token=`). */
export async function pageWithToken(browser: Browser, token: string | undefined): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 860 } });
  if (token !== undefined) await context.addInitScript(`sessionStorage.setItem('taskwire.token', ${JSON.stringify(token)})`);
  return { context, page: await context.newPage() };
}

/** Saves a screenshot of `page` as `screenshots/<name>.png`. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOTS}${name}.png` });
}

/**
 * Evaluates a browser expression in `page` (a string: this file is typed for
 * node, not the DOM), e.g. `window.__taskwire.nodeState("a")`.
 */
export function inPage<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate<T>(expression);
}

/**
 * Waits until a browser expression is truthy in `page`, polling it every 50 ms
 * from here (the page's Content-Security-Policy forbids the string evaluation
 * `page.waitForFunction` would do in the page).
 */
export async function untilInPage(page: Page, expression: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await inPage<unknown>(page, expression))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${expression}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
