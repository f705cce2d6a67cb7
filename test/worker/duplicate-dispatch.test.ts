/**
 * At-least-once delivery: the same dispatch (run, node, attempt, activation,
 * kind) delivered twice to one worker (a re-dispatch by resume racing the
 * outbox, a redelivery after a broker restart) runs its body once; the
 * duplicate is acknowledged without being executed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { task } from '../../src/index.js';
import { InProcessTransport } from '../../src/transport/inprocess/index.js';
import type { DispatchMessage, SignalMessage } from '../../src/transport/port.js';
import { TaskRegistry } from '../../src/worker/registry.js';
import { Worker } from '../../src/worker/worker.js';
import { deferred, eventually } from '../api/helpers.js';

const dispatch = (task: string, attempt = 1): DispatchMessage => ({
  type: 'dispatch',
  kind: 'apply',
  runId: 'run-1',
  node: task,
  attempt,
  task,
  inputs: {},
  timeoutMs: 0,
  queue: 'default',
});

describe('duplicate dispatches to one worker [in-process]', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A worker of concurrency `concurrency` with the given tasks, and the signals it sends. */
  async function start(concurrency: number, ...tasks: Parameters<TaskRegistry['register']>) {
    const transport = new InProcessTransport();
    const signals: SignalMessage[] = [];
    await transport.consumeSignals({ prefetch: 100 }, (batch) => {
      for (const delivery of batch) {
        signals.push(delivery.body);
        delivery.ack();
      }
    });
    const worker = new Worker({ transport, registry: new TaskRegistry().register(...tasks), concurrency, queues: ['default'] });
    await worker.start();
    cleanups.push(() => transport.close(), () => worker.close());
    return { transport, signals, worker };
  }

  it('runs the body once when the duplicate arrives while the original runs, and sends one signal', async () => {
    let runs = 0;
    const release = deferred();
    const slow = task('slow', { apply: async () => (runs++, await release.promise, 'done') });
    const { transport, signals, worker } = await start(4, slow);
    await transport.dispatch([dispatch('slow'), dispatch('slow')]);
    await eventually(() => expect(runs).toBe(1));
    release.resolve();
    await eventually(() => expect(signals).toHaveLength(1));
    await eventually(() => expect(worker.active).toBe(0));
    expect(runs).toBe(1);
    expect(signals[0]).toMatchObject({ type: 'task.succeeded', node: 'slow', attempt: 1, result: 'done' });
    // Both deliveries were settled: the worker's slots are free for new work.
    await transport.dispatch([dispatch('slow', 2)]);
    await eventually(() => expect(signals).toHaveLength(2));
    expect(runs).toBe(2);
  });

  it('does not run a finished dispatch again: the duplicate gets the kept signal again and is acknowledged', async () => {
    let runs = 0;
    const quick = task('quick', { apply: () => (runs++, `result ${runs}`) });
    const { transport, signals } = await start(1, quick);
    await transport.dispatch([dispatch('quick')]);
    await eventually(() => expect(signals).toHaveLength(1));
    await transport.dispatch([dispatch('quick')]);
    await eventually(() => expect(signals).toHaveLength(2));
    expect(runs).toBe(1);
    expect(signals[1]).toEqual(signals[0]);
    // Concurrency 1: a next attempt runs only if the duplicate was acknowledged.
    await transport.dispatch([dispatch('quick', 2)]);
    await eventually(() => expect(signals).toHaveLength(3));
    expect(runs).toBe(2);
    expect(signals[2]).toMatchObject({ type: 'task.succeeded', attempt: 2, result: 'result 2' });
  });

  it('acknowledges a duplicate of a long execution as soon as the original holds a lease', async () => {
    let runs = 0;
    const release = deferred();
    const long = task('long', { apply: async () => (runs++, await release.promise, 'done') });
    let acks = 0;
    const transport = new (class extends InProcessTransport {
      override consumeDispatches(...[queue, options, handler]: Parameters<InProcessTransport['consumeDispatches']>) {
        return super.consumeDispatches(queue, options, (delivery) => handler({ ...delivery, ack: () => (acks++, delivery.ack()) }));
      }
    })();
    const signals: SignalMessage[] = [];
    await transport.consumeSignals({ prefetch: 100 }, (batch) => batch.forEach((d) => (signals.push(d.body), d.ack())));
    const worker = new Worker({ transport, registry: new TaskRegistry().register(long), concurrency: 2, queues: ['default'], leaseAfterMs: 20 });
    await worker.start();
    cleanups.push(() => transport.close(), async () => (release.resolve(), await worker.close()));
    await transport.dispatch([dispatch('long'), dispatch('long')]);
    await eventually(() => expect(signals.some((s) => s.type === 'task.heartbeat')).toBe(true));
    // The original is acknowledged under its lease, and the duplicate with it, while the body still runs.
    await eventually(() => expect(acks).toBe(2));
    expect(runs).toBe(1);
    release.resolve();
    await eventually(() => expect(signals.filter((s) => s.type === 'task.succeeded')).toHaveLength(1));
    await eventually(() => expect(worker.active).toBe(0));
    expect(runs).toBe(1);
    expect(acks).toBe(2);
  });

  it('does not run a finished body again when its signal could not be published: the redelivery publishes the kept outcome', async () => {
    let runs = 0;
    const quick = task('quick', { apply: () => (runs++, 'ok') });
    // The first signal fails (the broker is restarting): the dispatch is given back and delivered again.
    const transport = new (class extends InProcessTransport {
      failures = 1;
      override async signal(messages: SignalMessage[]): Promise<void> {
        if (this.failures-- > 0) throw new Error('the broker is restarting');
        return super.signal(messages);
      }
    })();
    const signals: SignalMessage[] = [];
    await transport.consumeSignals({ prefetch: 100 }, (batch) => batch.forEach((d) => (signals.push(d.body), d.ack())));
    const worker = new Worker({ transport, registry: new TaskRegistry().register(quick), concurrency: 1, queues: ['default'] });
    await worker.start();
    cleanups.push(() => transport.close(), () => worker.close());
    await transport.dispatch([dispatch('quick')]);
    await eventually(() => expect(signals).toHaveLength(1));
    expect(runs).toBe(1);
    expect(signals[0]).toMatchObject({ type: 'task.succeeded', attempt: 1, result: 'ok' });
  });

  it('forgets the oldest finished dispatches past recentDispatches', async () => {
    let runs = 0;
    const quick = task('quick', { apply: () => (runs++, 'ok') });
    const transport = new InProcessTransport();
    const signals: SignalMessage[] = [];
    await transport.consumeSignals({ prefetch: 100 }, (batch) => batch.forEach((d) => (signals.push(d.body), d.ack())));
    const worker = new Worker({ transport, registry: new TaskRegistry().register(quick), concurrency: 1, queues: ['default'], recentDispatches: 1 });
    await worker.start();
    cleanups.push(() => transport.close(), () => worker.close());
    await transport.dispatch([dispatch('quick', 1)]);
    await eventually(() => expect(signals).toHaveLength(1));
    await transport.dispatch([dispatch('quick', 2)]);
    await eventually(() => expect(signals).toHaveLength(2));
    // Attempt 1 fell out of a window of one: executed again (the coordinator ignores its stale signal).
    await transport.dispatch([dispatch('quick', 1)]);
    await eventually(() => expect(signals).toHaveLength(3));
    expect(runs).toBe(3);
  });
});
