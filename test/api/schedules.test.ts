/**
 * Cron schedules (issue 14, "repeatedly"): `tw.schedule(name, cron, flow,
 * inputs, options)` stores a schedule whose ticks each start one run, id
 * `<name>:<tick time>`; it is listed, paused, resumed and removed; overlap and
 * missed ticks follow their policies. Time is a FakeClock; every backend.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, flow, task, type Client } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { describeBackends } from './backends.js';
import { eventually, heldTask, rejection, sqliteScratch, WAIT } from './helpers.js';

const T0 = Date.UTC(2026, 0, 1, 0, 0, 30); // 00:00:30: the first tick of "* * * * *" is 00:01

/** Advances the clock a second at a time until `check` passes (distributed: a shard's election and the requests take real time too). */
async function advanceUntil(clock: FakeClock, check: () => Promise<void>, maxMs = 120_000): Promise<void> {
  for (let spent = 0; ; spent += 1000) {
    try {
      await check();
      return;
    } catch (error) {
      if (spent >= maxMs) throw error;
    }
    await clock.advance(1000);
  }
}

describeBackends('cron schedules', (backend) => {
  afterEach(() => backend.cleanup());

  async function connectAt(clock: FakeClock, ...tasks: Parameters<Client['register']>): Promise<Client> {
    return backend.connect({ clock, tasks });
  }

  it('fires each tick once, as a run named after the tick, and lists the schedule', async () => {
    const clock = new FakeClock(T0);
    const seen: unknown[] = [];
    const stamp = task('cron-stamp', { requires: ['region'], apply: ({ region }) => seen.push(region) });
    const tw = await connectAt(clock, stamp);
    const handle = await tw.schedule('minutely', '* * * * *', flow('cron-flow').add(stamp.s()), { region: 'eu' });
    expect(await handle.info()).toMatchObject({ name: 'minutely', cron: '* * * * *', timezone: 'UTC', overlap: 'skip', catchUp: 'skip', paused: false, nextFireAt: Date.UTC(2026, 0, 1, 0, 1), skipped: 0 });
    expect((await tw.schedules()).map((s) => s.name)).toEqual(['minutely']);
    expect((await tw.scheduled('minutely')).name).toBe('minutely');

    await advanceUntil(clock, async () => expect((await handle.runs()).map((r) => r.id)).toEqual(['minutely:2026-01-01T00:01:00.000Z']));
    expect((await tw.run('minutely:2026-01-01T00:01:00.000Z').wait(WAIT)).status).toBe('succeeded');
    expect(seen).toEqual(['eu']);
    await advanceUntil(clock, async () => expect((await handle.runs()).map((r) => r.id)).toEqual(['minutely:2026-01-01T00:02:00.000Z', 'minutely:2026-01-01T00:01:00.000Z']));
    // The run is started first, then the schedule moves on (a process dying between the two leaves the tick to fire, once, by the next).
    await eventually(async () => expect(await handle.info()).toMatchObject({ lastRunId: 'minutely:2026-01-01T00:02:00.000Z', lastFireAt: Date.UTC(2026, 0, 1, 0, 2), nextFireAt: Date.UTC(2026, 0, 1, 0, 3) }));
  });

  it('pauses, resumes from the next tick after now, and removes', async () => {
    const clock = new FakeClock(T0);
    const noop = task('cron-noop', { apply: () => 1 });
    const tw = await connectAt(clock, noop);
    const handle = await tw.schedule('paused', '* * * * *', flow('cron-paused').add(noop.s()), {}, { paused: true });
    expect((await handle.info()).paused).toBe(true);
    await clock.advance(150_000); // 00:03:00: ticks 00:01, 00:02 and 00:03 pass while paused
    expect(await handle.runs()).toEqual([]);
    expect(await handle.resume()).toMatchObject({ paused: false, nextFireAt: Date.UTC(2026, 0, 1, 0, 3) });
    await advanceUntil(clock, async () => expect((await handle.runs()).map((r) => r.id)).toEqual(['paused:2026-01-01T00:03:00.000Z']));
    expect((await handle.pause()).paused).toBe(true);
    await handle.remove();
    expect((await rejection(tw.scheduled('paused'))).code).toBe('TW_UNKNOWN_SCHEDULE');
    expect((await rejection(handle.info())).code).toBe('TW_UNKNOWN_SCHEDULE');
    expect((await rejection(handle.remove())).code).toBe('TW_UNKNOWN_SCHEDULE');
    expect(await tw.schedules()).toEqual([]);
    expect((await handle.runs()).length).toBe(1); // its runs stay
  });

  it('skips a tick while the previous run is live (overlap: skip), and starts one anyway with overlap: allow', async () => {
    const clock = new FakeClock(T0);
    const held = heldTask('cron-held', 'done');
    const tw = await connectAt(clock, held.task);
    const skip = await tw.schedule('overlap-skip', '* * * * *', flow('cron-held-flow').add(held.task.s()));
    await advanceUntil(clock, async () => expect((await skip.runs()).length).toBe(1));
    await held.entered.promise;
    await advanceUntil(clock, async () => expect((await skip.info()).skipped).toBe(1));
    expect((await skip.runs()).map((r) => r.id)).toEqual(['overlap-skip:2026-01-01T00:01:00.000Z']);
    await skip.remove();
    const allow = await tw.schedule('overlap-allow', '* * * * *', flow('cron-held-flow').add(held.task.s()), {}, { overlap: 'allow' });
    const before = (await allow.info()).nextFireAt as number;
    await advanceUntil(clock, async () => expect((await allow.runs()).length).toBe(1));
    await clock.advance(Math.max(0, before + 60_000 - clock.now()));
    await advanceUntil(clock, async () => expect((await allow.runs()).length).toBe(2));
    held.release.resolve();
  });

  it('catches up missed ticks as asked: all (a backfill from since; overlap allowed), the latest, or none (skip)', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1, 1, 0, 30));
    const noop = task('cron-backfill', { apply: () => 1 });
    const tw = await connectAt(clock, noop);
    const since = Date.UTC(2026, 0, 1, 0, 0);
    const all = await tw.schedule('backfill', '*/15 * * * *', flow('cron-backfill').add(noop.s()), {}, { since, catchUp: 'all', catchUpLimit: 3, overlap: 'allow' });
    const skip = await tw.schedule('no-backfill', '*/15 * * * *', flow('cron-backfill').add(noop.s()), {}, { since: new Date(since) });
    const latest = await tw.schedule('latest', '*/15 * * * *', flow('cron-backfill').add(noop.s()), {}, { since, catchUp: 'latest' });
    // Due: 00:00, 00:15, 00:30, 00:45, 01:00. all (limit 3): the latest three; latest: 01:00; skip: 01:00 only (30 s late: on time).
    await advanceUntil(clock, async () => expect((await all.runs()).map((r) => r.id).sort()).toEqual(['backfill:2026-01-01T00:30:00.000Z', 'backfill:2026-01-01T00:45:00.000Z', 'backfill:2026-01-01T01:00:00.000Z']));
    await advanceUntil(clock, async () => expect((await latest.runs()).map((r) => r.id)).toEqual(['latest:2026-01-01T01:00:00.000Z']));
    await eventually(async () => expect(await all.info()).toMatchObject({ skipped: 2, nextFireAt: Date.UTC(2026, 0, 1, 1, 15) }));
    // Distributed, the fake clock is advanced through the shards' election first, past the minute of grace:
    // the skip policy's on-time tick is checked embedded (and in test/runtime/schedule-ticker.test.ts).
    if (backend.distributed) return;
    await advanceUntil(clock, async () => expect((await skip.runs()).map((r) => r.id)).toEqual(['no-backfill:2026-01-01T01:00:00.000Z']));
    await eventually(async () => expect((await skip.info()).skipped).toBe(4));
  });

  it('refuses a bad name, expression, time zone or option, naming the schedule and the field', async () => {
    const clock = new FakeClock(T0);
    const noop = task('cron-bad', { apply: () => 1 });
    const tw = await connectAt(clock, noop);
    const f = flow('cron-bad').add(noop.s());
    const bad = async (promise: Promise<unknown>, pattern: RegExp): Promise<void> => {
      const error = await rejection(promise);
      expect(error.code).toBe('TW_CONFIG');
      expect(error.message).toMatch(pattern);
    };
    await bad(tw.schedule('nightly', 'every night', f), /schedule "nightly": invalid cron "every night"/);
    await bad(tw.schedule('nightly', '0 2 * * *', f, {}, { timezone: 'Mars/Olympus' }), /schedule "nightly": invalid timezone "Mars\/Olympus"/);
    await bad(tw.schedule('nightly', '0 2 * * *', f, {}, { overlap: 'queue' as never }), /schedule "nightly": invalid overlap "queue"/);
    await bad(tw.schedule('nightly', '0 2 * * *', f, {}, { catchUpLimit: 0 }), /schedule "nightly": invalid catchUpLimit 0/);
    await bad(tw.schedule('nightly', '0 2 * * *', f, {}, { timeZone: 'UTC' } as never), /schedule "nightly".*timeZone/);
    await bad(tw.schedule('bad name', '0 2 * * *', f), /schedule name/);
    expect(await tw.schedules()).toEqual([]);
  });
});

