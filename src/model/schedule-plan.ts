/**
 * Cron schedules as pure time arithmetic: reading an expression in a time
 * zone, the ticks after a time, and which due ticks a schedule fires
 * ({@link planTicks}: the missed-ticks policy). No I/O, no clock: the ticker
 * (`runtime/schedule-ticker.ts`) passes the time.
 *
 * @packageDocumentation
 */
import { Cron } from 'croner';
import { ConfigError } from '../errors.js';

/** A tick while the schedule's previous run is still live: `allow` starts another run, `skip` skips the tick. */
export type Overlap = 'allow' | 'skip';

/**
 * Due ticks that were missed (no process fired them at their time): `skip`
 * fires none of them (only a tick at most `graceMs` late fires), `latest`
 * fires the most recent one, `all` fires them all (at most `catchUpLimit`, the
 * latest ones), oldest first.
 */
export type CatchUp = 'skip' | 'all' | 'latest';

/** The values of {@link Overlap}. */
export const OVERLAPS: readonly Overlap[] = ['allow', 'skip'];

/** The values of {@link CatchUp}. */
export const CATCH_UPS: readonly CatchUp[] = ['skip', 'all', 'latest'];

/** How late a tick may be fired and still count as on time (not missed), in milliseconds. */
export const DEFAULT_GRACE_MS = 60_000;

/** Due ticks counted at most, for {@link TickPlan.skipped} (a per-second schedule down for a week). */
const MAX_COUNTED = 10_000;

/** A schedule's expression, read once ({@link compileCron}). */
export interface CompiledCron {
  /** The first tick strictly after `after` (epoch ms), or null when there is none. */
  after(after: number): number | null;
  /** Up to `count` ticks strictly before `before`, newest first. */
  before(before: number, count: number): number[];
}

/**
 * Reads `cron` (5 fields, or 6 with seconds first; `@daily`-style nicknames)
 * in the IANA time zone `timezone`.
 *
 * @throws ConfigError naming the schedule and the field (`cron` or `timezone`) at fault.
 */
export function compileCron(schedule: string, cron: string, timezone: string): CompiledCron {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw new ConfigError(`schedule "${schedule}": invalid timezone ${JSON.stringify(timezone)}: expected an IANA time zone such as "UTC" or "Europe/Paris"`);
  }
  // croner reads a string holding ":" as one date, not as an expression.
  if (typeof cron !== 'string' || cron.includes(':') || cron.trim().split(/\s+/).length > 6) {
    throw new ConfigError(`schedule "${schedule}": invalid cron ${JSON.stringify(cron)}: expected 5 fields (minute hour day month weekday) or 6 (seconds first)`);
  }
  let parsed: Cron;
  try {
    parsed = new Cron(cron, { timezone, paused: true });
  } catch (error) {
    throw new ConfigError(`schedule "${schedule}": invalid cron ${JSON.stringify(cron)}: ${(error as Error).message}`);
  }
  return {
    after: (after) => parsed.nextRun(new Date(after))?.getTime() ?? null,
    before: (before, count) => parsed.previousRuns(count, new Date(before)).map((d) => d.getTime()),
  };
}

/** The first tick at or after `since` (epoch ms), or null. */
export function firstTick(cron: CompiledCron, since: number): number | null {
  return cron.after(since - 1);
}

/** Where a schedule's ticks stand, as {@link planTicks} reads them. */
export interface TickState {
  /** The earliest tick not fired or skipped yet; null: none left. */
  nextFireAt: number | null;
  /** The missed-ticks policy. */
  catchUp: CatchUp;
  /** At most this many ticks fired at once. */
  catchUpLimit: number;
}

/** What a schedule does at a time ({@link planTicks}). */
export interface TickPlan {
  /** The ticks to fire now, oldest first. */
  fire: number[];
  /** How many due ticks are not fired (missed under the policy); counted up to 10,000. */
  skipped: number;
  /** The schedule's next tick once these are done (strictly after now), or null. */
  next: number | null;
}

/**
 * The ticks a schedule fires at `now`: every tick from `state.nextFireAt` to
 * `now` is due; a due tick more than `graceMs` old was missed, and the policy
 * (`state.catchUp`) says which due ticks fire (see {@link CatchUp}). Never
 * more than `state.catchUpLimit` at once.
 */
export function planTicks(cron: CompiledCron, state: TickState, now: number, graceMs = DEFAULT_GRACE_MS): TickPlan {
  const { nextFireAt } = state;
  if (nextFireAt === null || nextFireAt > now) return { fire: [], skipped: 0, next: nextFireAt };
  const keep = state.catchUp === 'latest' ? 1 : Math.max(1, state.catchUpLimit);
  const oldest = state.catchUp === 'skip' ? Math.max(nextFireAt, now - graceMs) : nextFireAt;
  const fire = cron
    .before(now + 1, keep)
    .filter((tick) => tick >= oldest)
    .reverse();
  let due = 0;
  for (let tick: number | null = nextFireAt; tick !== null && tick <= now && due < MAX_COUNTED; tick = cron.after(tick)) due++;
  return { fire, skipped: Math.max(0, due - fire.length), next: cron.after(now) };
}
