/**
 * A worker executing many async tasks at once: each waits for its code to
 * return after its signal, and none of those waits may add a listener to one
 * shared AbortSignal (past 10, Node prints MaxListenersExceededWarning in every
 * worker with a concurrency above 10: seen in `bench/dashboard-graph.ts`).
 */
import { describe, expect, it } from 'vitest';
import { task } from '../../src/index.js';
import { InProcessTransport } from '../../src/transport/inprocess/index.js';
import type { DispatchMessage, SignalMessage } from '../../src/transport/port.js';
import { TaskRegistry } from '../../src/worker/registry.js';
import { Worker } from '../../src/worker/worker.js';
import { deferred, eventually } from '../api/helpers.js';

const dispatch = (node: string): DispatchMessage => ({ type: 'dispatch', kind: 'apply', runId: 'run-many', node, attempt: 1, task: 'many-async', inputs: {}, timeoutMs: 0, queue: 'default' });

describe('a worker with many executions at once [in-process]', () => {
  it('runs 32 async tasks at once without a MaxListenersExceededWarning, and closes', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => void warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    try {
      const gate = deferred();
      const slow = task('many-async', { apply: async () => (await gate.promise, 'done') });
      const transport = new InProcessTransport();
      const signals: SignalMessage[] = [];
      await transport.consumeSignals({ prefetch: 100 }, (batch) => {
        for (const delivery of batch) signals.push(delivery.body);
      });
      const worker = new Worker({ transport, registry: new TaskRegistry().register(slow), queues: ['default'], concurrency: 32 });
      await worker.start();
      await transport.dispatch(Array.from({ length: 32 }, (_, i) => dispatch(`n${i}`)));
      await eventually(() => expect(worker.active).toBe(32));
      gate.resolve();
      await eventually(() => expect(signals.filter((s) => s.type === 'task.succeeded')).toHaveLength(32));
      await eventually(() => expect(worker.active).toBe(0));
      await worker.close();
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning'))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
