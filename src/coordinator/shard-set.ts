/**
 * The shards a coordinator process owns. Every process that runs a coordinator
 * is a member: it heartbeats its membership every second, computes the shards
 * it should own from the alive members by rendezvous hashing
 * ({@link desiredShards}), gives up the shards it holds but no longer should (a
 * member joined) and tries the locks of the shards it should own but does not
 * hold yet (their previous owner may keep them one more tick: tried again at
 * the next).
 *
 * Each shard has its own lock and, with it, its own leader epoch (a fencing
 * token, see `StoreLock.fence`) that every commit of the shard carries: an
 * owner that lost a shard's lock without noticing yet (a half-open connection,
 * a long pause) cannot commit for that shard once a successor won it.
 *
 * The membership only says who should own what; the locks say who does. A
 * process whose heartbeat fails keeps what it holds, and a process that should
 * own a shard takes it only once its lock is free.
 *
 * @packageDocumentation
 */
import type { Logger } from '../observability/logger.js';
import type { Fence, StoreLock } from '../store/port.js';
import { StoreError } from '../errors.js';
import { withTimeout } from './bounded-publish.js';
import type { Clock } from './clock.js';
import { desiredShards } from './rendezvous.js';

/** A heartbeat not answered within this many intervals fails (the membership has expired by then). */
const HEARTBEAT_TIMEOUT_INTERVALS = 3;

/** Default of {@link ShardSetOptions.parallel}. */
const DEFAULT_PARALLEL = 4;

/** What a {@link ShardSet} needs. */
export interface ShardSetOptions {
  /** The deployment's number of shards (shards are `0..shardCount-1`). */
  shardCount: number;
  /** This process's member id, unique per process (e.g. `${host}:${pid}:${random}`). */
  member: string;
  /**
   * Renews this process's membership and returns the ids of the alive members
   * (the store's `heartbeat(member, ttlMs)`, bound). Called every
   * {@link ShardSetOptions.intervalMs}.
   */
  heartbeat(): Promise<string[]>;
  /** Ends this process's membership (the store's `leave(member)`, bound); called by {@link ShardSet.close}. */
  leave(): Promise<void>;
  /** Tries to take a lock (the store's `tryLock`, bound); undefined when another holds it. */
  tryLock(name: string): Promise<StoreLock | undefined>;
  /** The lock's name of a shard (`coordinator:<key>:shard:<s>`). */
  lockName(shard: number): string;
  /** How often to heartbeat and reconsider the shards, in milliseconds (1000). */
  intervalMs: number;
  /** Timers. */
  clock: Clock;
  /** For gains and losses. */
  logger: Logger;
  /**
   * Called once a shard's lock is won, with the epoch of the win: start
   * stepping the shard. A throw gives the shard up ({@link ShardSetOptions.onLost}
   * is called to undo what was started, the lock released); it is tried again at
   * a later tick.
   */
  onGained(shard: number, fence: Fence): Promise<void>;
  /**
   * Called when a gained shard is given up: handed over to a new owner, its
   * lock lost, {@link ShardSet.deposed}, or closing. Stop stepping the shard;
   * its lock is released once this returns.
   */
  onLost(shard: number): Promise<void>;
  /**
   * At most this many lock attempts at once.
   * @default 4
   */
  parallel?: number;
}

/** A shard whose lock this process holds. */
interface Held {
  lock: StoreLock;
  /** Being given up: no longer owned, {@link ShardSetOptions.onLost} queued or running. */
  leaving: boolean;
}

/**
 * Holds a process's shards (see the module's description). Per shard, gains
 * and losses run one at a time, and a gain is always followed by a loss before
 * the next gain.
 */
