/**
 * Retries driven by a fake clock (`taskwire/testing`): embedded memory only,
 * since a fake clock only drives the timers of the process it is given to.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, flow, task, type Client, type RunHandle } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { eventually, sleep } from './helpers.js';

// ---- helpers ---------------------------------------------------------------

/** A task failing its first `failures` attempts, recording the attempts it saw. */
function failing(name: string, failures: number, attempts: number[], retry: { limit: number; initialDelayMs: number; factor?: number }) {
  return task(name, {
    retry: { jitter: 0, ...retry },
    apply: (_inputs, { attempt }) => {
      attempts.push(attempt);
      if (attempt <= failures) throw new Error(`attempt ${attempt} failed`);
      return attempt;
    },
  });
}

async function nodeOf(run: RunHandle, id: string) {
  return (await run.status()).nodes[id];
}

// ---- tests -------------------------------------------------------------------

describe('retries on a fake clock [embedded-memory]', () => {
  let tw: Client | undefined;

  afterEach(async () => {
    await tw?.close();
    tw = undefined;
  });

  it('retries nothing before the backoff delay, and advancing the clock fires the retry', async () => {
    const clock = new FakeClock();
    const attempts: number[] = [];
    const flaky = failing('clock-flaky', 1, attempts, { limit: 1, initialDelayMs: 1000 });
    tw = await connect({ store: 'memory', clock, tasks: [flaky] });
    const run = await tw.start(flow('fake-clock').add(flaky.s()));

    await eventually(async () => expect(await nodeOf(run, 'clock-flaky')).toMatchObject({ status: 'retrying', attempt: 1 }));
    await clock.advance(999);
    await sleep(20); // real time passing changes nothing: only the fake clock fires retries
    expect(await nodeOf(run, 'clock-flaky')).toMatchObject({ status: 'retrying', attempt: 1 });
    expect(attempts).toEqual([1]);

    await clock.advance(1);
    await eventually(async () => expect(await nodeOf(run, 'clock-flaky')).toMatchObject({ status: 'succeeded', attempt: 2, result: 2 }));
    expect(attempts).toEqual([1, 2]);
    expect((await run.wait({ timeoutMs: 5000 })).status).toBe('succeeded');
  });

  it('stamps runs, nodes and history with the clock it was given', async () => {
    const clock = new FakeClock(Date.UTC(2030, 5, 1));
    const flaky = failing('clock-stamped', 0, [], { limit: 0, initialDelayMs: 1 });
    tw = await connect({ store: 'memory', clock, tasks: [flaky] });
    const run = await tw.start(flow('fake-clock-stamps').add(flaky.s()));
    const done = await run.wait({ timeoutMs: 5000 });
    expect(done.createdAt).toBe(clock.now());
    expect(done.updatedAt).toBe(clock.now());
    expect(done.nodes['clock-stamped']).toMatchObject({ startedAt: clock.now(), finishedAt: clock.now() });
    expect((await run.history()).every((entry) => entry.at === clock.now())).toBe(true);
    expect((await tw.runs()).map((summary) => summary.createdAt)).toEqual([clock.now()]);
  });

  it('backs off exponentially: each retry waits factor times longer', async () => {
    const clock = new FakeClock();
    const attempts: number[] = [];
    const flaky = failing('clock-backoff', 2, attempts, { limit: 2, initialDelayMs: 100, factor: 3 });
    tw = await connect({ store: 'memory', clock, tasks: [flaky] });
    const run = await tw.start(flow('fake-clock-backoff').add(flaky.s()));

    await eventually(async () => expect(await nodeOf(run, 'clock-backoff')).toMatchObject({ status: 'retrying', attempt: 1 }));
    await clock.advance(99);
    expect(attempts).toEqual([1]);
    await clock.advance(1); // first retry after 100 ms
    await eventually(async () => expect(await nodeOf(run, 'clock-backoff')).toMatchObject({ status: 'retrying', attempt: 2 }));
    expect(attempts).toEqual([1, 2]);

    await clock.advance(299);
    expect(await nodeOf(run, 'clock-backoff')).toMatchObject({ status: 'retrying', attempt: 2 });
    await clock.advance(1); // second retry after 300 ms
    await eventually(async () => expect(await nodeOf(run, 'clock-backoff')).toMatchObject({ status: 'succeeded', attempt: 3 }));
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('fires no retry of a cancelled run when its time comes', async () => {
    const clock = new FakeClock();
    const attempts: number[] = [];
    const flaky = failing('clock-cancelled', 1, attempts, { limit: 1, initialDelayMs: 500 });
    tw = await connect({ store: 'memory', clock, tasks: [flaky] });
    const run = await tw.start(flow('fake-clock-cancel').add(flaky.s()));

    await eventually(async () => expect(await nodeOf(run, 'clock-cancelled')).toMatchObject({ status: 'retrying', attempt: 1 }));
    await run.cancel();
    await clock.advance(1000);
    await sleep(20);
    expect(attempts).toEqual([1]);
    expect((await run.status()).status).toBe('cancelled');
  });
});
