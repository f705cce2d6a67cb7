/**
 * Automatic retention (`CoordinatorOptions.retention`): on a fake clock, a
 * started coordinator deletes the finished runs older than the duration once
 * a minute, keeps live and recent ones, sweeps only while active, survives a
 * failing store, and refuses a status that is not final up front.
 */
import { describe, expect, it } from 'vitest';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { RetentionSweeper } from '../../src/coordinator/retention.js';
import type { RunStatus } from '../../src/engine/index.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { InProcessTransport } from '../../src/transport/inprocess/index.js';
import { startedRun } from '../store/commits.js';
import { captureLogger, type Line } from '../support/capture-logger.js';

const DAY = 86_400_000;
const MINUTE = 60_000;

async function addRun(store: MemoryStore, id: string, status: RunStatus, updatedAt: number): Promise<void> {
  const first = startedRun(id);
  await store.commit([first]);
  await store.commit([{ ...first, run: { ...first.run, rev: 2, status, updatedAt }, expectedRev: 1, history: [], outbox: [] }]);
}

async function ids(store: MemoryStore): Promise<string[]> {
  return (await store.listRuns()).map((run) => run.id).sort();
}

describe('automatic retention', () => {
  it('a started coordinator prunes finished runs older than the duration every minute, never live ones', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    await addRun(store, 'old', 'succeeded', clock.now() - 2 * DAY);
    await addRun(store, 'recent', 'cancelled', clock.now() - DAY / 2);
    await addRun(store, 'live', 'running', clock.now() - 2 * DAY);
    const transport = new InProcessTransport();
    const coordinator = new Coordinator({ store, transport, clock, retention: { olderThanMs: DAY } });
    await coordinator.start();
    await clock.advance(MINUTE - 1);
    expect(await ids(store)).toEqual(['live', 'old', 'recent']); // not before the first interval
    await clock.advance(1);
    expect(await ids(store)).toEqual(['live', 'recent']);
    await clock.advance(DAY / 2);
    expect(await ids(store)).toEqual(['live']);
    await coordinator.close();
    await transport.close();
  });

  it('sweeps only while active, in batches until one comes back short, and logs a failure and goes on', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    for (let i = 0; i < 5; i++) await addRun(store, `r${i}`, 'succeeded', clock.now() - 2 * DAY);
    let active = false;
    const lines: Line[] = [];
    const sweeper = new RetentionSweeper({ olderThanMs: DAY, batch: 2 }, { store, clock, logger: captureLogger(lines), active: () => active });
    sweeper.start();
    await clock.advance(MINUTE);
    expect((await ids(store)).length).toBe(5);
    const prune = store.pruneRuns.bind(store);
    store.pruneRuns = async () => {
      throw new Error('store down');
    };
    active = true;
    await clock.advance(MINUTE);
    expect(lines.map((line) => line.message)).toContain('retention sweep failed: trying again at the next one');
    store.pruneRuns = prune;
    await clock.advance(MINUTE);
    expect(await ids(store)).toEqual([]);
    expect(lines.find((line) => line.message === 'retention: pruned finished runs')?.fields).toMatchObject({ pruned: 5 });
    await sweeper.stop();
  });

  it('refuses a status that is not final, and a bad duration, when the coordinator is made', () => {
    const base = { store: new MemoryStore(), transport: new InProcessTransport() };
    expect(() => new Coordinator({ ...base, retention: { olderThanMs: DAY, status: ['failed'] } })).toThrow(/status "failed" is not final/);
    expect(() => new Coordinator({ ...base, retention: { olderThanMs: 0 } })).toThrow(/olderThanMs/);
  });
});
