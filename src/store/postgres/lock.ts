/**
 * The coordinator election's lock in PostgreSQL: a session advisory lock on a
 * pooled connection of its own, held while that session lives, and the
 * election's leader epoch, incremented by each winner.
 *
 * A lock is lost when its connection reports an error, when a periodic check
 * on it fails or does not answer in time (a half-open connection: the server
 * or the network gone silent), or when the check finds a newer epoch. A lost
 * lock gives its connection back to the pool at once (destroyed), whether or
 * not its holder calls `release()`.
 *
 * @packageDocumentation
 */
import type { Pool, PoolClient } from 'pg';
import type { Fence, StoreLock } from '../port.js';
import type { NamedQuery } from './queries.js';

/**
 * Timers, as the coordinator's `Clock` has them (any `Clock` fits): the
 * system's, or a simulated clock's that drives the checks.
 */
export interface Timers {
  /** Calls `fn` after `ms` milliseconds; returns a handle for {@link Timers.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer. */
  clearTimeout(handle: unknown): void;
}

/** The system's timers. */
export const systemTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** How a lock's connection is watched. */
export interface LockCheck {
  /** Time between two checks, in milliseconds. */
  intervalMs: number;
  /** A check (or the unlock) not answered within this is a loss, in milliseconds. */
  timeoutMs: number;
  /** The timers of the checks and their timeouts. */
  clock: Timers;
}

/** The statements a lock runs. */
export interface LockQueries {
  /** Increments and returns the election's epoch (`$1`: the election). */
  bumpEpoch: NamedQuery;
  /** Reads the election's epoch (`$1`: the election). */
  readEpoch: NamedQuery;
}

/**
 * Server-side TCP keepalive of the lock's session: the server drops the session
 * (and the lock with it) about 25 s after its holder's host vanished, so that a
 * standby can be elected. Ignored on Unix sockets.
 */
const SESSION_KEEPALIVE = 'SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3';

/**
 * Tries to take the advisory lock `key` for the election `name` on a
 * connection of `pool`; undefined when another session holds it.
 */
export async function tryAdvisoryLock(pool: Pool, name: string, key: string, queries: LockQueries, check: LockCheck): Promise<StoreLock | undefined> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (error: Error): void => {
    broken = error;
  };
  client.on('error', onError);
  let epoch: number;
  try {
    const rows = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked', [key]);
    if (rows.rows[0]?.locked !== true) {
      client.off('error', onError);
      client.release(broken);
      return undefined;
    }
    await client.query(SESSION_KEEPALIVE);
    const bumped = await client.query<{ epoch: string }>({ name: queries.bumpEpoch.name, text: queries.bumpEpoch.text, values: [name] });
    epoch = Number(bumped.rows[0]?.epoch);
  } catch (error) {
    client.off('error', onError);
    // Destroyed, not reused: the session (and any lock it took) ends with it.
    client.release(error instanceof Error ? error : true);
    throw error;
  }
  client.off('error', onError);
  return new AdvisoryLock(client, key, { name, epoch }, queries.readEpoch, check, broken);
}

/** A held advisory lock (see the module doc). */
class AdvisoryLock implements StoreLock {
  readonly lost: Promise<void>;
  private resolveLost: () => void = () => undefined;
  /** Set once the connection is given back (lost or released). */
  private done = false;
  private timer: unknown;
  private readonly onError = (error: Error): void => this.lose(error);

  constructor(
    private readonly client: PoolClient,
    private readonly key: string,
    readonly fence: Fence,
    private readonly readEpoch: NamedQuery,
    private readonly check: LockCheck,
    broken: Error | undefined,
  ) {
    this.lost = new Promise((resolve) => (this.resolveLost = resolve));
    client.on('error', this.onError);
    if (broken === undefined) this.scheduleCheck();
    else this.lose(broken);
  }

  private scheduleCheck(): void {
    this.timer = this.check.clock.setTimeout(() => void this.checkNow(), this.check.intervalMs);
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** Still ours: the session answers in time and no newer epoch was taken. */
  private async checkNow(): Promise<void> {
    if (this.done) return;
    try {
      const rows = await this.answered(this.client.query<{ epoch: string }>({ name: this.readEpoch.name, text: this.readEpoch.text, values: [this.fence.name] }));
      const current = Number(rows.rows[0]?.epoch);
      if (current !== this.fence.epoch) {
        this.lose(new Error(`the election "${this.fence.name}" is at epoch ${String(rows.rows[0]?.epoch)}, this lock took ${this.fence.epoch}`));
        return;
      }
    } catch (error) {
      this.lose(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (!this.done) this.scheduleCheck();
  }

  /** `query`, or a rejection once the check's timeout has passed without an answer. */
  private async answered<T>(query: Promise<T>): Promise<T> {
    const { clock, timeoutMs } = this.check;
    let timer: unknown;
    const timeout = new Promise<never>((_, reject) => {
      timer = clock.setTimeout(() => reject(new Error(`the lock's connection did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([query, timeout]);
    } finally {
      clock.clearTimeout(timer);
    }
  }

  /** The lock is gone: destroy the connection (it may hang), resolve `lost`. */
  private lose(error: Error): void {
    if (this.done) return;
    this.finish(error);
  }

  private finish(error: Error | undefined): void {
    this.done = true;
    this.check.clock.clearTimeout(this.timer);
    this.client.off('error', this.onError);
    // A client that errored must not go back to the pool; keep an error listener
    // so that a late one (the socket closing) does not crash the process.
    if (error !== undefined) this.client.on('error', () => undefined);
    this.client.release(error);
    this.resolveLost();
  }

  async release(): Promise<void> {
    if (this.done) return;
    this.done = true; // no check from now on
    this.check.clock.clearTimeout(this.timer);
    let failed: Error | undefined;
    try {
      await this.answered(this.client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [this.key]));
    } catch (error) {
      failed = error instanceof Error ? error : new Error(String(error));
    }
    this.finish(failed);
  }
}
