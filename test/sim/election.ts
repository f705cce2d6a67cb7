/**
 * The coordinator elections under faults (PostgreSQL mode, defect 5 of issue
 * 8; and any store with several shards, issue 11: one election per shard,
 * each lock with its own epochs, see `shards.ts`): the server coordinators
 * campaign with the store's `tryLock` (PostgreSQL's, or `SimLocks`), a lock's
 * session is ended (`lose-lock`) or its connection goes silent
 * (`half-open-lock`: its checks time out; the server drops the session later,
 * so that a successor may be elected before the holder notices), and
 * {@link LeaderWatch} records elections, fenced commits and outbox claims to
 * check that
 *
 * - a deposed coordinator commits nothing once its successor is elected (its
 *   commits are refused `TW_FENCED`), and stands down at the first refusal:
 *   `one-leader`;
 * - a standby steps no signal and leaves the outbox alone: `one-leader`;
 * - a lost lock gives its connection back (the pool never runs dry):
 *   `lock-connections`, see {@link SimDatabase.poolViolations};
 * - every shard has a live owner once the world is quiet: `shard-owned`.
 */
import type { Fence, StepCommit, StoreLock } from '../../src/store/port.js';
import type { Kind } from './options.js';
import { LOCK_CHECK, type SimDatabase } from './postgres.js';
import type { Random } from './random.js';
import type { Scheduler, SimProcess } from './scheduler.js';
import { shardLockName, type SimLocks } from './shards.js';

/** History entries that only a signal (a task's or a rollback's outcome reported by a worker) produces. */
const SIGNAL_OUTCOMES = new Set(['node.succeeded', 'node.failed', 'node.retrying', 'rollback.succeeded', 'rollback.failed']);

/** What a process's store view tells the watch. */
export interface StoreWatch {
  /** A lock was taken: returns the lock the coordinator gets (the same, watched). */
  elected(process: SimProcess, lock: StoreLock): StoreLock;
  /** A commit ended: `applied` (written: returned, or applied then failed as an ambiguous fault), `refused` (`TW_FENCED`) or `failed`. */
  committed(process: SimProcess, commits: StepCommit[], fence: Fence | undefined, outcome: 'applied' | 'refused' | 'failed'): void;
  /** The outbox is claimed, of `shards` (undefined: every shard), at the call, before any simulated time passes. */
  claiming(process: SimProcess, shards?: readonly number[]): void;
}

/** An election or an applied fenced commit, in the order the database ran them. */
interface Event {
  process: string;
  /** The lock (the shard's election). */
  name: string;
  epoch: number;
  order: number;
  at: number;
}

/**
 * Records of the elections (one per shard: each shard's lock has its own
 * epochs), and the `one-leader` and `shard-owned` checks.
 */
export class LeaderWatch implements StoreWatch {
  private order = 0;
  private readonly elections: Event[] = [];
  private readonly commits: Event[] = [];
  /** The locks each process believes it holds, by name. */
  private readonly held = new Map<SimProcess, Map<string, StoreLock>>();
  private readonly violations: string[] = [];
  /** The epoch of each process's latest commit refused `TW_FENCED`, by lock name. */
  private readonly deposed = new Map<SimProcess, Map<string, number>>();
  /** Processes and locks already reported for committing again with a refused epoch. */
  private readonly repeated = new Set<string>();
  /** Commits refused `TW_FENCED`. */
  private refused = 0;

  private readonly t0: number;

  /** `shards`: the world's shard count (the lock names of its shards, see {@link shardLockName}). */
  constructor(
    private readonly scheduler: Scheduler,
    private readonly log: (line: string) => void,
    private readonly shards: number,
  ) {
    this.t0 = scheduler.now;
  }

  /** The names of the shards' locks. */
  get lockNames(): string[] {
    return Array.from({ length: this.shards }, (_, shard) => shardLockName(this.shards, shard));
  }

  elected(process: SimProcess, lock: StoreLock): StoreLock {
    const { name, epoch } = lock.fence;
    this.elections.push({ process: process.name, name, epoch, order: ++this.order, at: this.scheduler.now });
    const holds = this.held.get(process) ?? new Map<string, StoreLock>();
    holds.set(name, lock);
    this.held.set(process, holds);
    this.log(`${process.name} takes the coordinator lock${this.shards === 1 ? '' : ` ${name}`} (epoch ${epoch})`);
    const drop = (): void => {
      if (holds.get(name) === lock) holds.delete(name);
    };
    void lock.lost.then(drop);
    return {
      fence: lock.fence,
      lost: lock.lost,
      release: () => {
        drop();
        return lock.release();
      },
    };
  }

