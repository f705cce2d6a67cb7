/**
 * The coordinator elections' locks in PostgreSQL: session advisory locks, and
 * each election's leader epoch, incremented by each winner. A process may hold
 * many locks (one per shard it owns); all those of one store share one
 * dedicated session (advisory locks belong to a session): a pooled connection
 * taken on the first `tryLock`, and given back to the pool once it holds no
 * lock.
 *
 * The session is watched by a periodic check that reads the epochs of every
 * election it holds, in one query. A newer epoch for one election loses that
 * lock only (its advisory lock is released on the session); an error on the
 * connection, or a check or an unlock that fails or does not answer in time
 * (a half-open connection: the server or the network gone silent), loses the
 * session and every lock it holds. A lost session's connection is destroyed
 * at once, never given back for reuse, whether or not the holders call
 * `release()`.
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

/** How the locks' session is watched. */
export interface LockCheck {
  /** Time between two checks, in milliseconds. */
  intervalMs: number;
  /** A check (or an unlock) not answered within this loses the session, in milliseconds. */
  timeoutMs: number;
  /** The timers of the checks and their timeouts. */
  clock: Timers;
}

/** The statements the locks run. */
export interface LockQueries {
  /** Increments and returns the election's epoch (`$1`: the election). */
  bumpEpoch: NamedQuery;
  /** Reads the epochs of elections (`$1`: their names; rows `name`, `epoch`). */
  readEpochs: NamedQuery;
}

/**
 * Server-side TCP keepalive of the locks' session: the server drops the
 * session (and the locks with it) about 25 s after its holder's host vanished,
 * so that a standby can be elected. Ignored on Unix sockets.
 */
const SESSION_KEEPALIVE = 'SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3';

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/** The advisory locks of one store (see the module doc). */
export class AdvisoryLocks {
  /** The session holding the locks, while it lives. */
  private session: LockSession | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly queries: LockQueries,
    private readonly check: LockCheck,
  ) {}

  /**
   * Tries to take the advisory lock `key` for the election `name`; undefined
   * when another session holds it, or this store already does.
   */
  async tryLock(name: string, key: string): Promise<StoreLock | undefined> {
    if (this.session === undefined || this.session.ended) this.session = new LockSession(this.pool, this.queries, this.check);
    return this.session.tryLock(name, key);
  }
}

/** The session of a store's locks: one connection, from the first lock taken until it holds none or is lost. */
class LockSession {
  /** Set once the connection is given back (idle) or destroyed (lost): the session serves no lock from then on. */
  ended = false;
  private client: PoolClient | undefined;
  private readonly connected: Promise<PoolClient>;
  /** The locks held, by key. */
  private readonly held = new Map<string, SessionLock>();
  /** Keys being tried. */
  private readonly trying = new Set<string>();
  /** Statements in flight (tries, checks, unlocks): the connection is not given back meanwhile. */
  private busy = 0;
  /** The last statement queued (see {@link LockSession.queued}). */
  private tail: Promise<unknown> = Promise.resolve();
  private timer: unknown;
  /** Whether a check is scheduled ({@link LockSession.timer}: any value a `Timers` returns). */
  private scheduled = false;
  private readonly onError = (error: Error): void => this.lose(error);

  constructor(
    pool: Pool,
    private readonly queries: LockQueries,
    private readonly check: LockCheck,
  ) {
    this.connected = this.connect(pool);
  }

  private async connect(pool: Pool): Promise<PoolClient> {
    const client = await pool.connect();
    this.client = client;
    client.on('error', this.onError);
    await client.query(SESSION_KEEPALIVE);
    return client;
  }

