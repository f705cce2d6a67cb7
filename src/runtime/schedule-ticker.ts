/**
 * The schedule ticker: in each process that coordinates (`connect({ schedules })`),
 * a timer that fires the due ticks of the cron schedules held in the store.
 *
 * A tick is fired at most once, whoever fires it and whatever dies when:
 * 1. only the coordinator that owns the shard of the schedule's name fires it
 *    (PostgreSQL: the shard's elected owner; one process stores: itself);
 * 2. the tick's run has a deterministic id, `<name>:<tick ISO time>`: the
 *    start is idempotent (a second start of that id is a no-op), and a run of
 *    that id already there counts as fired;
 * 3. only then is the schedule's next tick moved on, by compare-and-set on
 *    its version, fenced by the shard's leader epoch: a deposed owner cannot
 *    write it, and two writers cannot both move it.
 * A process killed between 2 and 3 leaves the tick due: the next owner finds
 * its run and moves on, and a tick whose run was never started is started by
 * the next owner (fired once, not zero, not twice).
 *
 * @packageDocumentation
 */
import type { Clock } from '../coordinator/clock.js';
import type { RunStatus } from '../engine/state.js';
import { compileCron, DEFAULT_GRACE_MS, planTicks } from '../model/schedule-plan.js';
import type { Logger } from '../observability/logger.js';
import { FINAL_STATUSES, type Fence, type ScheduleRow, type Store } from '../store/port.js';

/** Default of {@link TickerOptions.intervalMs}. */
export const DEFAULT_TICKER_INTERVAL_MS = 5_000;

/** Errors of a start that will not succeed by trying again: the tick is recorded as fired, with the error. */
const REFUSED: ReadonlySet<string> = new Set(['TW_VALIDATION', 'TW_CYCLE', 'TW_UNKNOWN_TASK', 'TW_CONFIG', 'TW_CONFLICT', 'TW_TOO_LARGE', 'TW_ENCODE', 'TW_DECODE']);

/** The id of the run a schedule starts for a tick: `<name>:<tick time, ISO 8601 UTC>`. */
export function tickRunId(schedule: string, tick: number): string {
  return `${schedule}:${new Date(tick).toISOString()}`;
}

/** What a {@link ScheduleTicker} works with. */
export interface TickerOptions {
  /** Where the schedules are. */
  store: Store;
  /** The coordinator's clock (a fake one in tests). */
  clock: Clock;
  /** For fires, skips and failures. */
  logger: Logger;
  /** Whether this process fires the schedule `name`, and with which fence (see `Coordinator.shardOwner`). */
  owner(name: string): { fence?: Fence } | undefined;
  /** Starts the run of a tick (idempotent by run id). */
  start(row: ScheduleRow, runId: string): Promise<void>;
  /** A run's status, or undefined when there is no such run. */
  status(runId: string): Promise<RunStatus | undefined>;
  /**
   * The store is read at least this often, in milliseconds (schedules added or
   * changed by other processes, shards gained).
   * @default 5000
   */
  intervalMs?: number;
  /**
   * A tick fired later than this after its time was missed (see `CatchUp`), in milliseconds.
   * @default 60000
   */
  graceMs?: number;
}

