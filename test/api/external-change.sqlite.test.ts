/**
 * Embedded runs changed from another process (the CLI): the changing process
 * executes nothing, so it leaves the work its change starts in the store's
 * outbox, and the process that owns the run carries it out.
 */
import { describe, expect, it } from 'vitest';
import { connect, flow, task } from '../../src/index.js';
import Database from 'better-sqlite3';
import { sqliteScratch, WAIT } from './helpers.js';

describe('a change made by another process to an embedded run', () => {
  const { path: scratch, clients } = sqliteScratch('taskwire-external-');

  it('is carried out by the process that owns the run', async () => {
    const path = scratch('runs.db');
    let attempts = 0;
    const flaky = task('external-flaky', { apply: () => { if (++attempts === 1) throw new Error('first attempt fails'); return attempts; } });
    const after = task('external-after', { requires: ['external-flaky'], apply: ({ 'external-flaky': n }: { 'external-flaky': number }) => n * 10 });
    const flo = flow('external');
    flo.link(flaky.s(), after.s());
    const owner = await connect({ store: path });
    clients.push(owner);
    const run = await owner.start(flo);
    expect((await run.wait(WAIT)).status).toBe('failed');

    // Like `taskwire retry <run> external-flaky`: a client that neither executes nor coordinates.
    const cli = await connect({ store: path, worker: false, coordinator: false, resume: false });
    clients.push(cli);
    const report = await cli.run(run.id).retry('external-flaky');
    expect(report.status).toBe('running');
    await cli.close();

    const final = await run.wait(WAIT);
    expect(final.status).toBe('succeeded');
    expect(final.nodes['external-after']?.result).toBe(20);
    expect(attempts).toBe(2);
  });
});

/**
 * Waits until the outbox item of run `runId` has been due at 3 different times
 * (at first, then two claims by a poller that left it: an item carried out is
 * deleted), failing if it leaves the outbox; returns how many it saw.
 */
async function outboxClaims(path: string, runId: string): Promise<number> {
  const reader = new Database(path, { readonly: true });
  const claims = new Set<number>();
  try {
    for (let i = 0; i < 300 && claims.size < 3; i++) {
      const item = reader.prepare<[string], { due_at: number }>('SELECT due_at FROM outbox WHERE run_id = ?').get(runId);
      expect(item, 'the work is still in the outbox').toBeDefined();
      claims.add(item?.due_at ?? 0);
      if (claims.size < 3) await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    reader.close();
  }
  return claims.size;
}

describe('outbox work of a run a process cannot carry out', () => {
  const { path: scratch, clients } = sqliteScratch('taskwire-foreign-');

  it('is left to a process that has the run and its tasks: a `run` of another flow does not take it (issue 12: it failed it TW_UNKNOWN_TASK)', { timeout: 60_000 }, async () => {
    const path = scratch('runs.db');
    let attempts = 0;
    const flaky = task('foreign-flaky', { apply: () => { if (++attempts === 1) throw new Error('first attempt fails'); return attempts; } });
    const first = await connect({ store: path, tasks: [flaky] });
    clients.push(first);
    const run = await first.start(flow('foreign').add(flaky.s()));
    expect((await run.wait(WAIT)).status).toBe('failed');
    await first.close();
    const cli = await connect({ store: path, worker: false, coordinator: false, resume: false });
    clients.push(cli);
    expect((await cli.run(run.id).retry('foreign-flaky')).status).toBe('running');
    await cli.close();

    // A process of another flow (as `taskwire run other.ts`: no resume) runs its own run to its end
    // meanwhile, and its outbox poller passes by the retry's dispatch more than once.
    const other = task('foreign-other', { apply: () => 1 });
    const bystander = await connect({ store: path, tasks: [other], resume: false });
    clients.push(bystander);
    const own = await bystander.start(flow('other').add(other.s()));
    expect((await own.wait(WAIT)).status).toBe('succeeded');
    // Its poller claims the dispatch and leaves it: once claimed a second time (the first claim ended),
    // it was not carried out at the first (a dispatch carried out is deleted).
    expect(await outboxClaims(path, run.id)).toBe(3); // due at first, then two claims
    expect((await bystander.run(run.id).status()).nodes['foreign-flaky']).toMatchObject({ status: 'queued', attempt: 2 }); // dispatched, and no worker has it
    expect(attempts).toBe(1);
    await bystander.close();

    // The process that has the task (as `taskwire serve`) carries it out.
    const owner = await connect({ store: path, tasks: [flaky] });
    clients.push(owner);
    const final = await owner.run(run.id).wait(WAIT);
    expect(final.status).toBe('succeeded');
    expect(attempts).toBe(2);
  });

  it('is left by a process that resumes runs (as `taskwire serve`) when it lacks their tasks, for one that has them (issue 12: it failed it TW_UNKNOWN_TASK)', { timeout: 60_000 }, async () => {
    const path = scratch('served.db');
    const known = task('served-known', { apply: () => 1 });
    const missing = task('served-missing', { apply: () => 'done' });
    const serve = await connect({ store: path, tasks: [known] });
    clients.push(serve);
    // Another process's program: a pure client that starts a run of a task the serving process does not have.
    const program = await connect({ store: path, worker: false, coordinator: false, resume: false });
    clients.push(program);
    const run = await program.start(flow('served').add(missing.s()), {}, { validate: false });
    await program.close();
    expect(await outboxClaims(path, run.id)).toBe(3);
    const waiting = await serve.run(run.id).status();
    expect(waiting.status).toBe('running');
    expect(waiting.nodes['served-missing']).toMatchObject({ status: 'queued', attempt: 1 });
    await serve.close();

    const owner = await connect({ store: path, tasks: [known, missing] });
    clients.push(owner);
    const final = await owner.run(run.id).wait(WAIT);
    expect(final.status).toBe('succeeded');
    expect(final.nodes['served-missing']?.result).toBe('done');
  });
});