  async tryLock(name: string, key: string): Promise<StoreLock | undefined> {
    // Advisory locks are reentrant within a session: a lock this session holds (or is taking) is not taken twice.
    if (this.held.has(key) || this.trying.has(key)) return undefined;
    this.trying.add(key);
    this.busy++;
    try {
      const rows = await this.queued((client) => client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked', [key]));
      if (rows.rows[0]?.locked !== true) return undefined;
      const { bumpEpoch } = this.queries;
      const bumped = await this.queued((client) => client.query<{ epoch: string }>({ name: bumpEpoch.name, text: bumpEpoch.text, values: [name] }));
      const lock = new SessionLock({ name, epoch: Number(bumped.rows[0]?.epoch) }, key, this);
      if (this.ended) {
        lock.end(); // the session was lost meanwhile (another statement failed), and the lock with it
      } else {
        this.held.set(key, lock);
        this.scheduleCheck();
      }
      return lock;
    } catch (error) {
      // Destroyed, not reused: the session (and any lock it took) ends with it.
      this.lose(asError(error));
      throw error;
    } finally {
      this.trying.delete(key);
      this.busy--;
      this.giveBackIfIdle();
    }
  }

  /** Releases `lock` (held by this session): unlocks it on the session. */
  async release(lock: SessionLock): Promise<void> {
    if (this.held.get(lock.key) !== lock) return;
    this.held.delete(lock.key);
    await this.unlock(lock.key);
  }

  private scheduleCheck(): void {
    if (this.scheduled || this.ended || this.held.size === 0) return;
    this.scheduled = true;
    this.timer = this.check.clock.setTimeout(() => {
      this.scheduled = false;
      void this.checkNow();
    }, this.check.intervalMs);
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** Every lock still ours: the session answers in time, and no newer epoch was taken for its election. */
  private async checkNow(): Promise<void> {
    const locks = [...this.held.values()];
    if (this.ended || locks.length === 0) return;
    const { readEpochs } = this.queries;
    const names = locks.map((lock) => lock.fence.name);
    this.busy++;
    try {
      const rows = await this.answered(this.queued((client) => client.query<{ name: string; epoch: string }>({ name: readEpochs.name, text: readEpochs.text, values: [names] })));
      const epochs = new Map(rows.rows.map((row) => [row.name, Number(row.epoch)]));
      for (const lock of locks) {
        // A lock released meanwhile (or released and taken again: another lock object) is not this check's business.
        if (epochs.get(lock.fence.name) === lock.fence.epoch || this.held.get(lock.key) !== lock) continue;
        this.held.delete(lock.key);
        lock.end();
        void this.unlock(lock.key);
      }
    } catch (error) {
      this.lose(asError(error));
    } finally {
      this.busy--;
      this.giveBackIfIdle();
    }
    this.scheduleCheck();
  }

  /** Releases the advisory lock `key` on the session; a failure (or no answer in time) loses the session. */
  private async unlock(key: string): Promise<void> {
    if (this.ended) return;
    this.busy++;
    try {
      await this.answered(this.queued((client) => client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key])));
    } catch (error) {
      this.lose(asError(error));
    } finally {
      this.busy--;
      this.giveBackIfIdle();
    }
  }

  /**
   * Runs `statement` on the session once it is connected and the statements
   * queued before it are done: one at a time, in the order queued (an unlock
   * of a key comes before a later try of it). Rejects once the session is
   * lost.
   */
  private queued<T>(statement: (client: PoolClient) => Promise<T>): Promise<T> {
    const run = this.tail
      .then(() => this.connected)
      .then((client) => {
        if (this.ended) throw new Error("the locks' session was lost");
        return statement(client);
      });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** `query`, or a rejection once the check's timeout has passed without an answer. */
  private async answered<T>(query: Promise<T>): Promise<T> {
    const { clock, timeoutMs } = this.check;
    let timer: unknown;
    const timeout = new Promise<never>((_, reject) => {
      timer = clock.setTimeout(() => reject(new Error(`the locks' connection did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([query, timeout]);
    } finally {
      clock.clearTimeout(timer);
    }
  }

  /** The session is gone, and every lock with it: destroy the connection (it may hang), end the locks. */
  private lose(error: Error): void {
    if (this.ended) return;
    this.stop();
    const locks = [...this.held.values()];
    this.held.clear();
    const client = this.client;
    if (client !== undefined) {
      // A client that errored must not go back to the pool; keep an error listener
      // so that a late one (the socket closing) does not crash the process.
      client.on('error', () => undefined);
      client.release(error);
    }
    for (const lock of locks) lock.end();
  }

  /** No lock held and nothing in flight: the connection goes back to the pool. */
  private giveBackIfIdle(): void {
    if (this.ended || this.busy > 0 || this.held.size > 0) return;
    this.stop();
    this.client?.release();
  }

  private stop(): void {
    this.ended = true;
    if (this.scheduled) this.check.clock.clearTimeout(this.timer);
    this.scheduled = false;
    this.client?.off('error', this.onError);
  }
}

/** A held advisory lock of a {@link LockSession}. */
class SessionLock implements StoreLock {
  readonly lost: Promise<void>;
  private resolveLost: () => void = () => undefined;
  /** Set once lost or released. */
  private done = false;

  constructor(
    readonly fence: Fence,
    /** The advisory lock's key. */
    readonly key: string,
    private readonly session: LockSession,
  ) {
    this.lost = new Promise((resolve) => (this.resolveLost = resolve));
  }

  /** The lock is gone (its session lost, or a newer epoch taken): resolve `lost`. */
  end(): void {
    if (this.done) return;
    this.done = true;
    this.resolveLost();
  }

  async release(): Promise<void> {
    if (this.done) return;
    this.done = true; // not ended by a check from now on
    await this.session.release(this);
    this.resolveLost();
  }
}
