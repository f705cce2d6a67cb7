/**
 * A memory store whose next commit is ambiguous on demand: written, then
 * reported failed as if the connection dropped during COMMIT, after which the
 * store stays down until the test brings it back.
 */
import { StoreError } from '../../src/errors.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import type { StepCommit, Store } from '../../src/store/port.js';

/** The store, the memory store behind it, and the switches. */
export interface AmbiguousStore {
  store: Store;
  inner: MemoryStore;
  /** Loads and commits fail while set. */
  down: boolean;
  /** The next commit is written, then fails, and the store goes down. */
  ambiguousNext: boolean;
}

/** A store whose next commit can be made ambiguous (see {@link AmbiguousStore}). */
export function ambiguousStore(): AmbiguousStore {
  const inner = new MemoryStore();
  const control: AmbiguousStore = { store: inner, inner, down: false, ambiguousNext: false };
  control.store = Object.assign(Object.create(inner) as Store, {
    loadRun: async (id: string) => {
      if (control.down) throw new StoreError('connection refused');
      return inner.loadRun(id);
    },
    commit: async (commits: StepCommit[]) => {
      if (control.down) throw new StoreError('connection refused');
      const result = await inner.commit(commits);
      if (control.ambiguousNext) {
        control.ambiguousNext = false;
        control.down = true; // the database goes away during COMMIT
        throw new StoreError('Connection terminated unexpectedly (during COMMIT)');
      }
      return result;
    },
  });
  return control;
}
