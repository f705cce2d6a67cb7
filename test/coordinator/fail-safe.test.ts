/**
 * The coordinator's fail-safe: an exception inside a step (an engine bug, an
 * illegal transition) is never acknowledged and forgotten. The event is stepped
 * once more on a fresh load; if it still throws, the node it names fails with
 * `TW_INTERNAL` (so `wait()` returns) and its signal is dead-lettered.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { EngineEvent } from '../../src/engine/events.js';
import type * as Engine from '../../src/engine/index.js';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { createRun, liveRun } from '../../src/engine/index.js';
import { connect, flow, task, type Client } from '../../src/index.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { InProcessTransport } from '../../src/transport/inprocess/index.js';
import type { Delivery, SignalMessage, Transport } from '../../src/transport/port.js';
import { deferred, rejection } from '../api/helpers.js';

/** Events of this type make the engine throw, as a bug would. */
const broken = { type: undefined as EngineEvent['type'] | undefined, calls: 0 };

vi.mock('../../src/engine/index.js', async (importOriginal) => {
  const original = await importOriginal<typeof Engine>();
  return {
    ...original,
    step: (...args: Parameters<typeof Engine.step>) => {
      if (args[1].type === broken.type) {
        broken.calls++;
        throw new TypeError('engine bug');
      }
      return original.step(...args);
    },
  };
});

const a = task('a', { apply: () => 1 });

describe('Coordinator fail-safe', () => {
  let client: Client | undefined;
  afterEach(async () => {
    broken.type = undefined;
    broken.calls = 0;
    await client?.close();
    client = undefined;
  });

  it('fails the node with TW_INTERNAL when a signal keeps throwing, so wait() returns', async () => {
    client = await connect({ store: 'memory' });
    broken.type = 'task.succeeded';
    const run = await client.start(flow('one').add(a.s()));
    const done = await run.wait({ timeoutMs: 10_000 });
    expect(done.status).toBe('failed');
    expect(done.nodes['a']?.status).toBe('failed');
    expect(done.nodes['a']?.error).toMatchObject({ code: 'TW_INTERNAL', retryable: false });
    expect(done.nodes['a']?.error?.message).toContain('engine bug');
    expect(broken.calls).toBe(2); // stepped once more on a fresh load before giving up
    const failed = (await run.history()).filter((e) => e.type === 'node.failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]?.detail).toMatchObject({ code: 'TW_INTERNAL' });
  });

  it('rejects the caller of a change that keeps throwing, and leaves the run as it was', async () => {
    const gate = deferred();
    const slow = task('slow', { apply: () => gate.promise.then(() => 2) });
    client = await connect({ store: 'memory' });
    const run = await client.start(flow('two').add(slow.s()));
    broken.type = 'change';
    const error = await rejection(run.cancel());
    expect(error.message).toContain('engine bug');
    expect(broken.calls).toBe(2);
    broken.type = undefined;
    gate.resolve();
    expect((await run.wait({ timeoutMs: 10_000 })).status).toBe('succeeded');
  });

  it('dead-letters a signal that keeps throwing instead of acknowledging it', async () => {
    const store = new MemoryStore();
    const inner = new InProcessTransport();
    let deliver: ((batch: Delivery<SignalMessage>[]) => void) | undefined;
    const transport: Transport = Object.assign(Object.create(inner) as Transport, {
      consumeSignals: async (_options: unknown, handler: (batch: Delivery<SignalMessage>[]) => void) => {
        deliver = handler;
        return { cancel: async () => undefined };
      },
    });
    const coordinator = new Coordinator({ store, transport });
    await coordinator.start();
    await coordinator.create(liveRun(createRun(flow('one').add(a.s()).definition(), { id: 'run-1', inputs: {}, validate: true, now: Date.now() })));
    broken.type = 'task.succeeded';
    const settled: string[] = [];
    const delivery: Delivery<SignalMessage> = {
      body: { type: 'task.succeeded', runId: 'run-1', node: 'a', attempt: 1, result: 1, worker: 'test' },
      redelivered: false,
      ack: () => settled.push('ack'),
      requeue: () => settled.push('requeue'),
      reject: () => settled.push('reject'),
    };
    deliver?.([delivery]);
    await vi.waitFor(() => expect(settled).toEqual(['reject']), { timeout: 5000, interval: 10 });
    expect((await store.loadRun('run-1'))?.nodes.get('a')).toMatchObject({ status: 'failed', error: { code: 'TW_INTERNAL' } });
    await coordinator.close();
    await inner.close();
  });
});
