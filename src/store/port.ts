/**
 * The store port: where runs live. One interface, one folder per adapter
 * (memory, SQLite, PostgreSQL). Every adapter passes the same contract suite
 * (`test/store/contract.ts`).
 *
 * A step is committed atomically: the run header, the nodes and activations it
 * changed, its history entries and its outbox items, in one transaction, guarded
 * by the run's revision (optimistic concurrency), so two coordinators never both
 * commit a step of one run and replaying a step is a no-op.
 *
 * @packageDocumentation
 */
import type { Command, HistoryEntry } from '../engine/events.js';
import type { ActivationState, Backlogged, Held, NodeState, RunHeader, RunState, RunStatus } from '../engine/state.js';
import type { JsonObject } from '../codec/json.js';
import type { FlowDefinition, NodeDefinition } from '../model/definition.js';
import type { CatchUp, Overlap } from '../model/schedule-plan.js';
import type { Gates } from './gates.js';

/** A command waiting to be carried out: written in the step's transaction, deleted once done. */
export interface OutboxItem {
  /** Unique id (`<runId>:<rev>:<index>`). */
  id: string;
  /** The run it belongs to. */
  runId: string;
  /** Not before this time (epoch ms): now for dispatches, the retry time for schedules. */
  dueAt: number;
  /** What to do. */
  command: Command;
}

/** A listening event node of a live run (see {@link Store.listeners}). */
export interface EventListener {
  /** The run. */
  runId: string;
  /** The event's name. */
  event: string;
  /** The event node's id. */
  node: string;
  /** The payload fields the event declares (`event(name, { provides })`), if any. */
  provides?: string[];
}

/** A notification waiting in a persistent listener's backlog, as a store row. */
export interface BacklogRow extends Backlogged {
  /** The listener. */
  node: string;
}

/** A persistent listener's held result (see `NodeState.held`), as a store row. */
export interface HeldRow extends Held {
  /** The listener. */
  node: string;
}

/** Everything one committed step (or several steps of one run) changed. */
export interface StepCommit {
  /** The run header after the step; `run.rev` is the new revision. */
  run: RunHeader;
  /** The revision the step was computed from; 0 for a new run. */
  expectedRev: number;
  /**
   * False when the header's fields other than `rev`, `status`,
   * `graphVersion`, `seq` and `updatedAt` are those of the stored revision
   * `expectedRev` (see `stepCommit`): a store may then write only those five
   * (the SQL stores keep them in columns and leave the stored header as it
   * is), and loads the run the same. Undefined or true: the whole header.
   */
  headerChanged?: boolean;
  /** Nodes to insert or replace, written after {@link StepCommit.removed}. */
  nodes: NodeState[];
  /**
   * The nodes of {@link StepCommit.nodes} whose definition or sources (`def`,
   * `sources`) may differ from those stored at revision `expectedRev` (see
   * `stepCommit`): a store that keeps them apart from the node's state writes
   * them for these nodes only. Undefined: every node of `nodes`.
   */
  defs?: NodeState[];
  /**
   * Node ids to delete, before {@link StepCommit.nodes} is written: a step that
   * removes a node and adds one with the same id lists it in both, and the new
   * node is kept (at the end of the run's node order).
   */
  removed: string[];
  /** Activations to insert or replace. */
  activations: ActivationState[];
  /**
   * Nodes whose backlog is deleted (consumed: its notifications were
   * activated), before {@link StepCommit.backlog} is appended. A removed node's
   * backlog is deleted too.
   */
  drained?: string[];
  /**
   * Backlog entries to append, in order: one row each. Node rows never hold
   * the backlog (stores drop `NodeState.backlog` from them), so a notification
   * that waits writes one row, not the whole backlog again.
   */
  backlog?: BacklogRow[];
  /**
   * Held results released (passed on or dropped): per node, its stored held
   * rows with a seq up to `upTo` are deleted, before {@link StepCommit.held}
   * is written. A removed node's held rows are deleted too.
   */
  released?: { node: string; upTo: number }[];
  /**
   * Held results appended (`NodeState.held`: node rows are written without
   * it, as without the backlog), one row each.
   */
  held?: HeldRow[];
  /** History entries to append. */
  history: HistoryEntry[];
  /** Outbox items to add. */
  outbox: OutboxItem[];
}

