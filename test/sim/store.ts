/**
 * A process's view of the store (the real memory or SQLite adapter, which
 * outlives the processes as a database does): every call takes simulated
 * time, may fail before doing anything, and a commit may be applied and then
 * throw (an ambiguous outcome). A crashed process's calls never return, even
 * when the store has done the work. A shared database (distributed mode, as
 * PostgreSQL) has its own clock, `Store.clock`: the simulated time, which no
 * process's skewed clock shows. Commits and claims are reported to the
 * {@link Watch}. With shards (`shards.ts`), the views expose the world's shard
 * count and the coordinators' membership, and give a store without locks the
 * simulated locks (fencing its commits) and outbox claims by shard.
 */
import type { Gates } from '../../src/store/gates.js';
import { StoreError } from '../../src/errors.js';
import type { CommitResult, EventListener, Fence, OutboxItem, Page, PruneFilter, RunFilter, RunSummary, ScheduleRow, StepCommit, Store, StoreLock, TaskInfo, WorkerBeat, WorkerFilter } from '../../src/store/port.js';
import type { HistoryEntry } from '../../src/engine/events.js';
import type { ActivationState, RunState, RunStatus } from '../../src/engine/state.js';
import type { StoreWatch } from './election.js';
import type { Random } from './random.js';
import type { RealIO } from './real-io.js';
import type { Watch } from './resources.js';
import type { Scheduler, SimProcess } from './scheduler.js';
import type { Membership, ShardedOutbox, SimLocks } from './shards.js';

/** Fault rates of the store (0 turns a fault off). */
export interface StoreFaults {
  /** Probability that a call fails before doing anything. */
  error: number;
  /** Probability that a commit is applied, then throws. */
  ambiguous: number;
  /** Every call fails until this simulated time (an outage: the database restarting). */
  downUntil: number;
}

/** What every view shares. */
export interface StoreWorld {
  scheduler: Scheduler;
  random: Random;
  faults: StoreFaults;
  /** Whether the store has its own clock (a shared database; the processes' clocks are skewed). */
  clock: boolean;
  watch: Watch;
  log(line: string): void;
  /** PostgreSQL: the real calls, run one at a time (see real-io.ts). */
  io?: RealIO;
  /** A call of `process` failed (for the checks that excuse what a store failure explains). */
  failed(process: SimProcess): void;
  /** Shards (`shards.ts`): the world's count, the membership, and the locks and outbox claims a store without them gets. */
  sharding?: Sharding;
}

/** What a sharded world's views share (see `shards.ts`). */
export interface Sharding {
  /** The seed's shard count. */
  shards: number;
  /** The coordinators' membership, on simulated time. */
  membership: Membership;
  /** Locks with per-name epochs, for a store without `tryLock`. */
  locks?: SimLocks;
  /** Claims by shard, for a store of one shard. */
  outbox?: ShardedOutbox;
}

/** A {@link Store} as one simulated process sees it. */
export class SimStore implements Store {
  readonly kind: string;
  /** The inner store's shard count. */
  readonly shards: number;
  /** The election's lock, when the store has one (PostgreSQL). */
  readonly tryLock?: (name: string) => Promise<StoreLock | undefined>;
  /** The database's clock (simulated time), when the world's store has one. */
  readonly clock: (() => Promise<number>) | undefined;
  /** Renews a coordinator's membership (PostgreSQL, or several shards: `Membership`, on simulated time). */
  readonly heartbeat?: (member: string, ttlMs: number) => Promise<string[]>;
  /** Ends a coordinator's membership (as {@link SimStore.heartbeat}). */
  readonly leave?: (member: string) => Promise<void>;

  /** `watch`: the elections' records, for a server process's view (PostgreSQL, or several shards). */
  constructor(
    private readonly inner: Store,
    private readonly process: SimProcess,
    private readonly world: StoreWorld,
    private readonly watch?: StoreWatch,
  ) {
    this.kind = inner.kind;
    const { sharding } = world;
    this.shards = sharding?.shards ?? inner.shards;
    const locks = sharding?.locks;
    const tryLock = inner.tryLock?.bind(inner) ?? (locks === undefined ? undefined : async (name: string) => locks.tryLock(process, name));
    if (tryLock !== undefined) {
      this.tryLock = (name) =>
        this.call('tryLock', async () => {
          const lock = await tryLock(name);
          return lock === undefined || this.watch === undefined ? lock : this.watch.elected(this.process, lock);
        }, false);
    }
    if (world.clock) this.clock = () => this.call('clock', async () => world.scheduler.now);
    if (sharding !== undefined) {
      const { membership } = sharding;
      this.heartbeat = (member, ttlMs) => this.call('heartbeat', async () => membership.heartbeat(member, ttlMs));
      this.leave = (member) => this.call('leave', async () => membership.leave(member));
    }
  }

