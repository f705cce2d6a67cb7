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
import { createRun, emptyOutput, liveRun } from '../../src/engine/index.js';
import { flow, task } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { ambiguousStore } from '../support/ambiguous-store.js';
import type { Store } from '../../src/store/port.js';
import { stepCommit } from '../../src/store/step-commit.js';
import { InProcessTransport } from '../../src/transport/inprocess/index.js';

const retried = task('cab-retried', { retry: { limit: 3, initialDelayMs: 1000, jitter: 0 }, apply: () => 1 });
const failure = { name: 'Error', message: 'boom', retryable: true };

/** Creates run-1 and submits a failure of its task whose commit will be ambiguous; `answer`: what its caller is told (`ok` or the error code). */
async function failOneAmbiguously(coordinator: Coordinator, flaky: { ambiguousNext: boolean }, clock: FakeClock): Promise<{ answer: Promise<string | undefined> }> {
  await coordinator.create(liveRun(createRun(flow('one').add(retried.s()).definition(), { id: 'run-1', inputs: {}, validate: true, now: clock.now() })));
  flaky.ambiguousNext = true;
  const answer = coordinator.submit('run-1', { type: 'task.failed', node: 'cab-retried', attempt: 1, error: failure }).then(
    () => 'ok',
    (error: unknown) => (error as { code?: string }).code,
  );
  return { answer };
}

describe('Coordinator: closed while an ambiguous commit is unsettled', () => {
  it('answers the event with the store error, not TW_CLOSED', async () => {
    const clock = new FakeClock();
    const flaky = ambiguousStore();
    const { store, inner } = flaky;
    const transport = new InProcessTransport();
    const coordinator = new Coordinator({ store, transport, clock });
    const { answer } = await failOneAmbiguously(coordinator, flaky, clock);
    await clock.advance(10);
    expect((await inner.loadRun('run-1'))?.nodes.get('cab-retried')).toMatchObject({ status: 'retrying' });
    await coordinator.close();
    expect(await answer).toBe('TW_STORE');
    await transport.close();
  });

  it('answers it with the store error too when its retry comes due while the coordinator closes (embedded sim seed 1653: a change told TW_CLOSED though applied)', async () => {
    const clock = new FakeClock();
    const flaky = ambiguousStore();
    const { inner } = flaky;
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    // Loading run-2 waits: a batch stays in flight, so close() waits for it while run-1's retry comes due.
    const store = Object.assign(Object.create(flaky.store) as Store, {
      loadRun: async (id: string) => {
        if (id === 'run-2') await held;
        return flaky.store.loadRun(id);
      },
    });
    const other = createRun(flow('two').add(retried.s()).definition(), { id: 'run-2', inputs: {}, validate: true, now: clock.now() });
    other.rev = 1;
    await inner.commit([stepCommit(other, 0, emptyOutput(), [])]);
    const transport = new InProcessTransport();
    const coordinator = new Coordinator({ store, transport, clock });
    const { answer } = await failOneAmbiguously(coordinator, flaky, clock);
    await clock.advance(10); // the commit was ambiguous: the event waits for its retry
    flaky.down = false;
    void coordinator.submit('run-2', { type: 'task.failed', node: 'cab-retried', attempt: 1, error: failure }).catch(() => undefined);
    await clock.advance(1);
    const closing = coordinator.close();
    await clock.advance(10_000); // run-1's retry comes due while the coordinator closes
    release();
    await closing;
    expect(await answer).toBe('TW_STORE');
    await transport.close();
  });
});
