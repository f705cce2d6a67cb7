/**
 * The dashboard's graph at 10,000 nodes (issue 13: opens and is interactive in
 * under 2 s, stays responsive while the run runs):
 *
 * 1. the layout alone, in node: `layoutGraph` of a 10,000-node graph (median of
 *    5), and `patchLayout` placing one added node;
 * 2. in Chromium (playwright-core, /usr/bin/chromium), against the real
 *    dashboard server on an embedded store with a worker: a 10,000-node run
 *    (100 chains of 100 tasks) is started, the page opens it, and the time from
 *    navigation to the graph drawn and accepting input is read from the page
 *    (`window.__taskwire.graphReadyAt`); then, while the run executes and its
 *    history streams in, the frames drawn over 3 s and the longest gap between
 *    two, and the time from a click on a node to its panel.
 *
 * ```
 * npx tsx bench/dashboard-graph.ts [--nodes 10000] [--runs 3] [--no-browser]
 * ```
 * Prints one JSON line per figure set, and a summary.
 */
import { parseArgs } from 'node:util';
import { connect, flow, task } from '../src/index.js';
import { packageAssets } from '../src/dashboard/server/assets.js';
import { startDashboard } from '../src/dashboard/server/server.js';
import { TokenTable } from '../src/dashboard/server/tokens.js';
import { layoutGraph, patchLayout } from '../src/dashboard/page/graph/layout.js';
import { openStore } from '../src/runtime/open-store.js';
import { browserMissing, inPage, launchBrowser, pageWithToken, untilInPage } from '../test/dashboard/browser.js';

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '10000' }, runs: { type: 'string', default: '3' }, 'no-browser': { type: 'boolean', default: false } } });
const NODES = Number(values.nodes);
const RUNS = Number(values.runs);
const CHAINS = Math.max(1, Math.round(Math.sqrt(NODES)));
const LENGTH = Math.ceil(NODES / CHAINS);
const TOKEN = 'bench-operator-token-0123456789';

/** Counts the frames the page draws over 3 s, and the longest gap between two (a browser expression). */
const FRAME_PROBE = `new Promise((resolve) => {
  let frames = 0, last = performance.now(), maxGap = 0;
  const end = last + 3000;
  const tick = (now) => {
    frames++;
    maxGap = Math.max(maxGap, now - last);
    last = now;
    if (now < end) requestAnimationFrame(tick); else resolve({ frames, maxGap });
  };
  requestAnimationFrame(tick);
})`;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number): number => Math.round(x * 10) / 10;

/** One step of a chain: `v + 1`, after a short pause (so the run is still running while the page is measured). */
const step = task('bench.dashboard.step', {
  requires: ['v'],
  provides: 'v',
  apply: async ({ v }: { v: number }) => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return v + 1;
  },
});

/** The benchmark graph as the page gets it: `CHAINS` chains of `LENGTH` nodes. */
function graphShape(): { nodes: Array<{ id: string }>; links: Array<{ from: string; to: string }> } {
  const nodes: Array<{ id: string }> = [];
  const links: Array<{ from: string; to: string }> = [];
  for (let c = 0; c < CHAINS; c++) {
    for (let k = 0; k < LENGTH; k++) {
      nodes.push({ id: `c${c}s${k}` });
      if (k > 0) links.push({ from: `c${c}s${k - 1}`, to: `c${c}s${k}` });
    }
  }
  return { nodes, links };
}

function benchLayout(): { layout_ms: number; patch_ms: number } {
  const graph = graphShape();
  const times: number[] = [];
  let layout = layoutGraph(graph);
  for (let r = 0; r < 5; r++) {
    const started = performance.now();
    layout = layoutGraph(graph);
    times.push(performance.now() - started);
  }
  const added = { nodes: [...graph.nodes, { id: 'extra' }], links: [...graph.links, { from: 'c0s0', to: 'extra' }] };
  const started = performance.now();
  patchLayout(layout, added);
  return { layout_ms: ms(median(times)), patch_ms: ms(performance.now() - started) };
}

