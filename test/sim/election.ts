/**
 * The coordinator election under faults (PostgreSQL mode; defect 5 of issue
 * 8): the server coordinators campaign with the real `tryLock`, the lock's
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
 *   `lock-connections`, see {@link SimDatabase.poolViolations}.
 */
import type { Fence, StepCommit, StoreLock } from '../../src/store/port.js';
import type { Kind } from './options.js';
import type { SimDatabase } from './postgres.js';
import type { Random } from './random.js';
import type { Scheduler, SimProcess } from './scheduler.js';

/** History entries that only a signal (a task's or a rollback's outcome reported by a worker) produces. */
const SIGNAL_OUTCOMES = new Set(['node.succeeded', 'node.failed', 'node.retrying', 'rollback.succeeded', 'rollback.failed']);

/** What a process's store view tells the watch. */
export interface StoreWatch {
  /** A lock was taken: returns the lock the coordinator gets (the same, watched). */
  elected(process: SimProcess, lock: StoreLock): StoreLock;
  /** A commit ended: `applied` (written: returned, or applied then failed as an ambiguous fault), `refused` (`TW_FENCED`) or `failed`. */
  committed(process: SimProcess, commits: StepCommit[], fence: Fence | undefined, outcome: 'applied' | 'refused' | 'failed'): void;
  /** The outbox is claimed (at the call, before any simulated time passes). */
  claiming(process: SimProcess): void;
}

/** An election or an applied fenced commit, in the order the database ran them. */
interface Event {
  process: string;
  epoch: number;
  order: number;
  at: number;
}

/** Records of the election, and the `one-leader` checks. */
export class LeaderWatch implements StoreWatch {
  private order = 0;
  private readonly elections: Event[] = [];
  private readonly commits: Event[] = [];
  private readonly held = new Map<SimProcess, StoreLock>();
  private readonly violations: string[] = [];
  /** The epoch of each process's latest commit refused `TW_FENCED`. */
  private readonly deposed = new Map<SimProcess, number>();
  /** Processes already reported for committing again with a refused epoch. */
  private readonly repeated = new Set<SimProcess>();
  /** Commits refused `TW_FENCED`. */
  private refused = 0;

  private readonly t0: number;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly log: (line: string) => void,
  ) {
    this.t0 = scheduler.now;
  }

  elected(process: SimProcess, lock: StoreLock): StoreLock {
    this.elections.push({ process: process.name, epoch: lock.fence.epoch, order: ++this.order, at: this.scheduler.now });
    this.held.set(process, lock);
    this.log(`${process.name} takes the coordinator lock (epoch ${lock.fence.epoch})`);
    const drop = (): void => {
      if (this.held.get(process) === lock) this.held.delete(process);
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
    if (fence !== undefined && this.deposed.get(process) === fence.epoch && !this.repeated.has(process)) {
      this.repeated.add(process);
      this.violations.push(`one-leader: ${process.name} committed with epoch ${fence.epoch} again after a commit with it was refused TW_FENCED (it did not stand down)`);
    }
    if (outcome === 'refused') {
      this.refused++;
      if (fence !== undefined) this.deposed.set(process, fence.epoch);
      this.log(`${process.name}: commit refused TW_FENCED (epoch ${fence?.epoch})`);
      return;
    }
    if (outcome !== 'applied') return;
    if (fence !== undefined) {
      this.commits.push({ process: process.name, epoch: fence.epoch, order: ++this.order, at: this.scheduler.now });
      return;
    }
    const outcomes = commits.flatMap((c) => c.history.filter((e) => SIGNAL_OUTCOMES.has(e.type)).map((e) => `${c.run.id}: ${e.type} ${e.node ?? ''}`));
    if (outcomes.length > 0) this.violations.push(`one-leader: ${process.name} stepped a signal as a standby (an unfenced commit records ${outcomes.join(', ')})`);
  }

  claiming(process: SimProcess): void {
    if (!this.held.has(process)) this.violations.push(`one-leader: ${process.name} claimed outbox items as a standby (it holds no lock) at ${this.scheduler.now - this.t0} ms`);
  }

  /** A process died: its sessions, and its lock with them, are gone. */
  crashed(process: SimProcess): void {
    this.held.delete(process);
  }

  /**
   * The `one-leader` violations: standbys that acted, commits of a deposed
   * coordinator after its successor's election, and, once the world is quiet,
   * a coordinator that still believes it leads while `holder` (the session
   * the server says holds the lock) is another's.
   */
  check(holder: SimProcess | undefined): string[] {
    const t0 = this.t0;
    const found = [...this.violations];
    for (const [process, lock] of this.held) {
      if (process !== holder) found.push(`one-leader: ${process.name} still believes it is the active coordinator (epoch ${lock.fence.epoch}) once quiet, but ${holder?.name ?? 'nobody'} holds the lock: a lost lock went unnoticed`);
    }
    for (const commit of this.commits) {
      const successor = this.elections.find((e) => e.epoch > commit.epoch && e.order < commit.order);
      if (successor !== undefined) {
        found.push(
          `one-leader: ${commit.process} committed with epoch ${commit.epoch} at ${commit.at - t0} ms, after ${successor.process} was elected with epoch ${successor.epoch} at ${successor.at - t0} ms (a deposed coordinator wrote)`,
        );
      }
    }
    return found;
  }

  /** Counts for the summary. */
  get stats(): { elections: number; refused: number } {
    return { elections: this.elections.length, refused: this.refused };
  }
}

/**
 * Plans the lock faults of the fault window (`lose-lock`, `half-open-lock`,
 * those not skipped): every 0.5-2.5 s, the lock's holder loses its session at
 * once, or its connection goes silent and the server drops the session
 * 0-4 s later (its keepalive), while the holder's own checks time out after
 * `lockCheckTimeoutMs`.
 */
export function planLockFaults(world: { scheduler: Scheduler; random: Random; db: SimDatabase; skip: ReadonlySet<Kind>; windowMs: number; log(line: string): void }): void {
  const { scheduler, random, db, log } = world;
  // The database failing the fault itself (not a simulated failure) shows in the trace; the seed goes on.
  const failed = (error: unknown): void => log(`lock fault failed: ${error instanceof Error ? error.message : String(error)}`);
  const kinds = (['lose-lock', 'half-open-lock'] as const).filter((kind) => !world.skip.has(kind));
  if (kinds.length === 0) return;
  for (let at = random.int(500, 2500); at < world.windowMs; at += random.int(500, 2500)) {
    const kind = random.pick(kinds);
    const keepaliveMs = random.int(0, 4000);
    scheduler.after(at, () => {
      const fault = async (): Promise<void> => {
        const holder = await db.lockHolder();
        if (holder === undefined || holder.silenced) return;
        const owner = db.ownerOf(holder)?.name ?? 'a dead process';
        if (kind === 'lose-lock') {
          log(`${owner}: its lock's session is terminated (lose-lock)`);
          await db.terminate(holder);
          return;
        }
        log(`${owner}: its lock's connection goes silent (half-open-lock); the server drops it in ${keepaliveMs} ms`);
        holder.silenced = true;
        scheduler.after(keepaliveMs, () => {
          log(`${owner}: the server drops the silent lock session (keepalive)`);
          db.terminate(holder).catch(failed);
        });
      };
      fault().catch(failed);
    });
  }
}
