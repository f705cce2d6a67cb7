/**
 * Several coordinators share one store, each with its own run cache. A cached
 * copy may be stale: another coordinator may have dispatched an execution it
 * does not know. A signal that looks like a duplicate on a cached copy must be
 * checked on a fresh one, never acknowledged as a no-op (found by the
 * distributed fault tests: activations stayed `running` for ever).
 */
import { describe, expect, it } from 'vitest';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { createRun, liveRun } from '../../src/engine/index.js';
import { flow, task } from '../../src/index.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { InProcessTransport } from '../../src/transport/inprocess/index.js';

describe('Coordinator with a stale cache', () => {
  it('steps a signal of an execution its cached copy does not know yet', async () => {
    const store = new MemoryStore();
    const transport = new InProcessTransport();
    const first = new Coordinator({ store, transport });
    const second = new Coordinator({ store, transport });
    const a = task('a', { apply: () => 1 });
    const b = task('b', { apply: () => 2 });
    const state = createRun(flow('two').link(a.s(), b.s()).definition(), { id: 'run-1', inputs: {}, validate: true, now: Date.now() });
    await first.create(liveRun(state)); // cached by `first`: a running, b waiting

    // `second` steps a's outcome: b is dispatched; `first` does not know.
    await second.submit('run-1', { type: 'task.succeeded', node: 'a', attempt: 1, result: 1 });
    expect((await store.loadRun('run-1'))?.nodes.get('b')?.status).toBe('running');

    // b's outcome reaches `first`, whose copy still has b waiting.
    await expect(first.submit('run-1', { type: 'task.succeeded', node: 'b', attempt: 1, result: 2 })).resolves.toMatchObject({ status: 'succeeded' });
    const stored = await store.loadRun('run-1');
    expect(stored?.nodes.get('b')?.status).toBe('succeeded');
    expect(stored?.status).toBe('succeeded');

    // A true duplicate is still a no-op.
    await expect(first.submit('run-1', { type: 'task.succeeded', node: 'b', attempt: 1, result: 2 })).resolves.toMatchObject({ status: 'succeeded' });
    expect((await store.history('run-1')).filter((e) => e.type === 'node.succeeded' && e.node === 'b')).toHaveLength(1);

    await first.close();
    await second.close();
    await transport.close();
    await store.close();
  });
});