async function benchBrowser(): Promise<Record<string, number>> {
  const store = await openStore('memory', { distributed: false });
  const client = await connect({ store, tasks: [step] });
  const server = await startDashboard({
    client,
    store,
    port: 0,
    transport: 'inprocess',
    secrets: [],
    tokens: new TokenTable([{ token: TOKEN, name: 'bench', role: 'operator' }]),
    assets: packageAssets(),
  });
  const browser = await launchBrowser();
  const figures: Array<Record<string, number>> = [];
  try {
    for (let r = 0; r < RUNS; r++) {
      const big = flow('bench-dashboard');
      for (let c = 0; c < CHAINS; c++) {
        let previous = step.s({ v: 0 }, { id: `c${c}s0` });
        big.add(previous);
        for (let k = 1; k < LENGTH && c * LENGTH + k < NODES; k++) {
          const next = step.s({}, { id: `c${c}s${k}` });
          big.link(previous, next);
          previous = next;
        }
      }
      const run = await client.start(big, {}, { validate: false });
      const { context, page } = await pageWithToken(browser, TOKEN);
      const navigated = performance.now();
      await page.goto(`${server.url}/#/runs/${encodeURIComponent(run.id)}`);
      await untilInPage(page, 'window.__taskwire?.graphReadyAt !== undefined', 60_000);
      const wall = performance.now() - navigated;
      const opened = await inPage<{ ready: number; layout: number }>(page, '({ ready: window.__taskwire.graphReadyAt, layout: window.__taskwire.layoutMs ?? -1 })');
      // Responsiveness while the run runs: frames over 3 s, and a click's answer.
      const frames = await inPage<{ frames: number; maxGap: number }>(page, FRAME_PROBE);
      const target = `c${Math.floor(CHAINS / 2)}s0`;
      const point = await inPage<{ x: number; y: number } | undefined>(page, `window.__taskwire.nodePoint(${JSON.stringify(target)})`);
      let click = -1;
      if (point !== undefined) {
        const clicked = performance.now();
        await page.mouse.click(point.x, point.y);
        await page.waitForSelector(`[data-node-id="${target}"]`, { timeout: 10_000 });
        click = performance.now() - clicked;
      }
      const status = (await run.status()).status;
      const line = { nodes: NODES, interactive_ms: ms(opened.ready), wall_ms: ms(wall), page_layout_ms: ms(opened.layout), frames_3s: frames.frames, max_frame_gap_ms: ms(frames.maxGap), click_to_panel_ms: ms(click) };
      console.log(JSON.stringify({ figure: 'dashboard-browser', run_status_after: status, ...line }));
      figures.push(line);
      await context.close();
      await run.cancel().catch(() => undefined);
    }
  } finally {
    await browser.close();
    await server.close();
    await client.close();
  }
  const keys = Object.keys(figures[0] ?? {});
  return Object.fromEntries(keys.map((k) => [k, median(figures.map((f) => f[k]!))]));
}

const layout = benchLayout();
console.log(JSON.stringify({ figure: 'dashboard-layout', nodes: NODES, ...layout }));
if (values['no-browser']) console.log('browser part skipped (--no-browser)');
else if (browserMissing !== undefined) console.log(`browser part skipped: ${browserMissing}`);
else {
  const browser = await benchBrowser();
  console.log(`\n${NODES} nodes: layout ${layout.layout_ms} ms (node), patch ${layout.patch_ms} ms; in Chromium (median of ${RUNS}): interactive ${browser['interactive_ms']} ms after navigation (layout ${browser['page_layout_ms']} ms), ${browser['frames_3s']} frames in 3 s while running (longest gap ${browser['max_frame_gap_ms']} ms), click to panel ${browser['click_to_panel_ms']} ms`);
}
