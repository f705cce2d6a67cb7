/**
 * The schedule ticker on its own (a memory store, a fake clock, a fake start):
 * each tick's run started once across a process dying between the start and
 * the schedule's update, two tickers on one store, starts that fail for a
 * while or for good, and schedules of shards another process owns.
 */
import { describe, expect, it } from 'vitest';
import type { RunStatus } from '../../src/engine/state.js';
import { ConfigError, StoreError } from '../../src/errors.js';
import { silentLogger } from '../../src/observability/logger.js';
import { tickRunId, ScheduleTicker, type TickerOptions } from '../../src/runtime/schedule-ticker.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import type { ScheduleRow, Store } from '../../src/store/port.js';
import { FakeClock } from '../../src/testing/index.js';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 1);

function schedule(name: string, extra: Partial<ScheduleRow> = {}): ScheduleRow {
  return {
    name,
    cron: '* * * * *',
    timezone: 'UTC',
    flow: { name: 'f', onFailure: 'halt', nodes: [], links: [] },
    inputs: {},
    overlap: 'allow',
    catchUp: 'skip',
    catchUpLimit: 10,
    paused: false,
    nextFireAt: T0 + MINUTE,
    skipped: 0,
    createdAt: T0,
    updatedAt: T0,
    version: 1,
    ...extra,
  };
}

/** Runs as a store would hold them: a start of an existing id is a no-op; `creates` counts the runs made per id. */
class Runs {
  readonly status = new Map<string, RunStatus>();
  readonly creates = new Map<string, number>();
  failNext: Error | undefined;
  async start(runId: string): Promise<void> {
    const failure = this.failNext;
    this.failNext = undefined;
    if (failure !== undefined) throw failure;
    if (this.status.has(runId)) return;
    this.status.set(runId, 'running');
    this.creates.set(runId, (this.creates.get(runId) ?? 0) + 1);
  }
}

function ticker(store: Store, clock: FakeClock, runs: Runs, extra: Partial<TickerOptions> = {}): ScheduleTicker {
  return new ScheduleTicker({
    store,
    clock,
    logger: silentLogger,
    owner: () => ({}),
    start: (_row, runId) => runs.start(runId),
    status: async (runId) => runs.status.get(runId),
    ...extra,
  });
}

const row = async (store: Store, name: string): Promise<ScheduleRow | undefined> => (await store.listSchedules()).find((r) => r.name === name);

describe('schedule ticker', () => {
  it('fires each tick once on its timer and arms the next', async () => {
    const clock = new FakeClock(T0);
    const store = new MemoryStore();
    const runs = new Runs();
    await store.putSchedule(schedule('s'));
    const t = ticker(store, clock, runs);
    t.start();
    await clock.advance(3 * MINUTE);
    expect([...runs.creates]).toEqual([1, 2, 3].map((m) => [tickRunId('s', T0 + m * MINUTE), 1]));
    expect(await row(store, 's')).toMatchObject({ nextFireAt: T0 + 4 * MINUTE, lastRunId: tickRunId('s', T0 + 3 * MINUTE), version: 4 });
    await t.stop();
    await clock.advance(3 * MINUTE);
    expect(runs.creates.size).toBe(3);
  });

  it('a process dying after the start, before the update: the next one finds the run and moves on (once, not twice)', async () => {
    const clock = new FakeClock(T0 + MINUTE);
    const store = new MemoryStore();
    const runs = new Runs();
    await store.putSchedule(schedule('s'));
    // The first process's update never reaches the store (it dies).
    const dying = Object.assign(Object.create(store) as Store, { updateSchedule: async () => Promise.reject(new StoreError('killed')) });
    await ticker(dying, clock, runs).pass();
    expect(runs.creates.get(tickRunId('s', T0 + MINUTE))).toBe(1);
    expect((await row(store, 's'))?.nextFireAt).toBe(T0 + MINUTE);
    const started: string[] = [];
    await ticker(store, clock, runs, { start: async (_row, runId) => void started.push(runId) }).pass();
    expect(started).toEqual([]); // the run is there: not started again
    expect(await row(store, 's')).toMatchObject({ nextFireAt: T0 + 2 * MINUTE, lastRunId: tickRunId('s', T0 + MINUTE) });
  });

  it('a process dying before the start: the next one fires the tick (once, not zero)', async () => {
    const clock = new FakeClock(T0 + MINUTE + 5_000);
    const store = new MemoryStore();
    const runs = new Runs();
    await store.putSchedule(schedule('s'));
    runs.failNext = new StoreError('connection lost');
    await ticker(store, clock, runs).pass();
    expect(runs.creates.size).toBe(0);
    expect((await row(store, 's'))?.nextFireAt).toBe(T0 + MINUTE); // still due
    await ticker(store, clock, runs).pass();
    expect([...runs.creates]).toEqual([[tickRunId('s', T0 + MINUTE), 1]]);
  });

  it('two tickers on one store create each run once and move the schedule once per tick', async () => {
    const clock = new FakeClock(T0);
    const store = new MemoryStore();
    const runs = new Runs();
    await store.putSchedule(schedule('s'));
    const [a, b] = [ticker(store, clock, runs), ticker(store, clock, runs)];
    a.start();
    b.start();
    await clock.advance(5 * MINUTE);
    expect([...runs.creates.values()]).toEqual([1, 1, 1, 1, 1]);
    expect((await row(store, 's'))?.nextFireAt).toBe(T0 + 6 * MINUTE);
    await Promise.all([a.stop(), b.stop()]);
  });

  it('fires only the schedules of shards this process owns', async () => {
    const clock = new FakeClock(T0 + MINUTE);
    const store = new MemoryStore();
    const runs = new Runs();
    await store.putSchedule(schedule('mine'));
    await store.putSchedule(schedule('theirs'));
    await ticker(store, clock, runs, { owner: (name) => (name === 'mine' ? {} : undefined) }).pass();
    expect([...runs.creates.keys()]).toEqual([tickRunId('mine', T0 + MINUTE)]);
    expect((await row(store, 'theirs'))?.nextFireAt).toBe(T0 + MINUTE);
  });

  it('a start refused for good is recorded and the schedule moves on; a paused schedule does not fire', async () => {
    const clock = new FakeClock(T0 + MINUTE);
    const store = new MemoryStore();
    const runs = new Runs();
    await store.putSchedule(schedule('s'));
    await store.putSchedule(schedule('p', { paused: true }));
    runs.failNext = new ConfigError('unknown task "gone"');
    await ticker(store, clock, runs).pass();
    expect(await row(store, 's')).toMatchObject({ nextFireAt: T0 + 2 * MINUTE, lastFireAt: T0 + MINUTE, lastError: 'TW_CONFIG: unknown task "gone"' });
    expect(runs.creates.size).toBe(0);
    expect((await row(store, 'p'))?.version).toBe(1);
  });

  it('a deposed owner (fenced update) writes nothing and keeps ticking', async () => {
    const clock = new FakeClock(T0 + MINUTE);
    const store = new MemoryStore();
    const runs = new Runs();
    await store.putSchedule(schedule('s'));
    const fenced = Object.assign(Object.create(store) as Store, {
      updateSchedule: async () => Promise.reject(Object.assign(new Error('commit refused'), { code: 'TW_FENCED' })),
    });
    const t = ticker(fenced, clock, runs);
    await t.pass();
    expect((await row(store, 's'))?.version).toBe(1);
    await t.stop();
  });
});