/** Outcome of {@link Store.commit}. */
export interface CommitResult {
  /** Runs whose revision did not match: nothing was written for them; reload and step again. */
  conflicts: string[];
}

/** A line of a run listing. */
export interface RunSummary {
  /** Run id. */
  id: string;
  /** Flow name. */
  flow: string;
  /** Run status. */
  status: RunStatus;
  /** Graph version. */
  graphVersion: number;
  /** Created (epoch ms). */
  createdAt: number;
  /** Last change (epoch ms). */
  updatedAt: number;
  /** The run's first failure message (of the first node or activation that failed for good), if any: what `RunFilter.errorText` searches. */
  error?: string;
}

/** A place in a run listing, newest first (see {@link RunFilter.cursor}): the last run of a page. */
export interface RunCursor {
  /** That run's `createdAt`. */
  createdAt: number;
  /** That run's id. */
  id: string;
}

/** Filters of {@link Store.listRuns}. */
export interface RunFilter {
  /** Only runs in these statuses. */
  status?: RunStatus[];
  /** Only runs of this flow. */
  flow?: string;
  /** Only runs whose id starts with this text (the CLI's run id prefixes). */
  idPrefix?: string;
  /** Only runs created at or after this time (epoch ms). */
  createdAfter?: number;
  /** Only runs created before this time (epoch ms). */
  createdBefore?: number;
  /**
   * Only runs whose first failure message ({@link RunSummary.error}) contains
   * this text, ASCII letters matched without regard to case.
   */
  errorText?: string;
  /**
   * Keyset paging: only runs after this one in the listing's order (newest
   * first: `createdAt` descending, then id descending). Pass the last run of a
   * page for the next.
   */
  cursor?: RunCursor;
  /**
   * At most this many, newest first.
   * @default 100
   */
  limit?: number;
}

/** Which finished runs {@link Store.pruneRuns} deletes. */
export interface PruneFilter {
  /** Only runs whose last change (`updatedAt`, epoch ms: when they finished) is before this. */
  finishedBefore: number;
  /**
   * Only runs in these statuses, each final (see {@link FINAL_STATUSES});
   * a status that is not final is refused (ConfigError).
   * @default every final status
   */
  status?: RunStatus[];
  /**
   * At most this many runs (one transaction).
   * @default 500
   */
  limit?: number;
}

/** Paging of history and activations. */
export interface Page {
  /**
   * Only entries with a sequence number greater than this.
   * @default none left out (a map node's first child is activation 0)
   */
  after?: number;
  /**
   * At most this many.
   * @default 1000
   */
  limit?: number;
}

/**
 * What a process knows of a task without its code: the fields a node definition
 * copies from it. Workers publish theirs in the store's task catalog, so that a
 * client without the code can add a node by naming a task.
 */
export type TaskInfo = Pick<NodeDefinition, 'requires' | 'optional' | 'rollback' | 'retry' | 'timeoutMs' | 'queue' | 'limit' | 'rate'> & {
  /** Registered task name. */
  name: string;
  /** Names the result is published as. */
  provides: string[];
};

/** An execution a worker is running, as its heartbeat reports it. */
export interface RunningExecution {
  /** The run. */
  runId: string;
  /** The node. */
  node: string;
  /** The attempt. */
  attempt: number;
  /** When the worker started it (epoch ms, the worker's clock). */
  since: number;
}

