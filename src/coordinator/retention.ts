/**
 * Automatic retention: a coordinator process deletes finished runs older than
 * a duration in the background (see `CoordinatorOptions.retention`), every
 * minute, in small batches, never on the step path.
 *
 * @packageDocumentation
 */
import type { RunStatus } from '../engine/state.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Store } from '../store/port.js';
import { pruneCriteria } from '../store/prune.js';
import type { Clock } from './clock.js';

/** What automatic retention deletes (see `CoordinatorOptions.retention`). */
export interface RetentionOptions {
  /** Delete finished runs whose last change is older than this, in milliseconds. */
  olderThanMs: number;
  /**
   * Only runs in these final statuses.
   * @default every final status
   */
  status?: RunStatus[];
  /**
   * How often a sweep runs, in milliseconds.
   * @default 60000
   */
  intervalMs?: number;
  /**
   * Runs deleted per transaction (a sweep runs batches until one comes back short).
   * @default 100
   */
  batch?: number;
}

/** What a {@link RetentionSweeper} needs besides its options. */
export interface SweeperContext {
  store: Store;
  clock: Clock;
  logger: Logger;
  /**
   * Whether this process sweeps now: with several coordinators on one
   * PostgreSQL store, only the owner of shard 0 does, so that one process
   * prunes at a time.
   */
  active(): boolean;
}

/** Deletes old finished runs on a timer (see {@link RetentionOptions}). */
export class RetentionSweeper {
  private timer: unknown;
  private sweeping: Promise<void> | undefined;
  private stopped = false;
  private readonly intervalMs: number;
  private readonly batch: number;

  /**
   * @throws ConfigError on a bad duration, interval, batch or a status that is not final.
   */
  constructor(
    private readonly options: RetentionOptions,
    private readonly context: SweeperContext,
  ) {
    this.intervalMs = options.intervalMs ?? 60_000;
    this.batch = options.batch ?? 100;
    for (const [what, value] of [['olderThanMs', options.olderThanMs], ['intervalMs', this.intervalMs]] as const) {
      if (!Number.isFinite(value) || value <= 0) throw new ConfigError(`retention: \`${what}\` must be a positive number of milliseconds, got ${String(value)}`);
    }
    pruneCriteria(this.criteria(0)); // checks the statuses and the batch now, not at the first sweep
  }

  /** Schedules the first sweep, one interval from now. */
  start(): void {
    this.schedule();
  }

  /** Cancels the timer and waits for a sweep in flight. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.context.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.sweeping;
  }

  /**
   * One sweep: batches until one comes back short (or the sweeper stops);
   * returns how many runs were deleted. A failure is logged, and the next
   * sweep tries again.
   */
  async sweep(): Promise<number> {
    const { store, clock, logger } = this.context;
    let total = 0;
    try {
      // The store's clock when it has one (shared by several processes), so that a skewed host prunes no early run.
      const now = store.clock === undefined ? clock.now() : await store.clock();
      const criteria = this.criteria(now - this.options.olderThanMs);
      for (;;) {
        const deleted = await store.pruneRuns(criteria);
        total += deleted;
        if (deleted < criteria.limit || this.stopped) break;
      }
      if (total > 0) logger.info({ pruned: total, finishedBefore: new Date(criteria.finishedBefore).toISOString() }, 'retention: pruned finished runs');
    } catch (error) {
      logger.warn({ error: (error as Error).message, pruned: total }, 'retention sweep failed: trying again at the next one');
    }
    return total;
  }

  private criteria(finishedBefore: number): { finishedBefore: number; status?: RunStatus[]; limit: number } {
    return { finishedBefore, limit: this.batch, ...(this.options.status === undefined ? {} : { status: this.options.status }) };
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.context.clock.setTimeout(() => {
      this.timer = undefined;
      if (!this.context.active()) return this.schedule();
      this.sweeping = this.sweep().then(() => {
        this.sweeping = undefined;
        this.schedule();
      });
    }, this.intervalMs);
  }
}
