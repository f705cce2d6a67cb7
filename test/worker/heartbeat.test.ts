/**
 * Worker heartbeats (`WorkerOptions.store`, `heartbeatMs`): the worker writes
 * its row at start and every interval of its clock, with the executions it is
 * running; a failed beat is logged and never fails a task; its row is removed
 * on close.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { task } from '../../src/index.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import type { WorkerBeat } from '../../src/store/port.js';
import { FakeClock } from '../../src/testing/index.js';
import { InProcessTransport } from '../../src/transport/inprocess/index.js';
import type { DispatchMessage, SignalMessage } from '../../src/transport/port.js';
import { DEAD_WORKER_AFTER_MS } from '../../src/worker/heartbeat.js';
import { TaskRegistry } from '../../src/worker/registry.js';
import { Worker } from '../../src/worker/worker.js';
import { deferred, eventually } from '../api/helpers.js';

const dispatch = (node: string, attempt = 1): DispatchMessage => ({ type: 'dispatch', kind: 'apply', runId: 'run-1', node, attempt, task: 'beat-slow', inputs: {}, timeoutMs: 0, queue: 'default' });

describe('worker heartbeats [in-process]', () => {
  let release = deferred();
  afterEach(() => release.resolve());

  async function start(clock: FakeClock, store: MemoryStore) {
    release = deferred();
    const transport = new InProcessTransport();
    const signals: SignalMessage[] = [];
    await transport.consumeSignals({ prefetch: 100 }, (batch) => {
      for (const delivery of batch) signals.push(delivery.body);
    });
    const slow = task('beat-slow', { apply: async () => (await release.promise, 'done') });
    const worker = new Worker({ transport, registry: new TaskRegistry().register(slow), queues: ['default'], concurrency: 3, clock, store, heartbeatMs: 1000, id: 'w-1' });
    await worker.start();
    return { transport, signals, worker };
  }

  it('beats at start and every interval with its in-flight executions, and removes its row on close', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    const startedAt = clock.now();
    const { transport, signals, worker } = await start(clock, store);
    const expected: Partial<WorkerBeat> = { id: 'w-1', pid: process.pid, tasks: ['beat-slow'], queues: ['default'], concurrency: 3, heartbeatMs: 1000, startedAt };
    expect(await store.listWorkers()).toEqual([expect.objectContaining({ ...expected, running: [], beatAt: startedAt })]);
    await clock.advance(500);
    await transport.dispatch([dispatch('a', 2)]);
    await eventually(() => expect(worker.active).toBe(1));
    // Not written before the next beat.
    expect((await store.listWorkers())[0]?.running).toEqual([]);
    await clock.advance(500);
    await eventually(async () =>
      expect(await store.listWorkers()).toEqual([expect.objectContaining({ ...expected, beatAt: startedAt + 1000, running: [{ runId: 'run-1', node: 'a', attempt: 2, since: startedAt + 500 }] })]),
    );
    expect(await store.listWorkers({ aliveWithinMs: 3000, now: startedAt + 4000 })).toHaveLength(1);
    expect(await store.listWorkers({ aliveWithinMs: 3000, now: startedAt + 4001 })).toHaveLength(0);
    release.resolve();
    // Its start reported once it had run reportStartAfterMs (100 ms of the fake clock), then its outcome.
    await eventually(() => expect(signals.map((s) => s.type)).toEqual(['task.started', 'task.succeeded']));
    await clock.advance(1000);
    await eventually(async () => expect((await store.listWorkers())[0]).toMatchObject({ beatAt: startedAt + 2000, running: [] }));
    await worker.close();
    expect(await store.listWorkers()).toEqual([]);
    expect(clock.pending).toBe(0);
  });

  it('logs a failed beat, keeps beating and runs its tasks all the same', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    let failing = true;
    const beatWorker = store.beatWorker.bind(store);
    store.beatWorker = (beat) => (failing ? Promise.reject(new Error('store down')) : beatWorker(beat));
    const { transport, signals, worker } = await start(clock, store);
    expect(await store.listWorkers()).toEqual([]);
    release.resolve();
    await transport.dispatch([dispatch('a')]);
    await eventually(() => expect(signals.map((s) => s.type)).toEqual(['task.succeeded']));
    failing = false;
    await clock.advance(1000);
    await eventually(async () => expect(await store.listWorkers()).toHaveLength(1));
    await worker.close();
    expect(await store.listWorkers()).toEqual([]);
  });

  it('lists the runs its process carries out when given them, and beats at once on beatNow', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    const runs: string[] = [];
    const worker = new Worker({ transport: new InProcessTransport(), registry: new TaskRegistry(), queues: ['default'], clock, store, heartbeatMs: 1000, id: 'w-2', runs: () => runs });
    await worker.start();
    expect(await store.listWorkers()).toEqual([expect.objectContaining({ id: 'w-2', runs: [] })]);
    runs.push('run-9');
    await clock.advance(10);
    await Promise.all([worker.beatNow(), worker.beatNow()]);
    expect(await store.listWorkers()).toEqual([expect.objectContaining({ runs: ['run-9'], beatAt: clock.now() })]);
    // The next beat is an interval after that one, not two.
    expect(clock.pending).toBe(1);
    await worker.close();
    expect(await store.listWorkers()).toEqual([]);
  });

  it('deletes at start the rows of workers dead for a day, and keeps those that died since', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    const dead = (id: string, beatAt: number): WorkerBeat => ({ id, host: 'h', pid: 1, version: '0', tasks: [], queues: ['default'], concurrency: 1, heartbeatMs: 1000, running: [], startedAt: 0, beatAt });
    await store.beatWorker(dead('long-dead', clock.now() - DEAD_WORKER_AFTER_MS - 1));
    await store.beatWorker(dead('recently-dead', clock.now() - DEAD_WORKER_AFTER_MS));
    const { worker } = await start(clock, store);
    expect((await store.listWorkers()).map((w) => w.id)).toEqual(['recently-dead', 'w-1']);
    await worker.close();
  });

  it('refuses a heartbeatMs that is not a positive number, before consuming', async () => {
    const transport = new InProcessTransport();
    for (const heartbeatMs of [0, -1, Number.NaN]) {
      const worker = new Worker({ transport, registry: new TaskRegistry(), queues: ['default'], store: new MemoryStore(), heartbeatMs });
      await expect(worker.start()).rejects.toMatchObject({ code: 'TW_CONFIG' });
    }
  });
});
