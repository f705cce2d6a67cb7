/**
 * An embedded process that does not resume runs (the memory store, `taskwire
 * run`) carries out the runs it starts and lists them in its heartbeat row
 * (`WorkerBeat.runs`): only the live ones. A finished run leaves the list (and
 * the coordinator's memory), or a long-lived process would hold, and write at
 * every beat, every run it ever started.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, flow, task, type Client } from '../../src/index.js';
import { eventually } from './helpers.js';

describe('the runs a process lists as its own [embedded-memory]', () => {
  let tw: Client | undefined;

  afterEach(async () => {
    await tw?.close();
    tw = undefined;
  });

  it('lists a run while it is live and forgets it once it has finished', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const slow = task('own-runs-slow', { apply: async () => held });
    const quick = task('own-runs-quick', { apply: () => 1 });
    tw = await connect({ store: 'memory', heartbeatMs: 50, tasks: [slow, quick] });
    const done = await Promise.all([1, 2, 3].map(() => tw!.start(flow('own-quick').add(quick.s()))));
    for (const run of done) expect((await run.wait({ timeoutMs: 5000 })).status).toBe('succeeded');
    const live = await tw.start(flow('own-slow').add(slow.s()));

    const listed = async (): Promise<string[] | undefined> => (await tw!.workers())[0]?.runs;
    await eventually(async () => expect(await listed()).toEqual([live.id]));
    release();
    expect((await live.wait({ timeoutMs: 5000 })).status).toBe('succeeded');
    await eventually(async () => expect(await listed()).toEqual([]));
  });
});
