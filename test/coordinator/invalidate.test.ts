/**
 * The coordinator's run cache against `invalidate()`: a client's change
 * invalidates the run (another process may have changed it) while signals of
 * that run may be being stepped. No signal may be lost to it.
 */
import { describe, expect, it } from 'vitest';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { createRun, liveRun } from '../../src/engine/index.js';
import { flow, task } from '../../src/index.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { InProcessTransport } from '../../src/transport/inprocess/index.js';

describe('Coordinator cache and invalidate()', () => {
  it('steps a signal whose run is invalidated while the batch is loading', async () => {
    const store = new MemoryStore();
    const transport = new InProcessTransport();
    const coordinator = new Coordinator({ store, transport });
    const a = task('a', { apply: () => 1 });
    const state = createRun(flow('one').add(a.s()).definition(), { id: 'run-1', inputs: {}, validate: true, now: Date.now() });
    await coordinator.create(liveRun(state)); // cached, node a running

    const signal = coordinator.submit('run-1', { type: 'task.succeeded', node: 'a', attempt: 1, result: 1 });
    coordinator.invalidate('run-1'); // as a client's change does, while the signal's batch awaits its runs
    await expect(signal).resolves.toMatchObject({ status: 'succeeded' });
    expect((await store.loadRun('run-1'))?.nodes.get('a')?.status).toBe('succeeded');

    await coordinator.close();
    await transport.close();
    await store.close();
  });
});
