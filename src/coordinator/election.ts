/**
 * The coordinator election: one active coordinator per store and bus, the
 * others standing by. The holder of the store's lock takes the signals; when its
 * process dies, the lock goes with its connection and a standby takes over
 * within the election interval.
 *
 * Each win comes with a new leader epoch (a fencing token, see
 * `StoreLock.fence`) that every commit of the active coordinator carries: a
 * coordinator that lost its lock without noticing yet (a half-open
 * connection, a long pause) cannot commit once a successor is elected, so two
 * coordinators never both step runs from signals.
 *
 * @packageDocumentation
 */
import type { Logger } from '../observability/logger.js';
import type { Fence, StoreLock } from '../store/port.js';
import type { Clock } from './clock.js';

/** What an {@link Election} needs. */
export interface ElectionOptions {
  /** Tries to take the lock (the store's `tryLock`, bound). */
  tryLock(name: string): Promise<StoreLock | undefined>;
  /** The lock's name. */
  name: string;
  /** How often a standby tries again, in milliseconds. */
  intervalMs: number;
  /** Timers. */
  clock: Clock;
  /** For elections and depositions. */
  logger: Logger;
  /** Called once elected, with the epoch of the win; a throw stands the coordinator down and retries later. */
  onElected(fence: Fence): Promise<void>;
  /** Called when the lock is lost or {@link Election.deposed} (not on close). */
  onDeposed(): Promise<void>;
}

/** Campaigns until elected, and again after losing the lock, until closed. */
export class Election {
  private lock: StoreLock | undefined;
  private timer: unknown;
  private closed = false;

  constructor(private readonly options: ElectionOptions) {}

  /** Starts campaigning (in the background). */
  start(): void {
    void this.campaign();
  }

  private again(): void {
    if (this.closed) return;
    this.timer = this.options.clock.setTimeout(() => void this.campaign(), this.options.intervalMs);
    (this.timer as { unref?: () => void }).unref?.();
  }

  private async campaign(): Promise<void> {
    if (this.closed) return;
    const { logger } = this.options;
    let lock: StoreLock | undefined;
    try {
      lock = await this.options.tryLock(this.options.name);
    } catch (error) {
      logger.warn({ error: (error as Error).message }, 'coordinator election failed; trying again');
    }
    if (lock === undefined || this.closed) {
      await lock?.release();
      this.again();
      return;
    }
    this.lock = lock;
    try {
      await this.options.onElected(lock.fence);
    } catch (error) {
      logger.warn({ error: (error as Error).message }, 'could not take signals; standing by');
      this.lock = undefined;
      await lock.release();
      this.again();
      return;
    }
    logger.info({ epoch: lock.fence.epoch }, 'active coordinator: taking signals');
    void lock.lost.then(() => this.standDown(lock, 'lost the coordinator lock: standing by'));
  }

  /**
   * The store refused a commit of this coordinator (code `TW_FENCED`): another
   * coordinator was elected. Stands down as on a lost lock.
   */
  deposed(): void {
    const lock = this.lock;
    if (lock !== undefined) void this.standDown(lock, 'another coordinator was elected (commit refused): standing by');
  }

  /** Gives the lock up (whatever it still holds) and campaigns again. */
  private async standDown(lock: StoreLock, reason: string): Promise<void> {
    if (this.closed || this.lock !== lock) return;
    this.lock = undefined;
    this.options.logger.warn({ epoch: lock.fence.epoch }, reason);
    try {
      await this.options.onDeposed();
    } finally {
      await lock.release().catch(() => undefined);
      this.again();
    }
  }

  /**
   * Stops campaigning (a campaign in flight that wins gives the lock back at
   * once) and keeps the lock if held, until {@link Election.close}. Idempotent.
   */
  stop(): void {
    this.closed = true;
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
  }

  /** Stops campaigning and releases the lock if held. Idempotent. */
  async close(): Promise<void> {
    this.stop();
    const lock = this.lock;
    this.lock = undefined;
    await lock?.release();
  }
}
