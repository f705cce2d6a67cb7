/**
 * Closing and timers: close() lets the batch in flight finish before clearing
 * timers (a retry timer it creates must not outlive close()); an embedded retry
 * whose store call fails is tried again, not lost; a scheduled outbox item for
 * a run that no longer exists is logged and dropped, not re-claimed for ever;
 * an embedded client's close() records the outcomes of tasks that finish while
 * the worker drains; close() stops polling the outbox at once, even while the
 * election's lock is still being released.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { createRun, liveRun } from '../../src/engine/index.js';
import { connect, flow, StoreError, task } from '../../src/index.js';
import type { Logger } from '../../src/observability/logger.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import type { OutboxItem, StepCommit, Store, StoreLock } from '../../src/store/port.js';
import { FakeClock } from '../../src/testing/index.js';
import { InProcessTransport } from '../../src/transport/inprocess/index.js';
import { deferred, eventually } from '../api/helpers.js';
import { stubTransport } from '../support/stub-transport.js';

const retried = task('ct-retried', { retry: { limit: 3, initialDelayMs: 1000, jitter: 0 }, apply: () => 1 });
const newRun = (id: string) => liveRun(createRun(flow('one').add(retried.s()).definition(), { id, inputs: {}, validate: true, now: Date.UTC(2026, 0, 1) }));
const failure = { name: 'Error', message: 'boom', retryable: true };

/** Lines logged at warn or error. */
function recordingLogger(lines: string[]): Logger {
  const keep = (_fields: unknown, message?: string): void => void lines.push(message ?? '');
  const logger: Logger = { debug: () => undefined, info: () => undefined, warn: keep, error: keep, child: () => logger };
  return logger;
}