/** A worker's heartbeat row (see {@link Store.beatWorker}). */
export interface WorkerBeat {
  /** The worker's id (`<host>/<pid>` by default). */
  id: string;
  /** Host name. */
  host: string;
  /** Process id. */
  pid: number;
  /** The taskwire version it runs. */
  version: string;
  /** The tasks it can execute, by name. */
  tasks: string[];
  /** The queues it takes dispatches from. */
  queues: string[];
  /** Executions at once, per queue. */
  concurrency: number;
  /** Its time between beats (ms): it is stale after a few of them without one (see `isLive`). */
  heartbeatMs: number;
  /** The executions in progress at the beat. */
  running: RunningExecution[];
  /** When it started (epoch ms, its clock). */
  startedAt: number;
  /** When it beat (epoch ms, its clock). */
  beatAt: number;
  /**
   * Embedded (a SQLite file): the runs its process carries out, when it carries out
   * only the runs it started (`taskwire run`, `connect({ resume: false })`). Absent:
   * its process carries out every run of the store whose tasks it has (`taskwire serve`,
   * `connect()` resuming runs), or, distributed, the coordinators do.
   */
  runs?: string[];
}

/**
 * A cron schedule as the store holds it (`tw.schedule(...)`, docs/scheduling.md):
 * what it starts, when, and where its ticks stand. Rows are changed by
 * compare-and-set on {@link ScheduleRow.version} ({@link Store.updateSchedule}).
 */
export interface ScheduleRow {
  /** Unique name; its runs are `<name>:<tick time, ISO>`. */
  name: string;
  /** Cron expression (5 fields, or 6 with seconds first). */
  cron: string;
  /** IANA time zone the expression is read in. */
  timezone: string;
  /** The flow each tick starts. */
  flow: FlowDefinition;
  /** Its flow inputs (encoded). */
  inputs: JsonObject;
  /** A tick while the previous tick's run is still live: `allow` starts anyway, `skip` skips the tick. */
  overlap: Overlap;
  /** Ticks missed while no process fired them (see `planTicks`). */
  catchUp: CatchUp;
  /** With `catchUp: 'all'`: at most this many missed ticks fired, the latest ones. */
  catchUpLimit: number;
  /** Paused: no tick fires; resuming goes on from the next tick after the resume. */
  paused: boolean;
  /** The earliest tick not fired or skipped yet (epoch ms); null when the expression has no further tick. */
  nextFireAt: number | null;
  /** The tick last fired (epoch ms). */
  lastFireAt?: number;
  /** The run that tick started. */
  lastRunId?: string;
  /** Why the last fire failed (a flow that no longer validates...), if it did. */
  lastError?: string;
  /** How many ticks were skipped (missed, or overlapping a live run). */
  skipped: number;
  /** Created (epoch ms). */
  createdAt: number;
  /** Last changed (epoch ms). */
  updatedAt: number;
  /** Compare-and-set version: 1 when created, +1 on every update. */
  version: number;
}

/** Filters of {@link Store.listWorkers}. */
export interface WorkerFilter {
  /** Only workers whose last beat is at most this old at `now`. Undefined: every row, stale ones too. */
  aliveWithinMs?: number;
  /**
   * The time the age of beats is judged at (epoch ms).
   * @default Date.now()
   */
  now?: number;
}

/**
 * A leader epoch (fencing token): the election a coordinator won and the epoch
 * of that win. Each win increments the epoch the store holds for the election.
 */
export interface Fence {
  /** The election (the lock's name). */
  readonly name: string;
  /** The epoch of the win. */
  readonly epoch: number;
}

/** An exclusive lock held in the store (see {@link Store.tryLock}). */
export interface StoreLock {
  /** The leader epoch this lock was taken with: commits of its holder carry it. */
  readonly fence: Fence;
  /**
   * Resolves when the lock is lost (its connection dropped or stopped
   * answering, another holder was elected) or released: stop acting as its
   * holder at once. A lost lock has already given back what it held.
   */
  readonly lost: Promise<void>;
  /** Releases the lock. Idempotent. */
  release(): Promise<void>;
}