  /**
   * A call: latency, faults, then `run`. PostgreSQL: one call at a time
   * (`serial`), but for `tryLock`: it runs on the process's lock session, whose
   * connection may be silent (half-open), and must then not hold the others
   * (its queries, tracked one by one, still finish before simulated time moves).
   */
  private async call<T>(name: string, run: () => Promise<T>, serial = true): Promise<T> {
    const { scheduler, random, faults } = this.world;
    await scheduler.hold(this.process, random.int(0, 5));
    if (scheduler.now < faults.downUntil || random.chance(faults.error)) {
      this.world.log(`${this.process.name}: store ${name} fails`);
      this.world.failed(this.process);
      throw new StoreError(`simulated: store ${name} failed`, 'ECONNRESET');
    }
    const io = this.world.io;
    const result = await (io === undefined || !serial ? run() : io.serial(run));
    await scheduler.hold(this.process, random.int(0, 5));
    return result;
  }

  async commit(commits: StepCommit[], fence?: Fence): Promise<CommitResult> {
    return this.call('commit', async () => {
      let result: CommitResult;
      try {
        this.world.sharding?.locks?.check(fence);
        result = await this.inner.commit(commits, fence);
      } catch (error) {
        this.watch?.committed(this.process, commits, fence, (error as { code?: unknown }).code === 'TW_FENCED' ? 'refused' : 'failed');
        throw error;
      }
      this.watch?.committed(this.process, commits, fence, 'applied');
      this.world.watch.committed(commits, result, this.world.scheduler.now, this.process.name);
      if (this.world.random.chance(this.world.faults.ambiguous)) {
        this.world.log(`${this.process.name}: commit of ${commits.map((c) => `${c.run.id}@${c.run.rev}`).join(' ')} applied, then fails`);
        this.world.failed(this.process);
        throw new StoreError('simulated: connection lost during COMMIT', 'ECONNRESET');
      }
      return result;
    });
  }

  loadRun(runId: string): Promise<RunState | undefined> {
    return this.call('loadRun', () => this.inner.loadRun(runId));
  }

  listRuns(filter?: RunFilter): Promise<RunSummary[]> {
    return this.call('listRuns', () => this.inner.listRuns(filter));
  }

  countRuns(filter?: RunFilter): Promise<Record<RunStatus, number>> {
    return this.call('countRuns', () => this.inner.countRuns(filter));
  }

  liveRunIds(): Promise<string[]> {
    return this.call('liveRunIds', () => this.inner.liveRunIds());
  }

  listeners(events: readonly string[]): Promise<EventListener[]> {
    return this.call('listeners', () => this.inner.listeners(events));
  }

  history(runId: string, page?: Page): Promise<HistoryEntry[]> {
    return this.call('history', () => this.inner.history(runId, page));
  }

  activations(runId: string, node?: string, page?: Page): Promise<ActivationState[]> {
    return this.call('activations', () => this.inner.activations(runId, node, page));
  }

  dueOutbox(now: number, limit: number): Promise<OutboxItem[]> {
    return this.call('dueOutbox', () => this.inner.dueOutbox(now, limit));
  }

  claimOutbox(now: number, limit: number, claimMs: number, shards?: readonly number[]): Promise<OutboxItem[]> {
    this.watch?.claiming(this.process, shards);
    const outbox = this.world.sharding?.outbox;
    return this.call('claimOutbox', async () => {
      const items = await (outbox === undefined ? this.inner.claimOutbox(now, limit, claimMs, shards) : outbox.claim(this.inner, now, limit, claimMs, shards));
      this.world.watch.claimed(items, now, claimMs, this.world.scheduler.now, this.process.name);
      return items;
    });
  }

  deleteOutbox(ids: string[]): Promise<void> {
    return this.call('deleteOutbox', () => this.inner.deleteOutbox(ids));
  }

  pruneRuns(filter: PruneFilter): Promise<number> {
    return this.call('pruneRuns', () => this.inner.pruneRuns(filter));
  }

  /** The inner store's gates, without faults (the simulated workloads set no limits). */
  gates(): Gates {
    return this.inner.gates();
  }

  registerTasks(tasks: TaskInfo[]): Promise<void> {
    return this.call('registerTasks', () => this.inner.registerTasks(tasks));
  }

  tasks(): Promise<TaskInfo[]> {
    return this.call('tasks', () => this.inner.tasks());
  }

  beatWorker(beat: WorkerBeat): Promise<void> {
    return this.call('beatWorker', () => this.inner.beatWorker(beat));
  }

  listWorkers(filter?: WorkerFilter): Promise<WorkerBeat[]> {
    return this.call('listWorkers', () => this.inner.listWorkers(filter));
  }

  removeWorker(id: string): Promise<void> {
    return this.call('removeWorker', () => this.inner.removeWorker(id));
  }

  pruneWorkers(beatBefore: number): Promise<number> {
    return this.call('pruneWorkers', () => this.inner.pruneWorkers(beatBefore));
  }

  putSchedule(row: ScheduleRow): Promise<boolean> {
    return this.call('putSchedule', () => this.inner.putSchedule(row));
  }

  listSchedules(): Promise<ScheduleRow[]> {
    return this.call('listSchedules', () => this.inner.listSchedules());
  }

  updateSchedule(row: ScheduleRow, expectedVersion: number, fence?: Fence): Promise<boolean> {
    return this.call('updateSchedule', () => this.inner.updateSchedule(row, expectedVersion, fence));
  }

  deleteSchedule(name: string): Promise<boolean> {
    return this.call('deleteSchedule', () => this.inner.deleteSchedule(name));
  }

  async close(): Promise<void> {
    // The store outlives the process.
  }
}
