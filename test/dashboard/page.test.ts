/**
 * The dashboard page in Debian's Chromium against the real server on an
 * embedded store: what a user sees and does. Skipped (with the reason) when
 * /usr/bin/chromium is missing.
 */
import { mkdir, copyFile } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { event, flow, task } from '../../src/index.js';
import wordpress, { fetchChefRecipes, installWordpress, kickServer, kickServer2 } from '../../examples/wordpress.js';
import { SCREENSHOTS, browserMissing, inPage, launchBrowser, pageWithToken, screenshot, untilInPage } from './browser.js';
import { OPERATOR, VIEWER, testDashboard, type TestDashboard } from './serve.js';

const WORDPRESS_TASKS = [fetchChefRecipes, kickServer, kickServer2, installWordpress];

describe.skipIf(browserMissing !== undefined)(`the dashboard page in Chromium${browserMissing === undefined ? '' : ` (skipped: ${browserMissing})`}`, () => {
  let browser: Browser;
  let dashboard: TestDashboard | undefined;
  const pages: Page[] = [];

  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterEach(async () => {
    for (const page of pages.splice(0)) await page.context().close();
    await dashboard?.close();
    dashboard = undefined;
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** Opens a page of the dashboard holding `token` (null: none). */
  async function open(path: string, token: string | null = OPERATOR): Promise<Page> {
    const { page } = await pageWithToken(browser, token ?? undefined);
    pages.push(page);
    await page.goto(`${dashboard!.server.url}/${path}`);
    return page;
  }

  /** Clicks a node of the graph (a canvas: where the page says the node is). */
  async function clickNode(page: Page, id: string): Promise<void> {
    await untilInPage(page, `window.__taskwire?.nodePoint(${JSON.stringify(id)}) !== undefined`);
    const point = await inPage<{ x: number; y: number }>(page, `window.__taskwire.nodePoint(${JSON.stringify(id)})`);
    await page.mouse.click(point.x, point.y);
    await page.waitForSelector(`[data-node-id="${id}"]`);
  }

  /** Opens the Change tab and adds one edit to the change list. */
  async function compose(page: Page, op: string, fields: Record<string, string>): Promise<void> {
    await page.click('[data-tab="change"]');
    await page.selectOption('.compose select[name="op"]', op);
    for (const [name, value] of Object.entries(fields)) {
      if (name === 'task') await page.selectOption('.compose select[name="task"]', value);
      else await page.fill(`.compose input[name="${name}"]`, value);
    }
    await page.click('text=Add to the change list');
  }

  /** The wordpress run, failed at kickServer (as the example leaves it). */
  async function failedWordpress(): Promise<string> {
    dashboard = await testDashboard({ tasks: WORDPRESS_TASKS });
    const run = await dashboard.client.start(wordpress);
    expect((await run.wait()).status).toBe('failed');
    return run.id;
  }

  it('shows a node turn from running to succeeded, live', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = task('slowStep', { requires: ['n'], apply: async ({ n }: { n: number }) => (await gate, n * 6) });
    dashboard = await testDashboard({ tasks: [slow] });
    const run = await dashboard.client.start(flow('slow').add(slow.s()), { n: 7 });

    const page = await open('#/');
    await page.waitForSelector(`[data-run-id="${run.id}"][data-status="running"]`);
    await screenshot(page, 'runs');
    await page.click(`[data-run-id="${run.id}"] a`);
    await clickNode(page, 'slowStep');
    await page.waitForSelector('[data-node-id="slowStep"][data-node-state="running"]');
    expect(await inPage(page, 'window.__taskwire.nodeState("slowStep")')).toBe('running');
    // The values its attempt was given, and its time queued apart from its run time.
    await expect(page.locator('[data-node-id="slowStep"] [data-field="inputs"]').textContent()).resolves.toContain('7');
    await expect(page.locator('[data-node-id="slowStep"] [data-field="queueTime"]').textContent()).resolves.toMatch(/\d+ ms/);
    await screenshot(page, 'run-running');

    release();
    await page.waitForSelector('[data-node-id="slowStep"][data-node-state="succeeded"]');
    await expect(page.locator('[data-node-id="slowStep"] [data-field="result"]').textContent()).resolves.toContain('42');
    await page.waitForSelector('[data-run-status="succeeded"]');
  });

  it('lists runs live, with counts by status and filters', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = task('gatedStep', { apply: async () => (await gate, 1) });
    dashboard = await testDashboard({ tasks: [slow] });
    const page = await open('#/');
    await page.waitForSelector('.runs .empty');

    const run = await dashboard.client.start(flow('gated').add(slow.s()));
    await page.waitForSelector(`[data-run-id="${run.id}"][data-status="running"]`);
    await expect(page.locator('.chip[data-status="running"] b').textContent()).resolves.toBe('1');
    release();
    await page.waitForSelector(`[data-run-id="${run.id}"][data-status="succeeded"]`);

    await page.click('.chip[data-status="succeeded"]');
    await expect(page.locator('.runs-table tbody tr').count()).resolves.toBe(1);
    await page.fill('.filters input[name="idPrefix"]', 'no-such-run');
    await page.click('.filters button[type="submit"]');
    await page.waitForSelector('.runs .empty');
    await expect(page.locator('.runs-table tbody tr').count()).resolves.toBe(0);
  });

  it('fixes the wordpress run from the page: add kickServer2, relink installWordpress, apply as one change', async () => {
    const id = await failedWordpress();
    const page = await open(`#/runs/${id}`);
    await page.waitForSelector('[data-run-status="failed"]');
    await clickNode(page, 'kickServer');
    await expect(page.locator('[data-node-id="kickServer"] .error-message').first().textContent()).resolves.toContain('zone a has no capacity left');

    await compose(page, 'add', { task: 'kickServer2' });
    await compose(page, 'relink', { node: 'installWordpress', from: 'kickServer', to: 'kickServer2' });
    await expect(page.locator('.change-list li[data-op]').count()).resolves.toBe(2);
    await page.click('button[name="apply"]');
    await page.waitForSelector('[data-outcome]');
    await page.waitForSelector('[data-run-status="succeeded"]');
    // The run's status and the node's state arrive in separate live updates: wait for the node's too.
    await page.waitForFunction('window.__taskwire.nodeState("kickServer2") === "succeeded"');
    expect(await inPage(page, 'window.__taskwire.nodeState("kickServer2")')).toBe('succeeded');

    const done = await dashboard!.client.run(id).status();
    expect(done.status).toBe('succeeded');
    expect(done.graphVersion).toBe(2); // both edits under one graph version
    await page.click('[data-tab="history"]');
    const changes = page.locator('.timeline li[data-type="change"]');
    await expect(changes.count()).resolves.toBe(2);
    await expect(changes.first().textContent()).resolves.toContain('dashboard:alice');
    await clickNode(page, 'installWordpress');
    await page.click('[data-tab="history"]');
    await screenshot(page, 'wordpress-fixed');

    // Time travel: the graph at version 1 has no kickServer2.
    await page.selectOption('.time-travel select', '1');
    await page.locator('[data-banner="version"]').waitFor();
    await untilInPage(page, 'window.__taskwire.nodePoint("kickServer2") === undefined');
    expect(await inPage(page, 'window.__taskwire.nodePoint("kickServer") !== undefined')).toBe(true);
    await page.click('[data-banner="version"] button');
    await untilInPage(page, 'window.__taskwire.nodePoint("kickServer2") !== undefined');
    // The README's image, redone on demand only (a test run leaves tracked files alone).
    if (process.env['TASKWIRE_UPDATE_README_IMAGE'] === '1') {
      await mkdir(new URL('../../docs/img/', import.meta.url), { recursive: true });
      await copyFile(`${SCREENSHOTS}wordpress-fixed.png`, new URL('../../docs/img/dashboard.png', import.meta.url));
    }
  });

  it('shows a what-if preview of the change list, and writes nothing', async () => {
    const id = await failedWordpress();
    const page = await open(`#/runs/${id}`);
    await page.waitForSelector('[data-run-status="failed"]');
    await compose(page, 'add', { task: 'kickServer2' });
    await compose(page, 'relink', { node: 'installWordpress', from: 'kickServer', to: 'kickServer2' });
    await page.click('button[name="preview"]');
    await page.waitForSelector('[data-banner="preview"]');
    await expect(page.locator('[data-outcome]').textContent()).resolves.toMatch(/Valid: the run would be \w+ at graph v2/);
    await screenshot(page, 'preview');

    const after = await dashboard!.client.run(id).status();
    expect(after.graphVersion).toBe(1);
    expect(after.nodes['kickServer2']).toBeUndefined();
    expect(await inPage(page, 'window.__taskwire.nodeState("kickServer2")')).toBeUndefined();
  });

  it("shows a refused change's error naming the node, and changes nothing", async () => {
    const id = await failedWordpress();
    const page = await open(`#/runs/${id}`);
    await page.waitForSelector('[data-run-status="failed"]');
    await compose(page, 'link', { from: 'ghost', to: 'installWordpress' });
    await page.click('button[name="apply"]');
    const error = page.locator('.change-panel [role="alert"]');
    await error.waitFor();
    await expect(error.getAttribute('data-code')).resolves.toMatch(/^TW_/);
    await expect(error.textContent()).resolves.toContain('ghost');
    await screenshot(page, 'refused');

    const after = await dashboard!.client.run(id).status();
    expect(after.graphVersion).toBe(1);
    expect(after.status).toBe('failed');
    expect((await dashboard!.client.run(id).history()).filter((e) => e.type === 'change')).toEqual([]);
  });

  it("shows what a stalled run misses, on the graph and in the node's panel", async () => {
    dashboard = await testDashboard({ tasks: WORDPRESS_TASKS });
    const run = await dashboard.client.start(flow('lonely').add(installWordpress.s()), {}, { validate: false });
    expect((await run.wait()).status).toBe('stalled');
    const page = await open(`#/runs/${run.id}`);
    const banner = page.locator('[data-banner="stalled"]');
    await banner.waitFor();
    await expect(banner.textContent()).resolves.toContain('installWordpress misses');
    await clickNode(page, 'installWordpress');
    await expect(page.locator('[data-node-id="installWordpress"] [data-field="waitingFor"]').textContent()).resolves.toMatch(/inputs with no value: .*recipes/);
    await screenshot(page, 'stalled');
  });

  it("notifies an event from the page, and shows the persistent listener's activations", async () => {
    const double = task('doubleTick', { requires: ['i'], apply: ({ i }: { i: number }) => i * 2 });
    dashboard = await testDashboard({ tasks: [double] });
    const run = await dashboard.client.start(flow('ticks').link(event('tick', { id: 'tick', provides: ['i'] }), double.s({}, { id: 'double', persistent: true })));
    const page = await open(`#/runs/${run.id}`);
    await page.waitForSelector('[data-run-status="listening"]');
    await page.click('[data-tab="change"]');
    await page.fill('.notify input[name="event"]', 'tick');
    await page.fill('.notify textarea[name="payload"]', '{"i": 21}');
    await page.click('.notify button[type="submit"]');
    await expect(page.locator('.notify .ok').textContent()).resolves.toContain('notified 1 run');

    await clickNode(page, 'double');
    const activation = page.locator('[data-node-id="double"] tr[data-activation]');
    await activation.first().waitFor();
    await expect(activation.first().textContent()).resolves.toContain('42');
    await screenshot(page, 'listener');
  });

  it('lets a viewer look but not change anything (the page disables, the server refuses)', async () => {
    const id = await failedWordpress();
    const page = await open(`#/runs/${id}`, VIEWER);
    await page.waitForSelector('[data-run-status="failed"]');
    await page.click('[data-tab="change"]');
    await expect(page.locator('.change-panel[data-viewer="yes"] .note').textContent()).resolves.toContain('viewer');
    await expect(page.locator('button[name="apply"]').isDisabled()).resolves.toBe(true);
    await expect(page.locator('.compose select[name="op"]').isDisabled()).resolves.toBe(true);

    // The server refuses the viewer's change even when sent around the page's controls.
    const status = await inPage<number>(
      page,
      `fetch('/api/runs/${id}/changes', { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + sessionStorage.getItem('taskwire.token') }, body: JSON.stringify({ changes: [{ op: 'add', node: { task: 'kickServer2' } }] }) }).then((r) => r.status)`,
    );
    expect(status).toBe(403);
    expect((await dashboard!.client.run(id).status()).graphVersion).toBe(1);
  });

  it('shows the workers, and the queues (none on the embedded transport, saying why)', async () => {
    dashboard = await testDashboard({ tasks: WORDPRESS_TASKS });
    const page = await open('#/workers');
    await page.waitForSelector('section.workers .note');
    await screenshot(page, 'workers');
  });

  it('asks for a token when it has none, and the server refuses requests without one', async () => {
    dashboard = await testDashboard();
    const page = await open('#/', null);
    await page.waitForSelector('.token-form');
    await expect(page.locator('.token-form .error').getAttribute('data-code')).resolves.toBe('TW_UNAUTHORIZED');
    expect(await inPage<number>(page, "fetch('/api/runs').then((r) => r.status)")).toBe(401);
    await screenshot(page, 'token');

    await page.fill('.token-form input', OPERATOR);
    await page.click('.token-form button');
    await page.waitForSelector('.runs-table');
  });

  it('takes the token from #token= in the address, and removes it from the address bar', async () => {
    dashboard = await testDashboard();
    const page = await open(`#token=${OPERATOR}`, null);
    await page.waitForSelector('.runs-table');
    expect(new URL(page.url()).hash).toBe('#/');
    expect(await inPage(page, "sessionStorage.getItem('taskwire.token')")).toBe(OPERATOR);
  });
});