describe('a schedule on SQLite [embedded-sqlite]', () => {
  const { path: scratch, clients } = sqliteScratch('taskwire-cron-');

  it('outlives its process: the next process on the file fires the ticks missed meanwhile by its policy (latest: once)', async () => {
    const path = scratch('cron.db');
    const noop = task('cron-durable', { apply: () => 1 });
    const first: Client = await connect({ store: path, tasks: [noop], clock: new FakeClock(T0) });
    clients.push(first);
    await first.schedule('durable', '* * * * *', flow('cron-durable').add(noop.s()), {}, { catchUp: 'latest' });
    await first.close();
    const clock = new FakeClock(T0 + 10 * 60_000); // 00:10:30: ticks 00:01 to 00:10 were missed
    const second = await connect({ store: path, tasks: [noop], clock });
    clients.push(second);
    const handle = await second.scheduled('durable');
    await advanceUntil(clock, async () => expect((await handle.runs()).map((r) => r.id)).toEqual(['durable:2026-01-01T00:10:00.000Z']));
    expect((await second.run('durable:2026-01-01T00:10:00.000Z').wait(WAIT)).status).toBe('succeeded');
    await eventually(async () => expect(await handle.info()).toMatchObject({ skipped: 9, nextFireAt: Date.UTC(2026, 0, 1, 0, 11) }));
  });
});
