/**
 * Embedded resume whose commit is ambiguous (the connection drops during
 * COMMIT): the resume step was written after all, and its dispatches are
 * carried out once. Stepping the resume again on the fresh load dispatched the
 * running attempts a second time: the same process ran the attempt twice.
 * Found by the simulator (`once-per-process`, embedded).
 */
import { describe, expect, it } from 'vitest';
import { connect, flow, StoreError, task } from '../../src/index.js';
import type { StepCommit, Store } from '../../src/store/port.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { sqliteScratch, WAIT } from '../api/helpers.js';

/** `inner`, whose first commit recording a `run.resumed` is written and then reported as failed. */
function ambiguousResume(inner: Store): { store: Store; ambiguous: () => number } {
  let ambiguous = 0;
  const store = Object.assign(Object.create(inner) as Store, {
    commit: async (commits: StepCommit[]) => {
      const result = await inner.commit(commits);
      if (ambiguous === 0 && commits.some((c) => c.history.some((h) => h.type === 'run.resumed'))) {
        ambiguous++;
        throw new StoreError('Connection terminated unexpectedly (during COMMIT)');
      }
      return result;
    },
  });
  return { store, ambiguous: () => ambiguous };
}

describe('resume whose commit is ambiguous [embedded-sqlite]', () => {
  const { path: scratch, clients } = sqliteScratch('taskwire-resume-ambiguous-');

  it('runs the resumed attempt once', async () => {
    const path = scratch('runs.db');
    const attempts: number[] = [];
    const flaky = task('resume-ambiguous-flaky', {
      apply: (_inputs: Record<string, never>, ctx) => {
        attempts.push(ctx.attempt);
        if (ctx.attempt === 1) throw new Error('first attempt fails');
        return ctx.attempt;
      },
    });
    const first = await connect({ store: path });
    const run = await first.start(flow('resume-ambiguous').add(flaky.s()));
    expect((await run.wait(WAIT)).status).toBe('failed');
    await first.close();

    // Like `taskwire retry`: the node is running in the store, its dispatch left in the outbox.
    const cli = await connect({ store: path, worker: false, coordinator: false, resume: false });
    expect((await cli.run(run.id).retry('resume-ambiguous-flaky')).status).toBe('running');
    await cli.close();

    const wrapped = ambiguousResume(openSqliteStore({ path }));
    const owner = await connect({ store: wrapped.store, tasks: [flaky] });
    clients.push(owner);
    expect((await owner.run(run.id).wait(WAIT)).status).toBe('succeeded');
    expect(wrapped.ambiguous()).toBe(1);
    await owner.close();
    expect(attempts).toEqual([1, 2]);
  });
});