  committed(process: SimProcess, commits: StepCommit[], fence: Fence | undefined, outcome: 'applied' | 'refused' | 'failed'): void {
    const key = `${process.name} ${fence?.name}`;
    if (fence !== undefined && this.deposed.get(process)?.get(fence.name) === fence.epoch && !this.repeated.has(key)) {
      this.repeated.add(key);
      this.violations.push(`one-leader: ${process.name} committed with epoch ${fence.epoch}${this.of(fence.name)} again after a commit with it was refused TW_FENCED (it did not stand down)`);
    }
    if (outcome === 'refused') {
      this.refused++;
      if (fence !== undefined) this.deposed.set(process, (this.deposed.get(process) ?? new Map<string, number>()).set(fence.name, fence.epoch));
      this.log(`${process.name}: commit refused TW_FENCED (epoch ${fence?.epoch})`);
      return;
    }
    if (outcome !== 'applied') return;
    if (fence !== undefined) {
      this.commits.push({ process: process.name, name: fence.name, epoch: fence.epoch, order: ++this.order, at: this.scheduler.now });
      return;
    }
    const outcomes = commits.flatMap((c) => c.history.filter((e) => SIGNAL_OUTCOMES.has(e.type)).map((e) => `${c.run.id}: ${e.type} ${e.node ?? ''}`));
    if (outcomes.length > 0) this.violations.push(`one-leader: ${process.name} stepped a signal as a standby (an unfenced commit records ${outcomes.join(', ')})`);
  }

  claiming(process: SimProcess, shards?: readonly number[]): void {
    const holds = this.held.get(process);
    const at = this.scheduler.now - this.t0;
    if (holds === undefined || holds.size === 0) {
      this.violations.push(`one-leader: ${process.name} claimed outbox items as a standby (it holds no lock) at ${at} ms`);
      return;
    }
    const unheld = (shards ?? []).filter((shard) => !holds.has(shardLockName(this.shards, shard)));
    if (unheld.length > 0) this.violations.push(`one-leader: ${process.name} claimed outbox items of shard(s) ${unheld.join(', ')} whose lock it does not hold at ${at} ms`);
  }

  /** ` of <lock>` when the world has several shards (the trace and the messages of one shard stay as they were). */
  private of(name: string): string {
    return this.shards === 1 ? '' : ` of ${name}`;
  }

  /** A process died: its sessions, and its lock with them, are gone. */
  crashed(process: SimProcess): void {
    this.held.delete(process);
  }

  /**
   * The `one-leader` violations, per shard: standbys that acted, commits of a
   * deposed coordinator after its successor's election, and, once the world is
   * quiet, a coordinator that still believes it owns a shard while `holders`
   * (the process whose session the server says holds each lock) says another.
   */
  check(holders: ReadonlyMap<string, SimProcess | undefined>): string[] {
    const t0 = this.t0;
    const found = [...this.violations];
    for (const [process, holds] of this.held) {
      for (const [name, lock] of holds) {
        const holder = holders.get(name);
        const believes = this.shards === 1 ? 'is the active coordinator' : `owns ${name}`;
        if (process !== holder) found.push(`one-leader: ${process.name} still believes it ${believes} (epoch ${lock.fence.epoch}) once quiet, but ${holder?.name ?? 'nobody'} holds the lock: a lost lock went unnoticed`);
      }
    }
    // An epoch is won once: two winners of one epoch of a shard would both have their commits accepted.
    const winners = new Map<string, Event>();
    for (const election of this.elections) {
      const key = `${election.name} ${election.epoch}`;
      const first = winners.get(key);
      if (first === undefined) winners.set(key, election);
      else found.push(`one-leader: ${first.process} and ${election.process} both won epoch ${election.epoch}${this.of(election.name)} (at ${first.at - t0} and ${election.at - t0} ms)`);
    }
    for (const commit of this.commits) {
      const successor = this.elections.find((e) => e.name === commit.name && e.epoch > commit.epoch && e.order < commit.order);
      if (successor !== undefined) {
        found.push(
          `one-leader: ${commit.process} committed with epoch ${commit.epoch}${this.of(commit.name)} at ${commit.at - t0} ms, after ${successor.process} was elected with epoch ${successor.epoch} at ${successor.at - t0} ms (a deposed coordinator wrote)`,
        );
      }
    }
    return found;
  }

  /**
   * `shard-owned`: the shards that no live process owns once the world is
   * quiet (the server's holder of its lock, `holders`, is dead, or nobody, or
   * does not believe it holds it, or does not consume the shard's signal
   * queue: `consumes`), `sinceMs` after the last start or end of a process,
   * the end of the faults and the store's return.
   */
  unowned(holders: ReadonlyMap<string, SimProcess | undefined>, consumes: (process: SimProcess, shard: number) => boolean, sinceMs: number): string[] {
    return this.lockNames.flatMap((name, shard) => {
      const holder = holders.get(name);
      const believes = holder?.alive === true && this.held.get(holder)?.has(name) === true;
      if (holder !== undefined && believes && consumes(holder, shard)) return [];
      const who =
        holder === undefined ? 'nobody holds its lock' : !holder.alive ? `${holder.name} holds its lock but is dead` : believes ? `${holder.name} holds it but does not consume its signal queue` : `${holder.name} holds its lock without knowing it`;
      return [`shard-owned: shard ${shard} has no live owner ${sinceMs} ms after the last process started or ended, the faults stopped and the store came back (${who})`];
    });
  }

