/**
 * The end of a lease, claimed by the store's clock and stepped by a
 * coordinator whose clock is a little behind it (seed 116 of the SQLite-store
 * simulation): the lease has ended all the same, and the node is dispatched
 * again. Before the fix the engine judged the end by the stepping
 * coordinator's clock, found the lease "not ended yet", and the poller
 * deleted the outbox item: nothing ever ended that lease, and the node, whose
 * worker had died, stayed `running` for ever.
 */
import { describe, expect, it } from 'vitest';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { createRun, liveRun } from '../../src/engine/index.js';
import { flow, task } from '../../src/index.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import type { Store } from '../../src/store/port.js';
import { FakeClock } from '../../src/testing/index.js';
import type { DispatchMessage } from '../../src/transport/port.js';
import { stubTransport } from '../support/stub-transport.js';

const long = task('lc-long', { apply: () => 1 });

describe('Coordinator: the end of a lease and the store clock', () => {
  it('dispatches a node again when its lease end, due by the store clock, is stepped on a clock a little behind', async () => {
    const clock = new FakeClock();
    const inner = new MemoryStore();
    // The database's clock runs 50 ms ahead of this coordinator's (as clocks of two machines do).
    const store: Store = Object.assign(Object.create(inner) as Store, { clock: async () => clock.now() + 50 });
    const dispatched: DispatchMessage[] = [];
    const transport = stubTransport({ dispatch: async (messages) => void dispatched.push(...messages) });
    const coordinator = new Coordinator({ store, transport, clock, leaseGraceMs: 0 });
    const run = liveRun(createRun(flow('lc').add(long.s()).definition(), { id: 'run-1', inputs: {}, validate: true, now: clock.now() }));
    await coordinator.create(run);
    // The worker holds a lease of 1 s, then dies: no heartbeat or outcome comes any more.
    await coordinator.submit('run-1', { type: 'task.heartbeat', node: 'lc-long', attempt: 1, leaseMs: 1000 });
    await clock.advance(960); // the lease has ended by the store's clock, not yet by the coordinator's
    await coordinator.pollOutbox();
    await clock.advance(10_000); // a later poll: the node is not dispatched a third time
    await coordinator.pollOutbox();
    expect(dispatched.map((m) => `${m.node}#${m.attempt}`)).toEqual(['lc-long#1', 'lc-long#1']);
    expect((await store.history('run-1')).filter((e) => e.detail?.['reason'] === 'lease expired')).toHaveLength(1);
    await coordinator.close();
  });
});

describe('Coordinator: the lease grace after an outage only the outbox poller saw', () => {
  it('waits out the grace after the store answers a poll again before ending a lease', async () => {
    const clock = new FakeClock();
    const inner = new MemoryStore();
    let down = false;
    // The store's clock fails while the store is down: only the poller calls the store in that time.
    const store: Store = Object.assign(Object.create(inner) as Store, {
      clock: async () => {
        if (down) throw new Error('store down');
        return clock.now();
      },
    });
    const dispatched: DispatchMessage[] = [];
    const transport = stubTransport({ dispatch: async (messages) => void dispatched.push(...messages) });
    const coordinator = new Coordinator({ store, transport, clock, leaseGraceMs: 5000 });
    const run = liveRun(createRun(flow('lg').add(long.s()).definition(), { id: 'run-1', inputs: {}, validate: true, now: clock.now() }));
    await coordinator.create(run);
    await coordinator.submit('run-1', { type: 'task.heartbeat', node: 'lc-long', attempt: 1, leaseMs: 1000 });
    down = true;
    await clock.advance(6000); // the lease ended during the outage, and the grace since the start is over
    await expect(coordinator.pollOutbox()).rejects.toThrow('store down');
    down = false;
    // The store is back: a heartbeat parked elsewhere during the outage may still come, so the lease is not ended yet.
    await coordinator.pollOutbox();
    expect(dispatched.map((m) => `${m.node}#${m.attempt}`)).toEqual(['lc-long#1']);
    await clock.advance(10_000); // the grace after the store's return is over, and the claim too
    await coordinator.pollOutbox();
    expect(dispatched.map((m) => `${m.node}#${m.attempt}`)).toEqual(['lc-long#1', 'lc-long#1']);
    await coordinator.close();
  });
});
