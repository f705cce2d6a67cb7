/**
 * `status().nodes[id].activations`: a persistent listener's activations by state,
 * counted from the run state (issue 12 item 5): succeeded ones passed on or held
 * back for notification order, running, retrying, failed. Embedded memory with a
 * fake clock, so that a retry stays due until the test advances it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, event, flow, task, type Client } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { deferred, eventually } from '../api/helpers.js';

describe('activation counts in the snapshot [embedded-memory]', () => {
  let tw: Client | undefined;

  afterEach(async () => {
    await tw?.close();
    tw = undefined;
  });

  it('counts succeeded (held back included), running, retrying and failed activations; other nodes have none', async () => {
    const clock = new FakeClock();
    const gate = deferred();
    const handle = task('count-handle', {
      requires: ['n'],
      retry: { limit: 1, initialDelayMs: 60_000, jitter: 0 },
      apply: async ({ n }: { n: number }) => {
        if (n === 2) throw new Error('two fails');
        if (n === 3) await gate.promise;
        return n;
      },
    });
    tw = await connect({ store: 'memory', clock, tasks: [handle], reportStartAfterMs: 0 }); // starts reported at once: the fake clock runs no sweep
    const run = await tw.start(flow('count-activations').link(event('count.tick', { provides: ['n'] }), handle.s({}, { persistent: true, id: 'handle' })));
    const counts = async (): Promise<unknown> => (await run.status()).nodes['handle']?.activations;
    for (const n of [1, 2, 3, 4]) await tw.notify('count.tick', { n });

    // 1 passed on, 4 held back behind 3 (running), 2 waiting for its retry.
    await eventually(async () => expect(await counts()).toEqual({ succeeded: 2, failed: 0, queued: 0, running: 1, retrying: 1 }));
    expect((await run.status()).nodes['count.tick']).not.toHaveProperty('activations');

    await clock.advance(60_000);
    await eventually(async () => expect(await counts()).toEqual({ succeeded: 2, failed: 1, queued: 0, running: 1, retrying: 0 }));
    gate.resolve();
    await eventually(async () => expect(await counts()).toEqual({ succeeded: 3, failed: 1, queued: 0, running: 0, retrying: 0 }));
  });
});