describe('Coordinator close and timers', () => {
  it('close() waits for the batch in flight and leaves no timer behind', async () => {
    const clock = new FakeClock();
    const inner = new MemoryStore();
    const gate = deferred();
    let holding = false;
    const store: Store = Object.assign(Object.create(inner) as Store, {
      commit: async (commits: StepCommit[]) => {
        if (holding) await gate.promise;
        return inner.commit(commits);
      },
    });
    const transport = new InProcessTransport();
    const coordinator = new Coordinator({ store, transport, clock });
    await coordinator.create(newRun('run-1'));
    holding = true;
    const failed = coordinator.submit('run-1', { type: 'task.failed', node: 'ct-retried', attempt: 1, error: failure });
    const closed = coordinator.close();
    gate.resolve();
    await closed;
    await failed;
    expect(clock.pending).toBe(0);
    expect((await inner.loadRun('run-1'))?.nodes.get('ct-retried')?.status).toBe('retrying');
    await transport.close();
  });

  it('an embedded retry whose store call keeps failing is tried again until the store is back', async () => {
    const clock = new FakeClock();
    const inner = new MemoryStore();
    let down = false;
    const store: Store = Object.assign(Object.create(inner) as Store, {
      commit: async (commits: StepCommit[]) => {
        if (down) throw new StoreError('connection refused');
        return inner.commit(commits);
      },
    });
    const transport = new InProcessTransport();
    const coordinator = new Coordinator({ store, transport, clock });
    await coordinator.create(newRun('run-1'));
    await coordinator.submit('run-1', { type: 'task.failed', node: 'ct-retried', attempt: 1, error: failure });
    down = true;
    // The retry fires, and its commits fail for a minute: more than a client event's tries.
    for (let i = 0; i < 60; i++) await clock.advance(1000);
    down = false;
    for (let i = 0; i < 60 && (await inner.loadRun('run-1'))?.nodes.get('ct-retried')?.attempt !== 2; i++) await clock.advance(1000);
    expect((await inner.loadRun('run-1'))?.nodes.get('ct-retried')).toMatchObject({ status: 'running', attempt: 2 });
    await coordinator.close();
    await transport.close();
  });

  it('drops, with a log line, a scheduled outbox item whose run no longer exists', async () => {
    const store = new MemoryStore();
    const lines: string[] = [];
    const transport = Object.assign(Object.create(new InProcessTransport()) as InProcessTransport, { durable: true });
    const coordinator = new Coordinator({ store, transport, logger: recordingLogger(lines), pollIntervalMs: 60_000 });
    const runItem = { id: 'gone:1:0', runId: 'gone', dueAt: 0, command: { type: 'schedule' as const, runId: 'gone', dueAt: 0, node: 'ct-retried', attempt: 2 } };
    await store.commit([{ run: { ...newRun('other').state, rev: 1 }, expectedRev: 0, nodes: [], removed: [], activations: [], history: [], outbox: [runItem] }]);
    await coordinator.pollOutbox();
    expect(await store.dueOutbox(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
    expect(lines.some((line) => line.includes('no longer exists'))).toBe(true);
    await coordinator.close();
  });

  it('close() waits for an outbox poll in flight: no publish of it is left running, nor its timeout timer', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    const inner = new InProcessTransport();
    const publishing = deferred();
    const confirm = deferred();
    const transport = Object.assign(Object.create(inner) as InProcessTransport, {
      durable: true,
      dispatch: async () => {
        publishing.resolve();
        await confirm.promise;
      },
    });
    const writer = new Coordinator({ store, transport, carryOut: false, clock });
    await writer.create(newRun('run-1')); // leaves its dispatch in the outbox, due now
    await writer.close();
    const poller = new Coordinator({ store, transport, clock, pollIntervalMs: 100 });
    await poller.start();
    await clock.advance(100); // the poll claims the dispatch and publishes it
    await publishing.promise;
    let closed = false;
    const closing = poller.close().then(() => (closed = true));
    await clock.advance(0);
    expect(closed).toBe(false); // the poll in flight is part of the coordinator's work
    confirm.resolve();
    await closing;
    expect(clock.pending).toBe(0);
    expect(await store.dueOutbox(Number.MAX_SAFE_INTEGER, 10)).toHaveLength(0); // published, then deleted
    await inner.close();
  });

  it('backs off an outbox item that keeps failing, with a log line per try, instead of trying it every claim', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    const lines: string[] = [];
    let tries = 0;
    const inner = new InProcessTransport();
    const transport = Object.assign(Object.create(inner) as InProcessTransport, {
      durable: true,
      dispatch: async () => {
        tries++;
        throw new StoreError('refused');
      },
    });
    const writer = new Coordinator({ store, transport, carryOut: false, clock });
    await writer.create(newRun('run-1')); // leaves its dispatch in the outbox, due now
    const poller = new Coordinator({ store, transport, clock, logger: recordingLogger(lines), pollIntervalMs: 60_000 });
    // Two minutes of polls every 5 s (each claim lasts 5 s).
    for (let i = 0; i < 24; i++) {
      await poller.pollOutbox();
      await clock.advance(5000);
    }
    expect(tries).toBeGreaterThanOrEqual(3);
    expect(tries).toBeLessThanOrEqual(6);
    expect(lines.filter((line) => line.includes('outbox item failed')).length).toBe(tries);
    expect(await store.dueOutbox(Number.MAX_SAFE_INTEGER, 10)).toHaveLength(1); // kept, never dropped
    await writer.close();
    await poller.close();
    await inner.close();
  });

  it('embedded close() records the outcome of a task that finishes while the worker drains', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskwire-close-'));
    const path = join(dir, 'runs.db');
    try {
      const started = deferred();
      const slow = task('ct-slow', {
        apply: async () => {
          started.resolve();
          await new Promise((resolve) => setTimeout(resolve, 200));
          return 7;
        },
      });
      const first = await connect({ store: path, tasks: [slow] });
      const run = await first.start(flow('drain').add(slow.s()));
      await started.promise;
      await first.close();
      const second = await connect({ store: path, worker: false, coordinator: false, resume: false });
      try {
        await eventually(async () => expect((await second.run(run.id).status()).nodes['ct-slow']).toMatchObject({ status: 'succeeded', result: 7 }));
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('close() stops polling the outbox at once, even while the election lock is still being released (a silent connection)', async () => {
    const clock = new FakeClock();
    const inner = new MemoryStore();
    const released = deferred();
    const lock: StoreLock = { fence: { name: 'coordinator:default', epoch: 1 }, lost: new Promise(() => undefined), release: () => released.promise };
    let claims = 0;
    const store: Store = Object.assign(Object.create(inner) as Store, {
      tryLock: async () => lock,
      claimOutbox: async (now: number, limit: number, claimMs: number, shards?: readonly number[]): Promise<OutboxItem[]> => {
        claims++;
        return inner.claimOutbox(now, limit, claimMs, shards);
      },
    });
    const transport = stubTransport();
    const coordinator = new Coordinator({ store, transport, clock, pollIntervalMs: 100 });
    await coordinator.start();
    await clock.advance(250);
    expect(claims).toBeGreaterThan(0); // elected: it polls
    const before = claims;
    const closing = coordinator.close();
    await clock.advance(1000); // the lock's unlock is not answered
    expect(claims).toBe(before);
    released.resolve();
    await closing;
  });
});
