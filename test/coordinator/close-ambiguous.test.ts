/**
 * A client event whose commit was ambiguous (written, then the connection
 * dropped) waits for the store to come back; if the coordinator closes
 * meanwhile, its caller must not be told `TW_CLOSED` (which says nothing was
 * done): the step may have been written. It is told the store's uncertainty
 * (`TW_STORE`) instead. Found by the simulator (embedded seeds 1547 and 1759: a
 * notify answered `TW_CLOSED` though it had activated its listener).
 */
import { describe, expect, it } from 'vitest';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { createRun, liveRun } from '../../src/engine/index.js';
import { flow, task } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { ambiguousStore } from '../support/ambiguous-store.js';
import { InProcessTransport } from '../../src/transport/inprocess/index.js';

const retried = task('cab-retried', { retry: { limit: 3, initialDelayMs: 1000, jitter: 0 }, apply: () => 1 });
const failure = { name: 'Error', message: 'boom', retryable: true };

describe('Coordinator: closed while an ambiguous commit is unsettled', () => {
  it('answers the event with the store error, not TW_CLOSED', async () => {
    const clock = new FakeClock();
    const flaky = ambiguousStore();
    const { store, inner } = flaky;
    const transport = new InProcessTransport();
    const coordinator = new Coordinator({ store, transport, clock });
    await coordinator.create(liveRun(createRun(flow('one').add(retried.s()).definition(), { id: 'run-1', inputs: {}, validate: true, now: clock.now() })));
    flaky.ambiguousNext = true;
    const answer = coordinator.submit('run-1', { type: 'task.failed', node: 'cab-retried', attempt: 1, error: failure }).then(
      () => 'ok',
      (error: unknown) => (error as { code?: string }).code,
    );
    await clock.advance(10);
    expect((await inner.loadRun('run-1'))?.nodes.get('cab-retried')).toMatchObject({ status: 'retrying' });
    await coordinator.close();
    expect(await answer).toBe('TW_STORE');
    await transport.close();
  });
});
