/**
 * A worker on the AMQP transport with batch messages (real RabbitMQ): a batch
 * of dispatches runs at most the worker's concurrency at once, its results go
 * back gathered into few signal messages, and a batch delivered again does not
 * execute the dispatches it has already done.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { task } from '../../src/index.js';
import type { DispatchMessage, SignalMessage } from '../../src/transport/port.js';
import type { AmqpTransport } from '../../src/transport/amqp/index.js';
import { TaskRegistry } from '../../src/worker/registry.js';
import { Worker } from '../../src/worker/worker.js';
import { useRabbit } from '../support/rabbit-fixture.js';
import { servicesSkipped } from '../support/services.js';
import { until } from '../support/until.js';
import { deferred } from '../api/helpers.js';

function dispatchOf(n: number): DispatchMessage {
  return { type: 'dispatch', kind: 'apply', runId: 'run-1', node: `node-${n}`, attempt: 1, task: 'work', inputs: {}, timeoutMs: 0, queue: 'default' };
}

describe.skipIf(servicesSkipped())('worker with AMQP batch messages (RabbitMQ)', () => {
  const rabbit = useRabbit('tw-wbatch');
  const workers: Worker[] = [];
  afterEach(async () => {
    for (const worker of workers.splice(0)) await worker.close();
  });

  /** Keeps every signal of `t`, acknowledged. */
  async function collect(t: AmqpTransport): Promise<{ signals: SignalMessage[] }> {
    const signals: SignalMessage[] = [];
    await t.consumeSignals({ prefetch: 100 }, (batch) => {
      for (const d of batch) {
        signals.push(d.body);
        d.ack();
      }
    });
    return { signals };
  }

  it('runs a batch of dispatches no more than its concurrency at once, and does not execute a batch delivered again', async () => {
    const t = await rabbit.open();
    const { signals } = await collect(t);
    let running = 0;
    let most = 0;
    let runs = 0;
    const gate = deferred();
    const work = task('work', {
      apply: async () => {
        runs++;
        most = Math.max(most, ++running);
        await gate.promise;
        running--;
        return 'ok';
      },
    });
    const worker = new Worker({ transport: t, registry: new TaskRegistry().register(work), concurrency: 3, queues: ['default'] });
    workers.push(worker);
    await worker.start();
    const dispatches = Array.from({ length: 12 }, (_, n) => dispatchOf(n));
    await t.dispatch(dispatches);
    await until(() => (running === 3 ? true : undefined), 'three running');
    expect(worker.active).toBe(3);
    gate.resolve();
    await until(() => signals.length === 12 || undefined, 'twelve signals');
    expect(most).toBe(3);
    expect(runs).toBe(12);
    // The same batch again (a redelivery after a broker restart): the kept signals are sent again, nothing runs.
    await t.dispatch(dispatches);
    await until(() => signals.length === 24 || undefined, 'the signals sent again');
    expect(runs).toBe(12);
    expect(new Set(signals.map((s) => s.node)).size).toBe(12);
    await until(async () => ((await rabbit.raw.queueDeclare({ queue: t.topology.workQueueName('default'), passive: true })).messageCount === 0 ? true : undefined), 'the queue drained');
  });
});