/** Where runs live. */
export interface Store {
  /** A short name for logs (`memory`, `sqlite`, `postgres`). */
  readonly kind: string;
  /**
   * How many shards the runs are partitioned into (see `shardOf` in
   * `model/shard.ts`): fixed when the store is created (PostgreSQL: at
   * migrate time, recorded in the schema); 1 for the stores of one process
   * (memory, SQLite). Each run, and each outbox item, belongs to the shard
   * `shardOf(runId, shards)`.
   */
  readonly shards: number;
  /**
   * Commits steps of one or more runs; a run whose `expectedRev` is stale is
   * skipped and reported. New runs have `expectedRev` 0.
   *
   * With a `fence` (the active coordinator's commits), the whole batch is
   * refused with a `FencedError` (code `TW_FENCED`), nothing written, when the
   * store holds a newer epoch for the election: a deposed coordinator cannot
   * write. The check and the commit are atomic with respect to an election.
   * Only stores with {@link Store.tryLock} hand out fences.
   */
  commit(commits: StepCommit[], fence?: Fence): Promise<CommitResult>;
  /** Loads a run's full state (live activations included), or undefined. */
  loadRun(runId: string): Promise<RunState | undefined>;
  /** Lists runs, newest first (`createdAt` descending, then id descending). */
  listRuns(filter?: RunFilter): Promise<RunSummary[]>;
  /**
   * How many runs match `filter` in each status (every status present, 0
   * included), ignoring its `status`, `cursor` and `limit`: the counts a run
   * listing shows beside its status filter.
   */
  countRuns(filter?: RunFilter): Promise<Record<RunStatus, number>>;
  /** Ids of runs that are not finished (see {@link FINAL_STATUSES}), to resume them. */
  liveRunIds(): Promise<string[]>;
  /**
   * The listening event nodes named one of `events` of live runs, with the
   * fields they declare: one query for the events of many notifications.
   */
  listeners(events: readonly string[]): Promise<EventListener[]>;
  /** A run's history, in order. */
  history(runId: string, page?: Page): Promise<HistoryEntry[]>;
  /** Activations of a run (optionally of one node), finished ones included, in notification order. */
  activations(runId: string, node?: string, page?: Page): Promise<ActivationState[]>;
  /** Outbox items due at `now` or earlier, oldest first. */
  dueOutbox(now: number, limit: number): Promise<OutboxItem[]>;
  /**
   * Claims due outbox items for one poller: returns them like {@link Store.dueOutbox}
   * and moves their due time to `now + claimMs`, so that other pollers (other
   * coordinators) skip them meanwhile. An item claimed by a poller that dies
   * is due again after `claimMs`.
   *
   * With `shards`, only items of those shards (an item's shard is its run's,
   * `shardOf(item.runId, store.shards)`): a coordinator claims the outbox of
   * the shards it owns. Undefined: every shard; an empty array: nothing.
   */
  claimOutbox(now: number, limit: number, claimMs: number, shards?: readonly number[]): Promise<OutboxItem[]>;
  /**
   * The store's own clock (epoch ms), for stores shared by several processes:
   * outbox pollers judge claims by it rather than by their own clocks, which
   * may be skewed. Stores of one process (memory, SQLite) leave it out.
   */
  clock?(): Promise<number>;
  /** Deletes outbox items once carried out. */
  deleteOutbox(ids: string[]): Promise<void>;
  /**
   * Deletes up to `filter.limit` finished runs that match `filter`, with
   * everything they own (nodes, activations, backlog, held results, history,
   * outbox items), in one transaction; returns how many runs were deleted
   * (fewer than the limit: none are left). Never deletes a live run.
   *
   * @throws ConfigError on a status that is not final or a bad limit (see `pruneCriteria`).
   */
  pruneRuns(filter: PruneFilter): Promise<number>;
  /** Adds or replaces tasks in the catalog (workers call this at start). */
  registerTasks(tasks: TaskInfo[]): Promise<void>;
  /** The task catalog, by name order. */
  tasks(): Promise<TaskInfo[]>;
  /** Adds or replaces a worker's heartbeat row (workers call this every `heartbeatMs`). */
  beatWorker(beat: WorkerBeat): Promise<void>;
  /** The workers' heartbeat rows, by id order. */
  listWorkers(filter?: WorkerFilter): Promise<WorkerBeat[]>;
  /** Deletes a worker's heartbeat row (a worker closing cleanly). Idempotent. */
  removeWorker(id: string): Promise<void>;
  /**
   * Deletes the heartbeat rows whose last beat is older than `beatBefore` (epoch ms):
   * workers long dead (workers call this at start, see `DEAD_WORKER_AFTER_MS`).
   * Returns how many rows were deleted.
   */
  pruneWorkers(beatBefore: number): Promise<number>;
  /** Adds a schedule; false (and nothing written) when one of that name exists. */
  putSchedule(row: ScheduleRow): Promise<boolean>;
  /** Every schedule, by name (code unit order). */
  listSchedules(): Promise<ScheduleRow[]>;
  /**
   * Replaces a schedule if its stored version is `expectedVersion` (compare and
   * set; `row.version` is the new one): false, nothing written, when it was
   * changed meanwhile or deleted. With a `fence` (a coordinator firing a tick
   * of a shard it owns), refused with a `FencedError` (`TW_FENCED`) when the
   * store holds a newer epoch for the election, as {@link Store.commit}.
   */
  updateSchedule(row: ScheduleRow, expectedVersion: number, fence?: Fence): Promise<boolean>;
  /** Deletes a schedule (its runs stay); false when there was none of that name. */
  deleteSchedule(name: string): Promise<boolean>;
  /**
   * Tries to take an exclusive lock named `name` for this process (the active
   * coordinator's election); undefined when another holder has it. Taking it
   * increments the election's leader epoch (see {@link StoreLock.fence}).
   * Stores that serve a single process (memory, SQLite) do not implement it.
   */
  tryLock?(name: string): Promise<StoreLock | undefined>;
  /**
   * Records that the coordinator process `member` is alive for `ttlMs` more
   * milliseconds, by the store's clock, and returns the ids of every member
   * alive now (whose last heartbeat has not expired), this one included, in
   * code unit order. Members' shard ownership is computed from this list.
   * Stores that serve a single process (memory, SQLite) do not implement it.
   */
  heartbeat?(member: string, ttlMs: number): Promise<string[]>;
  /** Removes `member` from the members at once (a graceful close), rather than when its heartbeat expires. Idempotent. */
  leave?(member: string): Promise<void>;
  /** The flow-control gates (task limits and rates, see `gates.ts`): shared by every process using the store. */
  gates(): Gates;
  /** Releases connections and files. Idempotent. */
  close(): Promise<void>;
}

