/**
 * The dashboard API over real HTTP on an embedded client: the runs list, a
 * run and its graph, history, preview, changes, notify, the stream, and that a
 * viewer changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { event, flow, task } from '../../src/index.js';
import { until } from '../support/until.js';
import { errorCode, json, readStream, testDashboard, VIEWER, type TestDashboard } from './serve.js';

const fetchRecipes = task('dash.recipes', { provides: 'recipes', apply: () => ['php'] });
const kick = task('dash.kick', { provides: 'server', apply: (): string => { throw new Error('zone a has no capacity left'); } });
const kick2 = task('dash.kick2', { provides: 'server', apply: () => '10.0.0.2' });
const install = task('dash.install', { requires: ['recipes', 'server'], apply: ({ recipes, server }: { recipes: string[]; server: string }) => `${server}: ${recipes.join(',')}` });
const echo = task('dash.echo', { requires: ['ping'], apply: ({ ping }: { ping: number }) => ping });

function wordpress() {
  const f = flow('dash-wordpress');
  const i = install.s();
  f.link(fetchRecipes.s(), i);
  f.link(kick.s(), i);
  return f;
}

type Run = { id: string; status: string; graphVersion: number; nodes: Record<string, { status: string }>; graph: { version: number; nodes: { id: string; name: string }[]; links: { from: string; to: string }[] } };

describe('dashboard API', () => {
  let dash: TestDashboard;
  let failed: string;
  beforeAll(async () => {
    dash = await testDashboard({ tasks: [fetchRecipes, kick, kick2, install, echo] });
    failed = (await dash.client.start(wordpress())).id;
    await dash.client.run(failed).wait({ timeoutMs: 10_000 });
  });
  afterAll(async () => dash.close());

  it('lists runs with counts, the first failure message, filters and a keyset cursor', async () => {
    for (let i = 0; i < 3; i++) await (await dash.client.start(flow('dash-ok').add(fetchRecipes.s()))).wait({ timeoutMs: 10_000 });
    const all = await json<{ runs: { id: string; error?: string; flow: string }[]; counts: Record<string, number>; next?: string }>(await dash.call('/api/runs'));
    expect(all.counts).toMatchObject({ failed: 1, succeeded: 3 });
    expect(all.runs.find((r) => r.id === failed)?.error).toContain('zone a has no capacity left');
    const searched = await json<{ runs: { id: string }[] }>(await dash.call('/api/runs?q=CAPACITY&status=failed,running'));
    expect(searched.runs.map((r) => r.id)).toEqual([failed]);
    const first = await json<{ runs: { id: string }[]; next?: string }>(await dash.call('/api/runs?flow=dash-ok&limit=2'));
    expect(first.runs).toHaveLength(2);
    const second = await json<{ runs: { id: string }[]; next?: string }>(await dash.call(`/api/runs?flow=dash-ok&limit=2&cursor=${first.next}`));
    expect(second.runs).toHaveLength(1);
    expect(second.next).toBeUndefined();
    expect(new Set([...first.runs, ...second.runs].map((r) => r.id)).size).toBe(3);
    expect((await dash.call('/api/runs?status=bogus')).status).toBe(400);
    expect((await dash.call('/api/runs?cursor=nonsense')).status).toBe(400);
  });

  it('gives a run with its graph, and 404 for an unknown run', async () => {
    const run = await json<Run>(await dash.call(`/api/runs/${failed}`));
    expect(run.status).toBe('failed');
    expect(run.nodes['dash.kick']?.status).toBe('failed');
    expect(run.graph.links).toContainEqual({ from: 'dash.kick', to: 'dash.install' });
    const missing = await dash.call('/api/runs/nope');
    expect(missing.status).toBe(404);
    expect(await errorCode(missing)).toBe('TW_UNKNOWN_RUN');
  });

  it('previews a change list without writing it, and shows a refused one with the nodes it names', async () => {
    const changes = [
      { op: 'add', node: { task: 'dash.kick2' } },
      { op: 'relink', node: 'dash.install', from: 'dash.kick', to: 'dash.kick2' },
    ];
    const preview = await json<{ ok: boolean; graph: Run['graph']; run: Run }>(await dash.post(`/api/runs/${failed}/preview`, { changes }));
    expect(preview.ok).toBe(true);
    expect(preview.graph.links).toContainEqual({ from: 'dash.kick2', to: 'dash.install' });
    expect(preview.run.graphVersion).toBe(2);
    const after = await json<Run>(await dash.call(`/api/runs/${failed}`));
    expect(after.graphVersion).toBe(1);
    expect(after.graph.nodes.map((n) => n.id)).not.toContain('dash.kick2');
    const refused = await json<{ ok: boolean; error: { code: string; nodes?: string[] } }>(await dash.post(`/api/runs/${failed}/preview`, { changes: [{ op: 'unlink', from: 'dash.recipes', to: 'dash.kick' }] }));
    expect(refused.ok).toBe(false);
    expect(refused.error.code).toBe('TW_INVALID_CHANGE');
    expect(refused.error.nodes).toEqual(expect.arrayContaining(['dash.kick']));
    expect((await dash.post('/api/runs/nope/preview', { changes })).status).toBe(404);
  });

  it('refuses a viewer\'s change (403) and changes nothing; applies an operator\'s as one change, recorded as dashboard:<name>', async () => {
    const changes = [
      { op: 'add', node: { task: 'dash.kick2' } },
      { op: 'relink', node: 'dash.install', from: 'dash.kick', to: 'dash.kick2' },
    ];
    const viewer = await dash.post(`/api/runs/${failed}/changes`, { changes }, VIEWER);
    expect(viewer.status).toBe(403);
    expect(await errorCode(viewer)).toBe('TW_FORBIDDEN');
    expect((await dash.client.run(failed).status()).graphVersion).toBe(1);
    const applied = await json<{ ok: boolean; report: { graphVersion: number } }>(await dash.post(`/api/runs/${failed}/changes`, { changes }));
    expect(applied).toMatchObject({ ok: true, report: { graphVersion: 2 } });
    expect((await dash.client.run(failed).wait({ timeoutMs: 10_000 })).status).toBe('succeeded');
    const history = await json<{ entries: { type: string; actor?: string; graphVersion: number }[] }>(await dash.call(`/api/runs/${failed}/history`));
    expect(history.entries.filter((e) => e.type === 'change').map((e) => [e.actor, e.graphVersion])).toEqual([['dashboard:alice', 2], ['dashboard:alice', 2]]);
    // Time travel: the graph at version 1 is the one before the change.
    const before = await json<Run['graph']>(await dash.call(`/api/runs/${failed}/graph?version=1`));
    expect(before.nodes.map((n) => n.id)).not.toContain('dash.kick2');
    expect(before.links).toContainEqual({ from: 'dash.kick', to: 'dash.install' });
    expect((await dash.call(`/api/runs/${failed}/graph?version=9`)).status).toBe(400);
  });

  it('refuses a change the engine refuses with its error, 400, nothing written', async () => {
    const response = await dash.post(`/api/runs/${failed}/changes`, { changes: [{ op: 'link', from: 'dash.install', to: 'nowhere' }] });
    expect(response.status).toBe(400);
    expect(await errorCode(response)).toBe('TW_UNKNOWN_NODE');
    expect((await dash.post(`/api/runs/${failed}/changes`, { changes: [] })).status).toBe(400);
  });

  it('refuses a POST from another origin or without a JSON content type', async () => {
    const body = JSON.stringify({ changes: [{ op: 'cancel' }] });
    const foreign = await dash.call(`/api/runs/${failed}/changes`, { method: 'POST', body, headers: { 'content-type': 'application/json', origin: 'http://evil.example' } });
    expect(foreign.status).toBe(403);
    const form = await dash.call(`/api/runs/${failed}/changes`, { method: 'POST', body, headers: { 'content-type': 'text/plain' } });
    expect(form.status).toBe(415);
  });

  it('streams a run\'s history entries as server-sent events, and notifies events', async () => {
    const f = flow('dash-listen');
    f.link(event('dash.ping', { provides: ['ping'] }), echo.s({}, { persistent: true }));
    const run = await dash.client.start(f);
    const response = await dash.call(`/api/stream?run=${run.id}`);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const stream = readStream(response);
    await until(() => stream.text().includes('stream open'), 'the stream to open');
    const notified = await json<{ runs: string[] }>(await dash.post('/api/notify', { event: 'dash.ping', payload: { ping: 7 }, runId: run.id }));
    expect(notified.runs).toEqual([run.id]);
    await until(() => stream.text().includes('"type":"node.succeeded"'), 'the echo to succeed on the stream');
    expect(stream.text()).toContain('event: history');
    await stream.close();
    const activations = await json<{ activations: { result?: unknown }[] }>(await dash.call(`/api/runs/${run.id}/nodes/dash.echo/activations`));
    expect(activations.activations.map((a) => a.result)).toEqual([7]);
  });

  it('lists tasks, workers and (embedded) no queues', async () => {
    const tasks = await json<{ name: string }[]>(await dash.call('/api/tasks'));
    expect(tasks.map((t) => t.name)).toContain('dash.kick2');
    expect(Array.isArray(await json(await dash.call('/api/workers')))).toBe(true);
    expect(await json(await dash.call('/api/queues'))).toMatchObject({ queues: [] });
  });

  it('lists the cron schedules', async () => {
    await dash.client.schedule('dash-nightly', '0 2 * * *', flow('dash-ok').add(fetchRecipes.s()), {}, { timezone: 'Europe/Paris' });
    const schedules = await json<{ name: string; cron: string; timezone: string; nextFireAt: number }[]>(await dash.call('/api/schedules'));
    expect(schedules).toEqual([expect.objectContaining({ name: 'dash-nightly', cron: '0 2 * * *', timezone: 'Europe/Paris', nextFireAt: expect.any(Number) })]);
  });
});
