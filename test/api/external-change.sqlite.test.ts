/**
 * Embedded runs changed from another process (the CLI): the changing process
 * executes nothing, so it leaves the work its change starts in the store's
 * outbox, and the process that owns the run carries it out.
 */
import { describe, expect, it } from 'vitest';
import { connect, flow, task } from '../../src/index.js';
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
