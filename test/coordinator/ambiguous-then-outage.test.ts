/**
 * A retry whose commit is ambiguous (written, then the connection drops), then
 * a store outage longer than an event's tries: the retry event is given up, but
 * its step was written, so the attempt it started must still be dispatched once
 * the store is back. Giving the event up lost the step's dispatch (embedded: no
 * outbox), and the attempt stayed `running` with nothing executing it. Found by
 * the simulator (embedded seed 435, a persistent listener's activation).
 */
import { describe, expect, it } from 'vitest';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { createRun, liveRun } from '../../src/engine/index.js';
import { flow, task } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { ambiguousStore } from '../support/ambiguous-store.js';
import { InProcessTransport } from '../../src/transport/inprocess/index.js';
import type { DispatchMessage } from '../../src/transport/port.js';

const retried = task('ato-retried', { retry: { limit: 3, initialDelayMs: 1000, jitter: 0 }, apply: () => 1 });
const failure = { name: 'Error', message: 'boom', retryable: true };

describe('Coordinator: an ambiguous commit, then a long outage', () => {
  it('dispatches the attempt a written step started, though its event was given up', async () => {
    const clock = new FakeClock();
    const flaky = ambiguousStore();
    const { store, inner } = flaky;
    const base = new InProcessTransport();
    const dispatched: DispatchMessage[] = [];
    const transport = Object.assign(Object.create(base) as InProcessTransport, {
      dispatch: async (messages: DispatchMessage[]) => void dispatched.push(...messages),
    });
    const coordinator = new Coordinator({ store, transport, clock });
    await coordinator.create(liveRun(createRun(flow('one').add(retried.s()).definition(), { id: 'run-1', inputs: {}, validate: true, now: clock.now() })));
    await coordinator.submit('run-1', { type: 'task.failed', node: 'ato-retried', attempt: 1, error: failure });
    flaky.ambiguousNext = true;
    // The retry fires: its step is written, its commit reported failed; then the store is down for a minute.
    for (let i = 0; i < 60; i++) await clock.advance(1000);
    expect((await inner.loadRun('run-1'))?.nodes.get('ato-retried')).toMatchObject({ status: 'running', attempt: 2 });
    flaky.down = false;
    for (let i = 0; i < 30 && !dispatched.some((d) => d.attempt === 2); i++) await clock.advance(1000);
    expect(dispatched.filter((d) => d.attempt === 2)).toHaveLength(1);
    await coordinator.close();
    await base.close();
  });
});