export class ShardSet {
  private readonly held = new Map<number, Held>();
  /** The shards to own, from the last heartbeat. */
  private desired = new Set<number>();
  /** Per shard, the tail of its gains and losses (present while some run). */
  private readonly chains = new Map<number, Promise<void>>();
  private timer: unknown;
  private ticking: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private closed = false;
  /** Lock attempts that may start now, and the attempts waiting for one to end. */
  private slots: number;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly options: ShardSetOptions) {
    this.slots = options.parallel ?? DEFAULT_PARALLEL;
  }

  /** Starts heartbeating and taking shards (a first tick now, in the background). */
  start(): void {
    this.tick();
  }

  /** The epoch of this process's win of `shard`, while it owns the shard (from the win, during `onGained` too). */
  fenceOf(shard: number): Fence | undefined {
    const held = this.held.get(shard);
    return held === undefined || held.leaving ? undefined : held.lock.fence;
  }

  /** The shards this process owns, ascending. */
  owned(): readonly number[] {
    return [...this.held].filter(([, held]) => !held.leaving).map(([shard]) => shard).sort((a, b) => a - b);
  }

  /**
   * The store refused a commit of `shard` (code `TW_FENCED`): another process
   * won the shard. Gives it up as on a lost lock. With `fence` (the refused
   * commit's), only if the shard is still held with that epoch: a refusal that
   * comes after the shard was won again is stale.
   */
  deposed(shard: number, fence?: Fence): void {
    const held = this.held.get(shard);
    if (held === undefined || (fence !== undefined && fence.epoch !== held.lock.fence.epoch)) return;
    void this.drop(shard, held.lock, 'another coordinator owns the shard (commit refused): giving it up', 'warn');
  }

  /** Stops ticking, gives up every shard (`onLost`, then the lock released) and leaves the membership. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
      this.timer = undefined;
      // A heartbeat in flight ends first: leaving before it would let it add the membership back.
      await this.ticking;
      await Promise.all([...this.held].map(([shard, held]) => this.drop(shard, held.lock, 'closing: giving the shard up', 'info')));
      // Lock attempts in flight give back what they win (closed).
      await Promise.all(this.chains.values());
      try {
        await this.options.leave();
      } catch (error) {
        this.options.logger.warn({ error: (error as Error).message }, 'could not leave the coordinator membership (it expires)');
      }
    })();
    return this.closing;
  }

  private tick(): void {
    this.timer = undefined;
    if (this.closed) return;
    this.ticking = this.beat().finally(() => {
      this.ticking = undefined;
      if (this.closed) return;
      this.timer = this.options.clock.setTimeout(() => this.tick(), this.options.intervalMs);
      (this.timer as { unref?: () => void }).unref?.();
    });
  }

  /** One heartbeat: gives up the shards no longer desired, tries the desired ones not held. */
  private async beat(): Promise<void> {
    const { member, shardCount, logger } = this.options;
    let members: string[];
    try {
      // Bounded: a heartbeat that never answers (a silent connection) must not stop the ticks for good.
      const timeoutMs = this.options.intervalMs * HEARTBEAT_TIMEOUT_INTERVALS;
      members = await withTimeout(this.options.heartbeat(), timeoutMs, 'coordinator heartbeat', this.options.clock, () => new StoreError(`coordinator heartbeat not answered within ${timeoutMs} ms`));
    } catch (error) {
      logger.warn({ error: (error as Error).message, shards: this.owned() }, 'coordinator heartbeat failed: keeping the shards held (their locks decide)');
      return;
    }
    if (this.closed) return;
    this.desired = new Set(desiredShards(member, members, shardCount));
    // A shard with a gain or loss running is reconsidered at a later tick.
    for (const [shard, held] of this.held) {
      if (!this.desired.has(shard) && !this.chains.has(shard)) void this.drop(shard, held.lock, 'handing the shard over to a new member', 'info');
    }
    for (const shard of this.desired) {
      if (!this.held.has(shard) && !this.chains.has(shard)) void this.serial(shard, () => this.gain(shard));
    }
  }

  /** Tries `shard`'s lock; once won, `onGained`. */
  private async gain(shard: number): Promise<void> {
    const { logger } = this.options;
    let lock: StoreLock | undefined;
    try {
      lock = await this.limited(() => this.options.tryLock(this.options.lockName(shard)));
    } catch (error) {
      logger.warn({ shard, error: (error as Error).message }, 'could not try the shard lock; trying again');
      return;
    }
    if (lock === undefined) return;
    if (this.closed || !this.desired.has(shard) || this.held.has(shard)) {
      await lock.release().catch(() => undefined);
      return;
    }
    this.held.set(shard, { lock, leaving: false });
    try {
      await this.options.onGained(shard, lock.fence);
    } catch (error) {
      logger.warn({ shard, epoch: lock.fence.epoch, error: (error as Error).message }, 'could not take the shard; giving it up until a later tick');
      await this.stop(shard, lock);
      return;
    }
    // Given up while starting (deposed): its loss is queued, and it is not logged as gained.
    if (this.held.get(shard)?.leaving === false) logger.info({ shard, epoch: lock.fence.epoch }, 'shard gained: stepping its runs');
    const won = lock;
    void won.lost.then(() => this.drop(shard, won, 'lost the shard lock: giving the shard up', 'warn'));
  }

  /** Gives `shard` up, if still held with `lock`: no longer owned at once, `onLost` and the release in turn. */
  private drop(shard: number, lock: StoreLock, reason: string, level: 'info' | 'warn'): Promise<void> {
    const held = this.held.get(shard);
    if (held?.lock !== lock || held.leaving) return Promise.resolve();
    held.leaving = true;
    this.options.logger[level]({ shard, epoch: lock.fence.epoch }, reason);
    return this.serial(shard, () => this.stop(shard, lock));
  }

  /** `onLost`, then the lock released (whatever it still holds). */
  private async stop(shard: number, lock: StoreLock): Promise<void> {
    const held = this.held.get(shard);
    if (held?.lock !== lock) return;
    held.leaving = true;
    try {
      await this.options.onLost(shard);
    } catch (error) {
      this.options.logger.warn({ shard, error: (error as Error).message }, 'stopping the shard failed; releasing its lock');
    }
    this.held.delete(shard);
    await lock.release().catch(() => undefined);
  }

  /** Runs `work` after the shard's gains and losses before it; never rejects. */
  private serial(shard: number, work: () => Promise<void>): Promise<void> {
    const tail = (this.chains.get(shard) ?? Promise.resolve()).then(work).catch((error: unknown) => {
      this.options.logger.error({ shard, error: (error as Error).message }, 'shard gain or loss failed');
    });
    this.chains.set(shard, tail);
    void tail.then(() => {
      if (this.chains.get(shard) === tail) this.chains.delete(shard);
    });
    return tail;
  }

  /** Runs `attempt` once fewer than `parallel` attempts run. */
  private async limited<T>(attempt: () => Promise<T>): Promise<T> {
    while (this.slots === 0) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.slots--;
    try {
      return await attempt();
    } finally {
      this.slots++;
      this.waiting.shift()?.();
    }
  }
}
