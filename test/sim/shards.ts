/**
 * Shards in the simulated world (issue 11): a seed draws its shard count S
 * ({@link drawShards}); the bus then has one signal queue per shard
 * (`transport.ts`), and every server coordinator holds a `ShardSet`: it
 * heartbeats its membership ({@link Membership}, on the simulated clock) and
 * takes one lock per shard, each with its own leader epoch.
 *
 * PostgreSQL has the locks and epochs (migrated with S shards). The memory and
 * SQLite stores, which have neither, get them from {@link SimLocks} when S > 1
 * (with S = 1 they keep the world of earlier seeds: no lock, every coordinator
 * takes the one signal queue), and {@link ShardedOutbox} claims their outbox
 * by shard.
 */
import { FencedError } from '../../src/errors.js';
import { shardOf } from '../../src/model/shard.js';
import type { Fence, OutboxItem, Store, StoreLock } from '../../src/store/port.js';
import type { Random } from './random.js';
import type { Scheduler, SimProcess } from './scheduler.js';

/** The shard counts a seed draws from, besides 1 (see {@link drawShards}). */
const SHARD_COUNTS = [2, 4, 8] as const;
/** The share of seeds with more than one shard. */
const SHARDED_SHARE = 0.5;

/**
 * The seed's shard count: 1 in half of the seeds, else 2, 4 or 8. `random`
 * is a stream forked after every other, so that no other draw of a seed
 * changes; `forced` (`--shards`) overrides the draw (still made).
 */
export function drawShards(random: Random, forced?: number): number {
  const drawn = random.chance(SHARDED_SHARE) ? random.pick(SHARD_COUNTS) : 1;
  return forced ?? drawn;
}

/** The name of shard `shard`'s lock, as the coordinator names it (its default `leaderKey`). */
export function shardLockName(shards: number, shard: number): string {
  return shards === 1 ? 'coordinator:default' : `coordinator:default:shard:${shard}`;
}

/**
 * The coordinators' membership table (the store's `heartbeat` and `leave`),
 * judged by the database's clock: simulated time. (The PostgreSQL store's own
 * table is judged by the server's real clock, which would make a seed's
 * ownership depend on how long the server took: the simulator keeps it here.)
 */
export class Membership {
  private readonly expiries = new Map<string, number>();

  constructor(private readonly scheduler: Scheduler) {}

  /** Renews `member` for `ttlMs`; the members alive, in code unit order. */
  heartbeat(member: string, ttlMs: number): string[] {
    const now = this.scheduler.now;
    this.expiries.set(member, now + ttlMs);
    return [...this.expiries]
      .filter(([, until]) => until > now)
      .map(([alive]) => alive)
      .sort();
  }

  /** Removes `member` at once. */
  leave(member: string): void {
    this.expiries.delete(member);
  }
}

/** A lock held in {@link SimLocks}: its holder and epoch, and how its holder is told it is lost. */
interface Held {
  process: SimProcess;
  epoch: number;
  lose(): void;
}

/**
 * Locks with per-name leader epochs for the stores that have none (memory,
 * SQLite), as PostgreSQL's advisory locks and epoch rows: a win increments the
 * name's epoch; a commit carrying an older epoch is refused `TW_FENCED`. A
 * process's locks share one session: a crash ends them at once; the faults
 * end them at once (`lose-lock`, the holder told at once) or later
 * (`half-open-lock`: the server drops the session after its keepalive, the
 * holder notices when its check times out).
 */
export class SimLocks {
  private readonly epochs = new Map<string, number>();
  private readonly held = new Map<string, Held>();

  constructor(private readonly scheduler: Scheduler) {}

  /** Takes `name` for `process`, or undefined when another holds it. */
  tryLock(process: SimProcess, name: string): StoreLock | undefined {
    if (this.held.has(name)) return undefined;
    const epoch = (this.epochs.get(name) ?? 0) + 1;
    this.epochs.set(name, epoch);
    let lose!: () => void;
    const lost = new Promise<void>((resolve) => (lose = resolve));
    const entry: Held = { process, epoch, lose };
    this.held.set(name, entry);
    return {
      fence: { name, epoch },
      lost,
      release: async () => {
        if (this.held.get(name) === entry) this.held.delete(name);
        lose();
      },
    };
  }

  /** Throws `TW_FENCED` when `fence`'s lock was won again since (atomic with the commit that follows). */
  check(fence: Fence | undefined): void {
    if (fence === undefined) return;
    const current = this.epochs.get(fence.name);
    if (current !== undefined && current > fence.epoch) throw new FencedError(fence.name, fence.epoch, current);
  }

  /** The process holding `name` now, if any. */
  holderOf(name: string): SimProcess | undefined {
    return this.held.get(name)?.process;
  }

  /** `process` died: its session, and its locks with it, are gone (nobody is told: the holder is dead). */
  crashed(process: SimProcess): void {
    for (const [name, entry] of this.held) if (entry.process === process) this.held.delete(name);
  }

  /**
   * The session of `process` ends: its locks are free after `freeAfterMs`,
   * and its coordinator is told they are lost after `noticeAfterMs` (0 and 0:
   * `lose-lock`; a keepalive and the lock check's timeout: `half-open-lock`).
   */
  sever(process: SimProcess, freeAfterMs: number, noticeAfterMs: number): void {
    const entries = [...this.held].filter(([, entry]) => entry.process === process);
    const free = (): void => {
      for (const [name, entry] of entries) if (this.held.get(name) === entry) this.held.delete(name);
    };
    const notice = (): void => {
      for (const [, entry] of entries) if (process.alive) entry.lose();
    };
    if (freeAfterMs === 0) free();
    else this.scheduler.after(freeAfterMs, free);
    if (noticeAfterMs === 0) notice();
    else this.scheduler.after(noticeAfterMs, notice);
  }
}

/**
 * Claims of the outbox by shard for a store that holds one shard (memory,
 * SQLite) in a world of S: the claims are kept here (an item claimed is
 * skipped until its claim ends), over the store's `dueOutbox`.
 */
export class ShardedOutbox {
  private readonly claimedUntil = new Map<string, number>();

  constructor(private readonly shards: number) {}

  /** As `Store.claimOutbox`: the due items of `shards` (undefined: every shard) not claimed at `now`, claimed until `now + claimMs`. */
  async claim(inner: Store, now: number, limit: number, claimMs: number, shards?: readonly number[]): Promise<OutboxItem[]> {
    if (shards?.length === 0) return [];
    const due = await inner.dueOutbox(now, Number.MAX_SAFE_INTEGER);
    const claimed = due.filter((item) => (this.claimedUntil.get(item.id) ?? -Infinity) <= now && (shards === undefined || shards.includes(shardOf(item.runId, this.shards)))).slice(0, limit);
    for (const item of claimed) this.claimedUntil.set(item.id, now + claimMs);
    return claimed;
  }
}
