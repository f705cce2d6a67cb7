/**
 * Cron schedules from the client's side: the options of `tw.schedule(...)`,
 * checked, and the store rows they make (created, or updated in place by
 * compare-and-set). The ticks are fired by `runtime/schedule-ticker.ts`.
 *
 * @packageDocumentation
 */
import type { JsonObject } from '../codec/json.js';
import { ConfigError, ConflictError, UnknownScheduleError } from '../errors.js';
import type { FlowDefinition } from '../model/definition.js';
import { checkName, MAX_NAME_LENGTH } from '../model/names.js';
import { checkKeys, optionKeys } from '../model/options.js';
import { CATCH_UPS, compileCron, firstTick, OVERLAPS, type CatchUp, type Overlap } from '../model/schedule-plan.js';
import type { ScheduleRow, Store } from '../store/port.js';

/** Options of `Client.schedule`. */
export interface ScheduleOptions {
  /**
   * IANA time zone the cron expression is read in (daylight saving time
   * included: a local time that does not exist that day fires at the first
   * instant after the gap; a repeated one fires once).
   * @default "UTC"
   */
  timezone?: string;
  /**
   * A tick while the previous tick's run is still live: `skip` skips the tick
   * (counted in `skipped`), `allow` starts another run.
   * @default "skip"
   */
  overlap?: Overlap;
  /**
   * Ticks missed while no process fired them (all stopped, or paused for
   * longer than a minute): `skip` fires none, `latest` the most recent one,
   * `all` each of them (at most `catchUpLimit`, the latest ones), oldest first.
   * @default "skip"
   */
  catchUp?: CatchUp;
  /**
   * At most this many ticks fired at once (with `catchUp: 'all'`).
   * @default 10
   */
  catchUpLimit?: number;
  /**
   * The first tick is the first at or after this time (a `Date` or epoch ms):
   * with `catchUp: 'all'`, a time in the past backfills. On an existing
   * schedule, given: its ticks start again from there.
   * @default now (a new schedule), the schedule's own next tick (an existing one)
   */
  since?: Date | number;
  /**
   * Create it paused (`handle.resume()` starts it). On an existing schedule:
   * left as it is unless given.
   */
  paused?: boolean;
}

const SCHEDULE_KEYS = optionKeys<ScheduleOptions>({ timezone: true, overlap: true, catchUp: true, catchUpLimit: true, since: true, paused: true });

/** What a schedule is made from: `Client.schedule`'s arguments, decoded and encoded. */
export interface ScheduleSpec {
  /** The schedule's name (a name, at most 75 characters). */
  name: string;
  /** The cron expression. */
  cron: string;
  /** The flow each tick starts. */
  flow: FlowDefinition;
  /** Its inputs, encoded. */
  inputs: JsonObject;
  /** The options given. */
  options: ScheduleOptions;
}

/** Longest schedule name: its run ids add `:` and a 24-character ISO time. */
const MAX_SCHEDULE_NAME = MAX_NAME_LENGTH - 25;

/** What a schedule's info shows (its store row without the compare-and-set version). */
export type ScheduleInfo = Omit<ScheduleRow, 'version'>;

/** The row without its version. */
export function infoOf(row: ScheduleRow): ScheduleInfo {
  const { version: _version, ...info } = row;
  return info;
}

/**
 * Checks a schedule's name, expression, time zone and options.
 *
 * @throws ConfigError naming the schedule and the field at fault.
 */