/** The oldest beat time (epoch ms) a {@link WorkerFilter} keeps; `Number.MIN_SAFE_INTEGER` (a bound the SQL stores can bind) keeps every row. */
export function oldestBeat(filter: WorkerFilter | undefined): number {
  if (filter?.aliveWithinMs === undefined) return Number.MIN_SAFE_INTEGER;
  return (filter.now ?? Date.now()) - filter.aliveWithinMs;
}

/**
 * Whether a claim of `shards` ({@link Store.claimOutbox}) covers the only
 * shard, 0, of a store with one shard (memory, SQLite).
 */
export function claimsOnlyShard(shards: readonly number[] | undefined): boolean {
  return shards === undefined || shards.includes(0);
}

/** Run statuses after which a run never changes again. */
export const FINAL_STATUSES: readonly RunStatus[] = ['succeeded', 'rolled_back', 'rollback_failed', 'cancelled'];

/**
 * The final statuses listed by the partial indexes of live runs that the SQL
 * stores created in their first schema version (`runs_live`, `runs_live_idx`).
 */
const INDEXED_FINAL_STATUSES: readonly RunStatus[] = ['succeeded', 'rolled_back', 'cancelled'];

/**
 * SQL condition: `column` holds a run status that is not final. The statuses
 * of the partial indexes come first, as they read there, so that the SQLite
 * and PostgreSQL planners keep using those indexes (no migration needed when a
 * final status is added).
 */
export function notFinalSql(column: string): string {
  const list = (statuses: readonly RunStatus[]): string => statuses.map((status) => `'${status}'`).join(', ');
  const others = FINAL_STATUSES.filter((status) => !INDEXED_FINAL_STATUSES.includes(status));
  return `${column} NOT IN (${list(INDEXED_FINAL_STATUSES)})${others.length > 0 ? ` AND ${column} NOT IN (${list(others)})` : ''}`;
}
