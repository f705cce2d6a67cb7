/**
 * Delayed starts (issue 14, "later"): `start(flow, inputs, { at | delayMs })`
 * stores a `scheduled` run that starts at that time, durably. Runs against
 * every backend; the SQLite case survives its process.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, flow, task, type Client } from '../../src/index.js';
import { describeBackends } from './backends.js';
import { WAIT, rejection, sqliteScratch } from './helpers.js';

describeBackends('delayed start', (backend) => {
  afterEach(() => backend.cleanup());

  it('stores a scheduled run that starts at its time, not before', async () => {
    const ran: number[] = [];
    const stamp = task('later-stamp', { apply: () => ran.push(Date.now()) });
    const tw = await backend.connect({ tasks: [stamp] });
    const asked = Date.now();
    const run = await tw.start(flow('later').add(stamp.s()), {}, { delayMs: 400 });
    const scheduled = await run.status();
    expect(scheduled.status).toBe('scheduled');
    expect(scheduled.nodes['later-stamp']).toMatchObject({ status: 'waiting', attempt: 0 });
    expect((await tw.runs({ status: ['scheduled'] })).map((r) => r.id)).toContain(run.id);
    const done = await run.wait(WAIT);
    expect(done.status).toBe('succeeded');
    expect(ran).toHaveLength(1);
    expect(ran[0]).toBeGreaterThanOrEqual(asked + 400);
    const types = (await run.history()).map((e) => e.type);
    expect(types.slice(0, 2)).toEqual(['run.scheduled', 'run.started']);
    expect((await run.history())[0]?.detail?.['startAt']).toBeGreaterThanOrEqual(asked + 400);
  });

  it('cancels a scheduled run before it starts: nothing runs', async () => {
    let ran = 0;
    const once = task('later-never', { apply: () => ++ran });
    const tw = await backend.connect({ tasks: [once] });
    const run = await tw.start(flow('later-cancelled').add(once.s()), {}, { at: new Date(Date.now() + 60_000) });
    expect((await run.cancel()).status).toBe('cancelled');
    expect((await run.wait(WAIT)).status).toBe('cancelled');
    expect(ran).toBe(0);
  });

  it('starts at once for a time already past, and refuses both at and delayMs', async () => {
    const one = task('later-past', { apply: () => 1 });
    const tw = await backend.connect({ tasks: [one] });
    const run = await tw.start(flow('later-past').add(one.s()), {}, { at: Date.now() - 1_000 });
    expect((await run.wait(WAIT)).status).toBe('succeeded');
    expect((await rejection(tw.start(flow('later-both').add(one.s()), {}, { at: Date.now(), delayMs: 5 }))).code).toBe('TW_CONFIG');
    expect((await rejection(tw.start(flow('later-bad').add(one.s()), {}, { delayMs: -1 }))).code).toBe('TW_CONFIG');
  });
});

describe('a delayed start on SQLite [embedded-sqlite]', () => {
  const { path: scratch, clients } = sqliteScratch('taskwire-later-');

  it('outlives the process that scheduled it: the next one on the file starts it at its time', async () => {
    const path = scratch('later.db');
    const ran: number[] = [];
    const stamp = task('later-durable', { apply: () => ran.push(Date.now()) });
    const first: Client = await connect({ store: path, tasks: [stamp] });
    clients.push(first);
    const asked = Date.now();
    const run = await first.start(flow('later-durable').add(stamp.s()), {}, { delayMs: 600 });
    await first.close();
    expect(ran).toEqual([]);
    const second = await connect({ store: path, tasks: [stamp] });
    clients.push(second);
    expect((await second.run(run.id).wait(WAIT)).status).toBe('succeeded');
    expect(ran).toHaveLength(1);
    expect(ran[0]).toBeGreaterThanOrEqual(asked + 600);
  });
});