export function checkSchedule(spec: ScheduleSpec): void {
  checkName(spec.name, 'schedule name');
  if (spec.name.length > MAX_SCHEDULE_NAME) throw new ConfigError(`schedule name "${spec.name}" is longer than ${MAX_SCHEDULE_NAME} characters (its run ids add the tick's time)`);
  const { options } = spec;
  checkKeys(options, SCHEDULE_KEYS, `schedule "${spec.name}"`);
  const field = (what: string, value: unknown, expected: string): ConfigError => new ConfigError(`schedule "${spec.name}": invalid ${what} ${JSON.stringify(value) ?? String(value)}: expected ${expected}`);
  if (options.overlap !== undefined && !OVERLAPS.includes(options.overlap)) throw field('overlap', options.overlap, '"allow" or "skip"');
  if (options.catchUp !== undefined && !CATCH_UPS.includes(options.catchUp)) throw field('catchUp', options.catchUp, '"skip", "all" or "latest"');
  if (options.catchUpLimit !== undefined && (!Number.isInteger(options.catchUpLimit) || options.catchUpLimit < 1 || options.catchUpLimit > 1000)) throw field('catchUpLimit', options.catchUpLimit, 'an integer from 1 to 1000');
  if (options.since !== undefined && !Number.isFinite(sinceOf(options.since))) throw field('since', String(options.since), 'a Date or epoch milliseconds');
  if (options.paused !== undefined && typeof options.paused !== 'boolean') throw field('paused', options.paused, 'a boolean');
  compileCron(spec.name, spec.cron, options.timezone ?? 'UTC');
}

function sinceOf(since: Date | number): number {
  return since instanceof Date ? since.getTime() : since;
}

/** How many times a change re-reads a schedule changed meanwhile before giving up. */
const MAX_ATTEMPTS = 20;

/** The schedule `name`, or undefined. */
export async function findSchedule(store: Store, name: string): Promise<ScheduleRow | undefined> {
  return (await store.listSchedules()).find((row) => row.name === name);
}

/**
 * Creates the schedule, or updates the one of that name (its next tick kept
 * when its expression, time zone and `since` are unchanged; paused as it was
 * unless `options.paused` says). Returns the row written.
 */
export async function putSchedule(store: Store, spec: ScheduleSpec, now: number): Promise<ScheduleRow> {
  checkSchedule(spec);
  const { name, cron, flow, inputs, options } = spec;
  const timezone = options.timezone ?? 'UTC';
  const compiled = compileCron(name, cron, timezone);
  const since = options.since === undefined ? now : sinceOf(options.since);
  const fields = { name, cron, timezone, flow, inputs, overlap: options.overlap ?? 'skip', catchUp: options.catchUp ?? 'skip', catchUpLimit: options.catchUpLimit ?? 10 } as const;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const existing = await findSchedule(store, name);
    if (existing === undefined) {
      const row: ScheduleRow = { ...fields, paused: options.paused ?? false, nextFireAt: firstTick(compiled, since), skipped: 0, createdAt: now, updatedAt: now, version: 1 };
      if (await store.putSchedule(row)) return row;
      continue;
    }
    const sameTicks = existing.cron === cron && existing.timezone === timezone && options.since === undefined;
    const row: ScheduleRow = { ...existing, ...fields, paused: options.paused ?? existing.paused, nextFireAt: sameTicks ? existing.nextFireAt : firstTick(compiled, since), updatedAt: now, version: existing.version + 1 };
    if (await store.updateSchedule(row, existing.version)) return row;
  }
  throw new ConflictError(name, `schedule "${name}" kept changing concurrently`);
}

/**
 * Changes the schedule `name` with `change` (compare and set, re-read while
 * it changes meanwhile); returns the row written.
 *
 * @throws UnknownScheduleError when there is no such schedule.
 */
export async function changeSchedule(store: Store, name: string, now: number, change: (row: ScheduleRow) => Partial<ScheduleRow>): Promise<ScheduleRow> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const existing = await findSchedule(store, name);
    if (existing === undefined) throw new UnknownScheduleError(name);
    const row: ScheduleRow = { ...existing, ...change(existing), updatedAt: now, version: existing.version + 1 };
    if (await store.updateSchedule(row, existing.version)) return row;
  }
  throw new ConflictError(name, `schedule "${name}" kept changing concurrently`);
}

/** The change that resumes a schedule: its ticks go on from the first at or after `now` (those while paused are not caught up). */
export function resumed(row: ScheduleRow, now: number): Partial<ScheduleRow> {
  return { paused: false, nextFireAt: firstTick(compileCron(row.name, row.cron, row.timezone), now) };
}
