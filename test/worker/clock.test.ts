/**
 * The worker's timers run on the clock it is given (`WorkerOptions.clock`):
 * heartbeats of a leased execution, task timeouts and the close grace time
 * move only with that clock (the simulator drives workers this way).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { task } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { InProcessTransport } from '../../src/transport/inprocess/index.js';
import type { DispatchMessage, SignalMessage } from '../../src/transport/port.js';
import { TaskRegistry } from '../../src/worker/registry.js';
import { Worker } from '../../src/worker/worker.js';
import { deferred, eventually } from '../api/helpers.js';

const dispatch = (name: string, timeoutMs: number): DispatchMessage => ({ type: 'dispatch', kind: 'apply', runId: 'run-1', node: name, attempt: 1, task: name, inputs: {}, timeoutMs, queue: 'default' });

describe('worker timers on a given clock [in-process]', () => {
  let release = deferred();
  afterEach(() => release.resolve());

  async function start(clock: FakeClock, options: { leaseAfterMs?: number; shutdownGraceTimeMs?: number; reportStartAfterMs?: number }) {
    release = deferred();
    const transport = new InProcessTransport();
    const signals: SignalMessage[] = [];
    await transport.consumeSignals({ prefetch: 100 }, (batch) => {
      for (const delivery of batch) signals.push(delivery.body);
    });
    const slow = task('clock-slow', { apply: async () => (await release.promise, 'done') });
    const worker = new Worker({ transport, registry: new TaskRegistry().register(slow), queues: ['default'], clock, leaseMs: 300, ...options });
    await worker.start();
    return { transport, signals, worker };
  }

  it('sends heartbeats and times a task out when the clock says so', async () => {
    const clock = new FakeClock();
    const { transport, signals, worker } = await start(clock, { leaseAfterMs: 100, reportStartAfterMs: 60_000 });
    await transport.dispatch([dispatch('clock-slow', 1000)]);
    // The timeout, the lease and the start report's sweep wait on the fake clock, not on real timers.
    await eventually(() => expect(clock.pending).toBe(3));
    expect(signals).toEqual([]);
    await clock.advance(100);
    await eventually(() => expect(signals.map((s) => s.type)).toEqual(['task.heartbeat']));
    await clock.advance(900);
    await eventually(() => expect(signals.find((s) => s.type !== 'task.heartbeat')).toMatchObject({ type: 'task.failed', error: { code: 'TW_TIMEOUT' } }));
    release.resolve();
    await worker.close();
    expect(clock.pending).toBe(0);
  });

  it("reports an execution's start once it has run reportStartAfterMs, a short one's in its outcome only", async () => {
    const clock = new FakeClock();
    const { transport, signals, worker } = await start(clock, { reportStartAfterMs: 200 });
    const started = clock.now();
    await transport.dispatch([dispatch('clock-slow', 0)]);
    await eventually(() => expect(worker.active).toBe(1));
    await clock.advance(150);
    expect(signals).toEqual([]); // not yet: it has run 150 ms
    await clock.advance(150);
    await eventually(() => expect(signals).toEqual([expect.objectContaining({ type: 'task.started', node: 'clock-slow', attempt: 1, startedAt: started })]));
    release.resolve();
    await eventually(() => expect(signals.map((s) => s.type)).toEqual(['task.started', 'task.succeeded']));
    expect(signals[1]).toMatchObject({ startedAt: started });
    await worker.close();
    expect(clock.pending).toBe(0);
  });

  it('gives running tasks the close grace time of its clock', async () => {
    const clock = new FakeClock();
    const { transport, worker } = await start(clock, { shutdownGraceTimeMs: 500 });
    await transport.dispatch([dispatch('clock-slow', 0)]);
    await eventually(() => expect(worker.active).toBe(1));
    let closed = false;
    const closing = worker.close().then(() => (closed = true));
    await eventually(() => expect(clock.pending).toBe(1));
    await clock.advance(499);
    expect(closed).toBe(false);
    await clock.advance(1);
    await closing;
    expect(clock.pending).toBe(0);
  });
});
