/**
 * Cron ticks as pure arithmetic: the ticks after a time, in a time zone
 * across daylight saving changes, and which due ticks each missed-ticks
 * policy fires.
 */
import { describe, expect, it } from 'vitest';
import { compileCron, firstTick, planTicks, type CatchUp } from '../../src/model/schedule-plan.js';

const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const every5 = compileCron('s', '*/5 * * * *', 'UTC');

describe('schedule ticks', () => {
  it('gives the first tick at or after a time, and the next strictly after', () => {
    expect(iso(firstTick(every5, at('2026-01-01T00:05:00Z')))).toBe('2026-01-01T00:05:00.000Z');
    expect(iso(firstTick(every5, at('2026-01-01T00:05:00.001Z')))).toBe('2026-01-01T00:10:00.000Z');
    expect(iso(every5.after(at('2026-01-01T00:05:00Z')))).toBe('2026-01-01T00:10:00.000Z');
    expect(iso(compileCron('s', '*/10 * * * * *', 'UTC').after(at('2026-01-01T00:00:00Z')))).toBe('2026-01-01T00:00:10.000Z');
  });

  it('reads the expression in its time zone, across daylight saving time', () => {
    const daily = compileCron('s', '30 2 * * *', 'Europe/Berlin');
    // 02:30 local: CET (UTC+1) before 29 March, the gap that day (02:00 -> 03:00), CEST (UTC+2) after.
    expect(iso(daily.after(at('2026-03-28T00:00:00Z')))).toBe('2026-03-28T01:30:00.000Z');
    expect(iso(daily.after(at('2026-03-29T00:00:00Z')))).toBe('2026-03-29T01:00:00.000Z'); // 03:00 CEST: the first instant after the gap
    expect(iso(daily.after(at('2026-03-30T00:00:00Z')))).toBe('2026-03-30T00:30:00.000Z');
    // 25 October: 02:30 happens twice (CEST then CET): it fires once.
    const ticks: string[] = [];
    for (let t: number | null = at('2026-10-24T12:00:00Z'); ticks.length < 3 && t !== null; ) {
      t = daily.after(t);
      if (t !== null) ticks.push(iso(t) as string);
    }
    expect(ticks).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z', '2026-10-27T01:30:00.000Z']);
  });

  it('refuses a bad expression or time zone, naming the schedule and the field', () => {
    expect(() => compileCron('nightly', 'every day', 'UTC')).toThrow(/schedule "nightly": invalid cron "every day"/);
    expect(() => compileCron('nightly', '61 * * * *', 'UTC')).toThrow(/schedule "nightly": invalid cron "61 \* \* \* \*"/);
    expect(() => compileCron('nightly', '2026-01-01T00:00:00', 'UTC')).toThrow(/schedule "nightly": invalid cron/);
    expect(() => compileCron('nightly', '* * * * *', 'Mars/Olympus')).toThrow(/schedule "nightly": invalid timezone "Mars\/Olympus"/);
    try {
      compileCron('nightly', 'x', 'UTC');
    } catch (error) {
      expect((error as { code?: string }).code).toBe('TW_CONFIG');
    }
  });
});

describe('missed ticks (planTicks)', () => {
  const state = (catchUp: CatchUp, nextFireAt: number | null, catchUpLimit = 10) => ({ catchUp, catchUpLimit, nextFireAt });
  const plan = (catchUp: CatchUp, now: string, limit = 10) => {
    const out = planTicks(every5, state(catchUp, at('2026-01-01T00:00:00Z'), limit), at(now));
    return { fire: out.fire.map((t) => iso(t)), skipped: out.skipped, next: iso(out.next) };
  };

  it('fires nothing before the next tick', () => {
    expect(planTicks(every5, state('all', at('2026-01-01T00:05:00Z')), at('2026-01-01T00:04:59Z'))).toEqual({ fire: [], skipped: 0, next: at('2026-01-01T00:05:00Z') });
    expect(planTicks(every5, state('all', null), at('2026-01-01T00:04:59Z'))).toEqual({ fire: [], skipped: 0, next: null });
  });

  it('fires a tick on time under every policy, and moves on past now', () => {
    for (const catchUp of ['skip', 'latest', 'all'] as const) {
      expect(plan(catchUp, '2026-01-01T00:00:20Z')).toEqual({ fire: ['2026-01-01T00:00:00.000Z'], skipped: 0, next: '2026-01-01T00:05:00.000Z' });
    }
  });

  it('skip: missed ticks (more than the grace late) do not fire, a tick within the grace does', () => {
    expect(plan('skip', '2026-01-01T00:21:01Z')).toEqual({ fire: [], skipped: 5, next: '2026-01-01T00:25:00.000Z' });
    expect(plan('skip', '2026-01-01T00:20:30Z')).toEqual({ fire: ['2026-01-01T00:20:00.000Z'], skipped: 4, next: '2026-01-01T00:25:00.000Z' });
  });

  it('latest: the most recent due tick fires once', () => {
    expect(plan('latest', '2026-01-01T00:21:00Z')).toEqual({ fire: ['2026-01-01T00:20:00.000Z'], skipped: 4, next: '2026-01-01T00:25:00.000Z' });
  });

  it('all: every due tick fires, oldest first, at most catchUpLimit (the latest)', () => {
    expect(plan('all', '2026-01-01T00:11:00Z')).toEqual({ fire: ['2026-01-01T00:00:00.000Z', '2026-01-01T00:05:00.000Z', '2026-01-01T00:10:00.000Z'], skipped: 0, next: '2026-01-01T00:15:00.000Z' });
    expect(plan('all', '2026-01-01T00:21:00Z', 2)).toEqual({ fire: ['2026-01-01T00:15:00.000Z', '2026-01-01T00:20:00.000Z'], skipped: 3, next: '2026-01-01T00:25:00.000Z' });
  });
});
