/**
 * The signal consumer never outlives the coordinator's right to it: a
 * subscription that the transport grants after the coordinator was closed, or
 * after it stood down, is cancelled at once. (Found by the simulator on
 * PostgreSQL: a coordinator closed while its election's `consumeSignals` was in
 * flight kept a live consumer that handed every signal straight back, a hot
 * loop on the broker.)
 */
import { describe, expect, it } from 'vitest';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { createRun, liveRun } from '../../src/engine/index.js';
import { FencedError, flow, task } from '../../src/index.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import type { Store, StoreLock } from '../../src/store/port.js';
import { FakeClock } from '../../src/testing/index.js';
import type { Subscription } from '../../src/transport/port.js';
import { stubTransport } from '../support/stub-transport.js';
import { deferred } from '../api/helpers.js';

/** A durable transport whose `consumeSignals` answers when the test says; counts live consumers. */
function slowTransport() {
  const asked = deferred();
  const grant = deferred();
  const state = { live: 0 };
  const subscription = (): Subscription => {
    state.live++;
    let cancelled = false;
    return {
      cancel: async () => {
        if (!cancelled) state.live--;
        cancelled = true;
      },
    };
  };
  const transport = stubTransport({
    consumeSignals: async () => {
      asked.resolve();
      await grant.promise;
      return subscription();
    },
  });
  return { transport, asked, grant, state };
}

const one = task('ss-one', { apply: () => 1 });
const newRun = (id: string) => liveRun(createRun(flow('one').add(one.s()).definition(), { id, inputs: {}, validate: true, now: Date.UTC(2026, 0, 1) }));

function lockingStore(lost: Promise<void> = new Promise(() => undefined)): Store {
  const inner = new MemoryStore();
  const lock: StoreLock = { fence: { name: 'coordinator:default', epoch: 1 }, lost, release: async () => undefined };
  return Object.assign(Object.create(inner) as Store, { tryLock: async () => lock });
}

describe('Coordinator signal subscription', () => {
  it('cancels a subscription granted after close()', async () => {
    const clock = new FakeClock();
    const { transport, asked, grant, state } = slowTransport();
    const coordinator = new Coordinator({ store: lockingStore(), transport, clock, pollIntervalMs: 60_000 });
    await coordinator.start();
    await asked.promise; // elected: asking for its signals
    const closing = coordinator.close();
    grant.resolve();
    await closing;
    await clock.advance(0);
    expect(state.live).toBe(0);
  });

  it('cancels a subscription granted after a fenced commit stood the coordinator down', async () => {
    const clock = new FakeClock();
    const { transport, asked, grant, state } = slowTransport();
    const store = lockingStore();
    const inner = Object.getPrototypeOf(store) as MemoryStore;
    await inner.commit([{ run: { ...newRun('run-1').state, rev: 1 }, expectedRev: 0, nodes: [], removed: [], activations: [], history: [], outbox: [] }]);
    // Another coordinator was elected meanwhile: every fenced commit of this one is refused.
    store.commit = async (commits, fence) => {
      if (fence !== undefined) throw new FencedError(fence.name, fence.epoch, fence.epoch + 1);
      return inner.commit(commits);
    };
    const coordinator = new Coordinator({ store, transport, clock, pollIntervalMs: 60_000, electionIntervalMs: 60_000 });
    await coordinator.start();
    await asked.promise; // elected (fence set), asking for its signals
    await coordinator.submit('run-1', { type: 'change', actor: 'test', change: { op: 'cancel' } }).catch(() => undefined); // refused TW_FENCED: deposed
    grant.resolve();
    await clock.advance(0);
    expect(state.live).toBe(0);
    await coordinator.close();
  });
});
