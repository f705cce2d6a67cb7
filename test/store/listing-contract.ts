/**
 * The store contract of the run listing at scale (the dashboard's runs list),
 * part of `storeContract`: keyset paging, creation time bounds, each run's
 * first failure message and the search in it, counts by status.
 */
import { describe, expect, it } from 'vitest';
import type { HistoryEntry, RunStatus } from '../../src/engine/index.js';
import type { RunFilter, StepCommit, Store } from '../../src/store/port.js';
import { startedRun } from './commits.js';
import { freshStore, type StoreFactory } from './fresh-store.js';

/** A started one-node run of `flow` created at `createdAt`, in `status`. */
function run(id: string, createdAt: number, status: RunStatus = 'running', flow = 'f'): StepCommit {
  const commit = startedRun(id);
  return { ...commit, run: { ...commit.run, flow, status, createdAt, updatedAt: createdAt } };
}

/** The commit after `previous` whose history holds `entries` (seq from 10). */
function withHistory(previous: StepCommit, entries: Omit<HistoryEntry, 'runId' | 'seq' | 'at' | 'graphVersion'>[], status: RunStatus = 'failed'): StepCommit {
  const rev = previous.run.rev + 1;
  const history = entries.map((e, i) => ({ runId: previous.run.id, seq: 10 * rev + i, at: rev, graphVersion: 1, ...e }));
  return { run: { ...previous.run, rev, status }, expectedRev: previous.run.rev, nodes: [], removed: [], activations: [], history, outbox: [] };
}

const failed = (node: string, message: string): Omit<HistoryEntry, 'runId' | 'seq' | 'at' | 'graphVersion'> => ({ type: 'node.failed', node, attempt: 1, detail: { name: 'Error', message } });

/** Defines the listing contract for one adapter. */
export function listingContract(factory: StoreFactory): void {
  describe('run listing', () => {
    let store: Store;
    freshStore(factory, (made) => (store = made));
    const ids = async (filter: RunFilter) => (await store.listRuns(filter)).map((r) => r.id);

    it('pages by a keyset cursor (createdAt, id), newest first, with every filter kept', async () => {
      const times: [string, number][] = [['r1', 10], ['r2', 20], ['r3', 20], ['r4', 30], ['r5', 40], ['r6', 50]];
      await store.commit(times.map(([id, at]) => run(id, at)));
      const pages: string[][] = [];
      let cursor: RunFilter['cursor'];
      for (;;) {
        const page = await store.listRuns({ limit: 2, ...(cursor === undefined ? {} : { cursor }) });
        if (page.length === 0) break;
        pages.push(page.map((r) => r.id));
        const last = page[page.length - 1]!;
        cursor = { createdAt: last.createdAt, id: last.id };
      }
      expect(pages).toEqual([['r6', 'r5'], ['r4', 'r3'], ['r2', 'r1']]);
      // A cursor between two runs created at the same time: the one with the smaller id comes next.
      expect(await ids({ cursor: { createdAt: 20, id: 'r3' } })).toEqual(['r2', 'r1']);
      expect(await ids({ cursor: { createdAt: 20, id: 'r2' }, limit: 5 })).toEqual(['r1']);
    });

    it('bounds the creation time: createdAfter inclusive, createdBefore exclusive', async () => {
      await store.commit([run('a', 10), run('b', 20), run('c', 30), run('d', 40)]);
      expect(await ids({ createdAfter: 20 })).toEqual(['d', 'c', 'b']);
      expect(await ids({ createdBefore: 30 })).toEqual(['b', 'a']);
      expect(await ids({ createdAfter: 20, createdBefore: 40 })).toEqual(['c', 'b']);
      expect(await ids({ createdAfter: 50 })).toEqual([]);
    });

    it("keeps a run's first failure message (a later one does not replace it) and finds runs by text in it", async () => {
      const a = run('a', 1);
      const b = run('b', 2);
      const c = run('c', 3);
      await store.commit([a, b, c]);
      const a2 = withHistory(a, [{ type: 'node.retrying', node: 'a', attempt: 1, detail: { message: 'not this one' } }, failed('a', 'Disk 100% FULL on host_1')]);
      await store.commit([a2, withHistory(b, [failed('a', 'connection refused')])]);
      await store.commit([withHistory(a2, [failed('a', 'a later failure')])]);
      const listed = await store.listRuns({});
      expect(listed.map((r) => [r.id, r.error])).toEqual([['c', undefined], ['b', 'connection refused'], ['a', 'Disk 100% FULL on host_1']]);
      expect('error' in (listed[0] as object)).toBe(false);
      expect(await ids({ errorText: 'full' })).toEqual(['a']); // ASCII letters: any case
      expect(await ids({ errorText: '100%' })).toEqual(['a']); // % and _ taken literally
      expect(await ids({ errorText: '0_' })).toEqual([]);
      expect(await ids({ errorText: 'host_1' })).toEqual(['a']);
      expect(await ids({ errorText: 'refused', status: ['failed'] })).toEqual(['b']);
      expect(await ids({ errorText: 'later' })).toEqual([]);
      expect(await ids({ errorText: 'nothing like it' })).toEqual([]);
    });

    it('counts runs by status (every status, 0 included) under the filters other than status, cursor and limit', async () => {
      await store.commit([run('a1', 1, 'running', 'orders'), run('a2', 2, 'succeeded', 'orders'), run('a3', 3, 'succeeded', 'orders'), run('b1', 4, 'failed', 'billing')]);
      const all = await store.countRuns();
      expect(all).toMatchObject({ running: 1, succeeded: 2, failed: 1, stalled: 0, cancelled: 0 });
      expect(Object.keys(all).sort()).toEqual(['cancelled', 'failed', 'listening', 'rollback_failed', 'rolled_back', 'rolling_back', 'running', 'scheduled', 'stalled', 'stopping', 'succeeded']);
      expect(await store.countRuns({ flow: 'orders', status: ['running'], limit: 1, cursor: { createdAt: 2, id: 'a2' } })).toMatchObject({ running: 1, succeeded: 2, failed: 0 });
      expect(await store.countRuns({ idPrefix: 'a', createdAfter: 2, createdBefore: 4 })).toMatchObject({ running: 0, succeeded: 2, failed: 0 });
    });
  });
}