  /** Counts for the summary. */
  get stats(): { elections: number; refused: number } {
    return { elections: this.elections.length, refused: this.refused };
  }
}

/** How a lock fault reaches the session holding a lock (PostgreSQL's, or {@link SimLocks}). */
export interface LockFaults {
  /** `lose-lock`: the session holding `name` ends now; its holder is told at once. */
  lose(name: string): Promise<void>;
  /** `half-open-lock`: the connection of the session holding `name` goes silent; the server drops the session after `keepaliveMs`. */
  silence(name: string, keepaliveMs: number): Promise<void>;
}

/**
 * Plans the lock faults of the fault window (`lose-lock`, `half-open-lock`,
 * those not skipped): every 0.5-2.5 s, the holder of a shard's lock (the only
 * one's with one shard) loses its session at once, or its connection goes
 * silent and the server drops the session 0-4 s later (its keepalive), while
 * the holder's own checks time out after `lockCheckTimeoutMs`. A process's
 * locks share its session: every shard it holds goes with it.
 */
export function planLockFaults(world: { scheduler: Scheduler; random: Random; faults: LockFaults; shards: number; skip: ReadonlySet<Kind>; windowMs: number; log(line: string): void }): void {
  const { scheduler, random, faults, shards, log } = world;
  // The database failing the fault itself (not a simulated failure) shows in the trace; the seed goes on.
  const failed = (error: unknown): void => log(`lock fault failed: ${error instanceof Error ? error.message : String(error)}`);
  const kinds = (['lose-lock', 'half-open-lock'] as const).filter((kind) => !world.skip.has(kind));
  if (kinds.length === 0) return;
  for (let at = random.int(500, 2500); at < world.windowMs; at += random.int(500, 2500)) {
    const kind = random.pick(kinds);
    const keepaliveMs = random.int(0, 4000);
    // Drawn only with several shards, so that the seeds of one shard keep their draws.
    const name = shardLockName(shards, shards === 1 ? 0 : random.int(0, shards - 1));
    scheduler.after(at, () => {
      (kind === 'lose-lock' ? faults.lose(name) : faults.silence(name, keepaliveMs)).catch(failed);
    });
  }
}

/** The lock faults on the seed's PostgreSQL: the holder's session found in `pg_locks` (as an operator would), ended or silenced. */
export function postgresLockFaults(db: SimDatabase, scheduler: Scheduler, log: (line: string) => void): LockFaults {
  const failed = (error: unknown): void => log(`lock fault failed: ${error instanceof Error ? error.message : String(error)}`);
  return {
    lose: async (name) => {
      const holder = await db.lockHolder(name);
      if (holder === undefined || holder.silenced) return;
      log(`${db.ownerOf(holder)?.name ?? 'a dead process'}: its lock's session is terminated (lose-lock)`);
      await db.terminate(holder);
    },
    silence: async (name, keepaliveMs) => {
      const holder = await db.lockHolder(name);
      if (holder === undefined || holder.silenced) return;
      const owner = db.ownerOf(holder)?.name ?? 'a dead process';
      log(`${owner}: its lock's connection goes silent (half-open-lock); the server drops it in ${keepaliveMs} ms`);
      holder.silenced = true;
      scheduler.after(keepaliveMs, () => {
        log(`${owner}: the server drops the silent lock session (keepalive)`);
        db.terminate(holder).catch(failed);
      });
    },
  };
}

/**
 * The lock faults on {@link SimLocks}: `lose-lock` frees the holder's locks and
 * tells it at once; `half-open-lock` frees them after the keepalive, and the
 * holder notices when its lock check times out (after a check interval and a
 * check timeout, the latest a check started on the silent connection fails).
 */
export function simLockFaults(locks: SimLocks, log: (line: string) => void): LockFaults {
  return {
    lose: async (name) => {
      const holder = locks.holderOf(name);
      if (holder === undefined) return;
      log(`${holder.name}: its lock's session is terminated (lose-lock)`);
      locks.sever(holder, 0, 0);
    },
    silence: async (name, keepaliveMs) => {
      const holder = locks.holderOf(name);
      if (holder === undefined) return;
      log(`${holder.name}: its lock's connection goes silent (half-open-lock); the server drops it in ${keepaliveMs} ms`);
      locks.sever(holder, keepaliveMs, LOCK_CHECK.intervalMs + LOCK_CHECK.timeoutMs);
    },
  };
}
