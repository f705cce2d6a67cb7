/**
 * A change made by the CLI while the process owning an embedded run is down:
 * its dispatch waits in the outbox, and the run's state says the node runs.
 * At the owner's next connect, resuming the run dispatches that attempt; the
 * outbox's copy is the same work and must not be carried out too (it was: the
 * attempt ran twice).
 */
import { describe, expect, it } from 'vitest';
import { connect, flow, task } from '../../src/index.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { sqliteScratch, eventually, WAIT } from './helpers.js';

describe('resume after a change made while the owner was down [embedded-sqlite]', () => {
  const { path: scratch, clients } = sqliteScratch('taskwire-resume-outbox-');

  it('runs the retried attempt once', async () => {
    const path = scratch('runs.db');
    const attempts: number[] = [];
    const flaky = task('resume-outbox-flaky', {
      apply: (_inputs: Record<string, never>, ctx) => {
        attempts.push(ctx.attempt);
        if (ctx.attempt === 1) throw new Error('first attempt fails');
        return ctx.attempt;
      },
    });
    const after = task('resume-outbox-after', { requires: ['resume-outbox-flaky'], apply: ({ 'resume-outbox-flaky': n }: { 'resume-outbox-flaky': number }) => n * 10 });
    const flo = flow('resume-outbox');
    flo.link(flaky.s(), after.s());

    const first = await connect({ store: path });
    const run = await first.start(flo);
    expect((await run.wait(WAIT)).status).toBe('failed');
    await first.close(); // the owner is down

    // Like `taskwire retry <run> resume-outbox-flaky`: a client that neither executes nor coordinates.
    const cli = await connect({ store: path, worker: false, coordinator: false, resume: false });
    expect((await cli.run(run.id).retry('resume-outbox-flaky')).status).toBe('running');
    await cli.close();

    const owner = await connect({ store: path, tasks: [flaky, after] });
    clients.push(owner);
    const final = await owner.run(run.id).wait(WAIT);
    expect(final.status).toBe('succeeded');
    expect(final.nodes['resume-outbox-after']?.result).toBe(20);
    // Nothing left for the poller to carry out, then the worker drained.
    const reader = openSqliteStore({ path });
    try {
      await eventually(async () => expect(await reader.dueOutbox(Number.MAX_SAFE_INTEGER, 10)).toEqual([]));
    } finally {
      await reader.close();
    }
    await owner.close();
    expect(attempts).toEqual([1, 2]);
  });
});
