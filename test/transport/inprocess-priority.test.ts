/**
 * Priority lanes of the in-process transport: a dispatch of a higher priority
 * overtakes the queued dispatches of lower ones; within a priority, the order
 * of publishing holds (a requeued dispatch goes back to the end of its lane).
 */
import { expect, it } from 'vitest';
import type { DispatchMessage } from '../../src/transport/port.js';
import { InProcessTransport } from '../../src/transport/inprocess/index.js';

const dispatch = (node: string, priority?: number): DispatchMessage => ({
  type: 'dispatch',
  kind: 'apply',
  runId: 'r',
  node,
  attempt: 1,
  task: 't',
  inputs: {},
  timeoutMs: 0,
  queue: 'default',
  ...(priority === undefined ? {} : { priority }),
});

it('hands out queued dispatches by priority, then in order, one at a time', async () => {
  const transport = new InProcessTransport();
  await transport.dispatch([dispatch('low1', 0), dispatch('n1'), dispatch('high1', 2), dispatch('n2', 1), dispatch('low2', 0), dispatch('high2', 2)]);
  const taken: string[] = [];
  let requeued = false;
  await transport.consumeDispatches('default', { prefetch: 1 }, (delivery) => {
    taken.push(delivery.body.node);
    // The first normal one is given back once: it goes to the end of its lane, still before the low ones.
    if (delivery.body.node === 'n1' && !requeued) {
      requeued = true;
      delivery.requeue();
    } else queueMicrotask(() => delivery.ack());
  });
  await expect.poll(() => taken.length).toBe(7);
  expect(taken).toEqual(['high1', 'high2', 'n1', 'n2', 'n1', 'low1', 'low2']);
  await transport.close();
});

it('lets a high-priority dispatch overtake a backlog of normal ones', async () => {
  const transport = new InProcessTransport();
  const taken: string[] = [];
  const held: (() => void)[] = [];
  await transport.consumeDispatches('default', { prefetch: 1 }, (delivery) => {
    taken.push(delivery.body.node);
    held.push(() => delivery.ack());
  });
  await transport.dispatch([dispatch('busy'), dispatch('n1'), dispatch('n2')]);
  await transport.dispatch([dispatch('urgent', 2)]);
  for (let i = 0; i < 4; i++) {
    await expect.poll(() => held.length).toBeGreaterThan(i);
    (held[i] as () => void)();
  }
  expect(taken).toEqual(['busy', 'urgent', 'n1', 'n2']);
  await transport.close();
});
