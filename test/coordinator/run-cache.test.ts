/**
 * The coordinator's run cache is bounded: at most `cacheSize` runs (least
 * recently used evicted first), none kept longer than `cacheTtlMs` unused, and
 * runs that settle (failed and cancelled ones too) leave it.
 */
import { describe, expect, it } from 'vitest';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { createRun, liveRun } from '../../src/engine/index.js';
import { flow, task } from '../../src/index.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { InProcessTransport } from '../../src/transport/inprocess/index.js';

const a = task('cache-a', { retry: { limit: 0 }, apply: () => 1 });
const b = task('cache-b', { apply: () => 2 });
const newRun = (id: string, now: number) => liveRun(createRun(flow('two').add(a.s()).add(b.s()).definition(), { id, inputs: {}, validate: true, now }));

/** A memory store that counts loads per run. */
class CountingStore extends MemoryStore {
  readonly loads: string[] = [];
  override async loadRun(runId: string) {
    this.loads.push(runId);
    return super.loadRun(runId);
  }
}

async function setup(options: { cacheSize?: number; cacheTtlMs?: number }) {
  const clock = new FakeClock();
  const store = new CountingStore();
  const transport = new InProcessTransport();
  const coordinator = new Coordinator({ store, transport, clock, ...options });
  const close = async () => {
    await coordinator.close();
    await transport.close();
  };
  return { clock, store, coordinator, close };
}

const succeeded = (node: string) => ({ type: 'task.succeeded' as const, node, attempt: 1, result: 1 });

describe('Coordinator run cache', () => {
  it('holds at most cacheSize runs, evicting the least recently used', async () => {
    const { clock, store, coordinator, close } = await setup({ cacheSize: 2 });
    for (const id of ['r1', 'r2', 'r3']) await coordinator.create(newRun(id, clock.now()));
    await coordinator.submit('r3', succeeded('cache-a'));
    expect(store.loads).toEqual([]); // r3 is cached
    await coordinator.submit('r1', succeeded('cache-a'));
    expect(store.loads).toEqual(['r1']); // r1 was evicted
    await close();
  });

  it('forgets a run unused for cacheTtlMs', async () => {
    const { clock, store, coordinator, close } = await setup({ cacheTtlMs: 1000 });
    await coordinator.create(newRun('r1', clock.now()));
    await coordinator.submit('r1', succeeded('cache-a'));
    expect(store.loads).toEqual([]);
    await clock.advance(1500);
    await coordinator.submit('r1', succeeded('cache-b'));
    expect(store.loads).toEqual(['r1']);
    await close();
  });

  it('evicts a run that settles as failed', async () => {
    const { clock, store, coordinator, close } = await setup({});
    await coordinator.create(newRun('r1', clock.now()));
    await coordinator.submit('r1', succeeded('cache-b'));
    const report = await coordinator.submit('r1', { type: 'task.failed', node: 'cache-a', attempt: 1, error: { name: 'Error', message: 'no', retryable: false } });
    expect(report.status).toBe('failed');
    expect(store.loads).toEqual([]);
    await coordinator.submit('r1', { type: 'change', change: { op: 'retry', node: 'cache-a' }, actor: 'test' });
    expect(store.loads).toEqual(['r1']);
    await close();
  });
});