/** Fires due schedule ticks on a timer (see the module's doc). */
export class ScheduleTicker {
  private timer: unknown;
  private passing: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly options: TickerOptions) {}

  /** Starts ticking: a first pass at once. */
  start(): void {
    this.arm(0);
  }

  /** A schedule changed in this process: a pass soon (after the one under way). */
  poke(): void {
    if (this.stopped) return;
    if (this.passing !== undefined) this.again = true;
    else this.arm(0);
  }

  /** Stops the timer and waits for a pass under way. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.disarm();
    await this.passing;
  }

  /**
   * One pass: fires the due ticks of the schedules this process owns, then
   * arms the timer for the next tick (or the interval). A failure is logged and
   * the next pass tries again.
   */
  async pass(): Promise<void> {
    const { store, clock, logger } = this.options;
    const interval = this.options.intervalMs ?? DEFAULT_TICKER_INTERVAL_MS;
    let wake = clock.now() + interval;
    try {
      for (const row of await store.listSchedules()) {
        if (this.stopped) return;
        const owner = row.paused || row.nextFireAt === null ? undefined : this.options.owner(row.name);
        if (owner === undefined || row.nextFireAt === null) continue;
        const next = row.nextFireAt <= clock.now() ? await this.fire(row, owner.fence).catch((error: unknown) => this.failed(row, error)) : row.nextFireAt;
        if (next !== null) wake = Math.min(wake, next);
      }
    } catch (error) {
      logger.warn({ error: (error as Error).message }, 'schedules: reading the schedules failed: trying again at the next pass');
    }
    if (!this.stopped) this.arm(Math.max(0, wake - clock.now()));
  }

  /**
   * Fires the due ticks of `row` and moves its next tick on. Returns when it is
   * next due (a start that failed and may succeed later: the interval).
   */
  private async fire(row: ScheduleRow, fence: Fence | undefined): Promise<number | null> {
    const { store, clock, logger } = this.options;
    const now = clock.now();
    const plan = planTicks(compileCron(row.name, row.cron, row.timezone), row, now, this.options.graceMs ?? DEFAULT_GRACE_MS);
    const updated: ScheduleRow = { ...row, nextFireAt: plan.next, skipped: row.skipped + plan.skipped, updatedAt: now, version: row.version + 1 };
    if (plan.skipped > 0) logger.info({ schedule: row.name, skipped: plan.skipped, catchUp: row.catchUp }, 'schedule: missed ticks skipped');
    for (const tick of plan.fire) {
      const runId = tickRunId(row.name, tick);
      try {
        if ((await this.options.status(runId)) === undefined) {
          // A live previous run makes an overlapping tick skip (overlap: 'skip').
          const previous = updated.lastRunId;
          if (row.overlap === 'skip' && previous !== undefined && isLive(await this.options.status(previous))) {
            updated.skipped++;
            logger.info({ schedule: row.name, tick: new Date(tick).toISOString(), running: previous }, 'schedule: tick skipped, the previous run is still live');
            continue;
          }
          await this.options.start(row, runId);
          logger.info({ schedule: row.name, run: runId }, 'schedule: tick fired');
        }
        Object.assign(updated, { lastFireAt: tick, lastRunId: runId });
        delete updated.lastError;
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (typeof code !== 'string' || !REFUSED.has(code)) {
          logger.warn({ schedule: row.name, run: runId, error: (error as Error).message }, 'schedule: starting a tick failed: trying again at the next pass');
          return now + (this.options.intervalMs ?? DEFAULT_TICKER_INTERVAL_MS);
        }
        logger.error({ schedule: row.name, run: runId, error: (error as Error).message }, 'schedule: a tick was refused');
        Object.assign(updated, { lastFireAt: tick, lastError: `${code}: ${(error as Error).message}` });
      }
    }
    try {
      if (!(await store.updateSchedule(updated, row.version, fence))) logger.debug({ schedule: row.name }, 'schedule: changed meanwhile, read again at the next pass');
    } catch (error) {
      logger.warn({ schedule: row.name, error: (error as Error).message }, 'schedule: moving its next tick on failed: trying again at the next pass');
      return now + (this.options.intervalMs ?? DEFAULT_TICKER_INTERVAL_MS);
    }
    return plan.next;
  }

  /** A fire that threw (a stored row this code cannot read): logged, tried again at the interval. */
  private failed(row: ScheduleRow, error: unknown): number {
    this.options.logger.error({ schedule: row.name, error: (error as Error).message }, 'schedule: firing failed');
    return this.options.clock.now() + (this.options.intervalMs ?? DEFAULT_TICKER_INTERVAL_MS);
  }

  private arm(ms: number): void {
    this.disarm();
    if (this.stopped) return;
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      this.passing = this.pass().finally(() => {
        this.passing = undefined;
        if (this.again) {
          this.again = false;
          this.arm(0);
        }
      });
    }, ms);
  }

  private disarm(): void {
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** Whether a run of this status may still change (undefined: no such run). */
function isLive(status: RunStatus | undefined): boolean {
  return status !== undefined && !FINAL_STATUSES.includes(status);
}
