/**
 * The store contract of {@link Store.pruneRuns} (retention), part of
 * `storeContract`: every adapter deletes the same runs and all their rows.
 */
import { describe, expect, it } from 'vitest';
import type { RunStatus } from '../../src/engine/index.js';
import type { StepCommit, Store } from '../../src/store/port.js';
import { startedRun } from './commits.js';
import { freshStore, type StoreFactory } from './fresh-store.js';


/**
 * A started one-node run, then a commit that leaves it in `status` at
 * `updatedAt` with a row of every kind it owns: an activation, a backlog
 * entry, a held result, history and an outbox item.
 */
function runWithRows(id: string, status: RunStatus, updatedAt: number): StepCommit[] {
  const first = startedRun(id);
  const rev = first.run.rev + 1;
  const last: StepCommit = {
    run: { ...first.run, rev, status, updatedAt },
    expectedRev: first.run.rev,
    nodes: [],
    removed: [],
    activations: [{ node: 'a', seq: 1, from: 'ev', status: 'succeeded', attempt: 1, inputs: {}, startedAt: 2 }],
    backlog: [{ node: 'a', seq: 2, from: 'ev', value: 'waiting' }],
    held: [{ node: 'a', seq: 3, result: 'held' }],
    history: [{ runId: id, seq: 50, at: updatedAt, type: 'change', graphVersion: 1, actor: 'old' }],
    outbox: [{ id: `${id}:${rev}:0`, runId: id, dueAt: 1, command: { type: 'schedule', runId: id, dueAt: 1, node: 'a', attempt: 2 } }],
  };
  return [first, last];
}

/** Defines the prune contract for one adapter (called by `storeContract`). */
export function pruneContract(factory: StoreFactory): void {
  describe('pruneRuns', () => {
    let store: Store;
    freshStore(factory, (made) => (store = made));

    async function add(id: string, status: RunStatus, updatedAt: number): Promise<void> {
      for (const commit of runWithRows(id, status, updatedAt)) expect(await store.commit([commit])).toEqual({ conflicts: [] });
    }

    it('deletes the finished runs that finished before the time, in the statuses asked, never a live one', async () => {
      await add('old-ok', 'succeeded', 10);
      await add('old-cancelled', 'cancelled', 10);
      await add('old-rolled-back', 'rolled_back', 10);
      await add('new-ok', 'succeeded', 1000);
      await add('old-live', 'running', 10);
      await add('old-failed', 'failed', 10);
      expect(await store.pruneRuns({ finishedBefore: 100, status: ['cancelled'] })).toBe(1);
      expect(await store.loadRun('old-cancelled')).toBeUndefined();
      expect(await store.pruneRuns({ finishedBefore: 100 })).toBe(2);
      expect(await store.pruneRuns({ finishedBefore: 100 })).toBe(0);
      const left = (await store.listRuns()).map((run) => run.id).sort();
      expect(left).toEqual(['new-ok', 'old-failed', 'old-live']);
      expect((await store.liveRunIds()).sort()).toEqual(['old-failed', 'old-live']);
    });

    it('deletes every row a pruned run owns: history, activations, outbox, backlog and held rows are gone', async () => {
      await add('r1', 'succeeded', 10);
      await add('keep', 'running', 10);
      expect(await store.pruneRuns({ finishedBefore: 100 })).toBe(1);
      expect(await store.loadRun('r1')).toBeUndefined();
      expect(await store.history('r1')).toEqual([]);
      expect(await store.activations('r1')).toEqual([]);
      expect((await store.dueOutbox(10_000, 100)).map((item) => item.runId)).toEqual(['keep', 'keep']);
      // A new run with the same id starts clean: no leftover node, backlog or held row attaches to it.
      const again = startedRun('r1');
      expect(await store.commit([again])).toEqual({ conflicts: [] });
      const loaded = await store.loadRun('r1');
      expect(loaded?.nodes.get('a')?.backlog ?? []).toEqual([]);
      expect(loaded?.nodes.get('a')?.held ?? []).toEqual([]);
      expect(await store.history('r1')).toEqual(again.history);
    });

    it('deletes at most `limit` runs a call', async () => {
      for (let i = 0; i < 5; i++) await add(`r${i}`, 'succeeded', 10);
      expect(await store.pruneRuns({ finishedBefore: 100, limit: 2 })).toBe(2);
      expect(await store.pruneRuns({ finishedBefore: 100, limit: 2 })).toBe(2);
      expect(await store.pruneRuns({ finishedBefore: 100, limit: 2 })).toBe(1);
      expect(await store.listRuns()).toEqual([]);
    });

    it('refuses a status that is not final, naming it, and bad limits', async () => {
      await add('live', 'running', 10);
      await expect(store.pruneRuns({ finishedBefore: 100, status: ['succeeded', 'running'] })).rejects.toMatchObject({ code: 'TW_CONFIG', message: expect.stringContaining('"running"') });
      await expect(store.pruneRuns({ finishedBefore: 100, status: [] })).rejects.toMatchObject({ code: 'TW_CONFIG' });
      await expect(store.pruneRuns({ finishedBefore: 100, limit: 0 })).rejects.toMatchObject({ code: 'TW_CONFIG' });
      await expect(store.pruneRuns({ finishedBefore: Number.NaN })).rejects.toMatchObject({ code: 'TW_CONFIG' });
      expect((await store.loadRun('live'))?.status).toBe('running');
    });
  });
}
