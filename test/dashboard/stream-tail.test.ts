/**
 * The stream of a run hosted by another process (here: another client on the
 * same store, with its own in-process transport): its entries reach the page
 * through the history tail, once each.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, flow, task, type Client } from '../../src/index.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { until } from '../support/until.js';
import { readStream, testDashboard, type TestDashboard } from './serve.js';

let release: () => void = () => undefined;
const held = new Promise<void>((resolve) => (release = resolve));
const slow = task('tail.slow', { apply: async () => held.then(() => 'done') });

describe('dashboard stream beside the process that hosts the run', () => {
  const store = new MemoryStore();
  let host: Client;
  let dash: TestDashboard;
  beforeAll(async () => {
    host = await connect({ store, tasks: [slow] });
    dash = await testDashboard({ shared: { store, tailMs: 50 } });
  });
  afterAll(async () => {
    release();
    await dash.close();
    await host.close();
  });

  it("streams the entries the other process writes, read from the store's history, each once", async () => {
    const run = await host.start(flow('tail').add(slow.s()));
    const response = await dash.call(`/api/stream?run=${run.id}`);
    const stream = readStream(response);
    await until(() => stream.text().includes('stream open'), 'the stream to open');
    release();
    await until(() => stream.text().includes('"type":"run.status"') && stream.text().includes('"status":"succeeded"'), 'the run to succeed on the stream');
    const seqs = [...stream.text().matchAll(/"seq":(\d+)/g)].map((m) => Number(m[1]));
    expect(seqs.length).toBeGreaterThan(0);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(stream.text()).toContain('"type":"node.succeeded"');
    await stream.close();
  });

  it('streams the status changes of the runs the other process hosts on the all-runs stream (what the runs list follows)', async () => {
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const gated = task('tail.gated', { apply: async () => gate.then(() => 1) });
    host.register(gated);
    const response = await dash.call('/api/stream?run=*');
    const stream = readStream(response);
    await until(() => stream.text().includes('stream open'), 'the stream to open');
    const run = await host.start(flow('tail-all').add(gated.s()));
    open();
    expect((await run.wait()).status).toBe('succeeded');
    const succeeded = `"runId":"${run.id}","seq":0`;
    await until(() => stream.text().split('\n').some((line) => line.includes(succeeded) && line.includes('"status":"succeeded"')), 'its run.status on the all-runs stream');
    await stream.close();
  });
});
