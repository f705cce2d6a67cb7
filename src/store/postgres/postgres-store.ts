/**
 * The PostgreSQL store: runs in a PostgreSQL schema, shared by any number of
 * coordinators. Each commit batch is one statement of multi-row writes;
 * runs are guarded by their revision (optimistic concurrency), so two
 * coordinators never both commit a step of one run.
 *
 * @packageDocumentation
 */
import { hostname } from 'node:os';
import pg, { type Pool, type PoolClient } from 'pg';
import type { HistoryEntry } from '../../engine/events.js';
import type { ActivationState, RunState, RunStatus } from '../../engine/state.js';
import { ClosedError, ConfigError, FencedError, StoreError } from '../../errors.js';
import { listenerOf } from '../listener.js';
import type { CommitResult, EventListener, Fence, OutboxItem, Page, PruneFilter, RunFilter, RunSummary, ScheduleRow, Store, StepCommit, StoreLock, TaskInfo, WorkerBeat, WorkerFilter } from '../port.js';
import { oldestBeat } from '../port.js';
import { ACTIVATION_ROW, HISTORY_ROW, readRow, readStatus } from '../row-check.js';
import { AdvisoryLocks, systemTimers, type LockCheck, type Timers } from './lock.js';
import { migrateSchema } from './migrations.js';
import { byCodeUnit, conflictsOf, planCommit } from './plan.js';
import { buildQueries, type NamedQuery, type Queries } from './queries.js';
import { pruneCriteria } from '../prune.js';
import { containsPattern, emptyCounts } from '../run-listing.js';
import { redactSecret, redactUrl } from './redact.js';
import { activationRows, backlogRows, clearedRows, epoch, heldRows, historyRows, loadedRun, type LoadedRow, nodeRows, outboxItem, outboxRows, releasedRows, removedRows, runRows } from './rows.js';
import { DEFAULT_SCHEMA, quoteSchema } from './schema-name.js';
import { checkShardCount } from './shard-count.js';
import type { Gates } from '../gates.js';
import { PostgresGates } from './postgres-gates.js';

/** Options of {@link openPostgresStore}: give `url` or `pool`. */
export interface PostgresStoreOptions {
  /** Connection URL (`postgres://user:password@host:5432/db`); the store creates, owns and closes its pool. */
  url?: string;
  /** A pool of your own; {@link PostgresStore.close} leaves it open. */
  pool?: Pool;
  /**
   * The schema holding the tables (created and migrated on open).
   * @default 'taskwire'
   */
  schema?: string;
  /**
   * The shard count the schema must have, an integer from 1 to 1024 (see
   * `migrate`): a new schema is created with it, a schema without runs is
   * changed to it, and a schema holding runs with another count is refused
   * (ConfigError). Leave it out to use the schema's count
   * ({@link PostgresStore.shards}; a new schema gets 16).
   */
  shards?: number;
  /**
   * Connections of the pool created from `url`.
   * @default 10
   */
  poolSize?: number;
  /**
   * How often the coordinator locks' session is checked, in milliseconds
   * (see {@link PostgresStore.tryLock}).
   * @default 1000
   */
  lockCheckIntervalMs?: number;
  /**
   * A check of the coordinator locks' session not answered within this
   * loses every lock of the session, in milliseconds.
   * @default 5000
   */
  lockCheckTimeoutMs?: number;
  /**
   * The timers of the coordinator lock's checks: the system's, or those of a
   * clock of your own (any coordinator `Clock` fits: a simulation's, or a
   * test's fake clock that drives the checks).
   * @default the system's timers
   */
  clock?: Timers;
}

/** Default {@link LockCheck}. */
const DEFAULT_LOCK_CHECK: LockCheck = { intervalMs: 1000, timeoutMs: 5000, clock: systemTimers };

/** A {@link Store} in PostgreSQL. Open it with {@link openPostgresStore}. */
export class PostgresStore implements Store {
  /** @inheritdoc */
  readonly kind = 'postgres';
  /**
   * @inheritdoc
   *
   * The count recorded in the schema (`taskwire_settings`), set when it was
   * migrated.
   */
  readonly shards: number;
  /** The schema holding the tables. */
  readonly schema: string;
  private readonly q: Queries;
  private readonly locks: AdvisoryLocks;
  private readonly gateRows: PostgresGates;
  private closed = false;

  /**
   * Wraps `pool`, on a schema that is already migrated (`migrate`);
   * {@link openPostgresStore} does both. `ownsPool`: whether {@link close} ends the pool;
   * `lockCheck`: how the coordinator locks' session is watched; `shards`: the
   * schema's shard count (which {@link openPostgresStore} reads from it).
   */
  constructor(
    private readonly pool: Pool,
    schema: string = DEFAULT_SCHEMA,
    private readonly ownsPool = false,
    lockCheck: LockCheck = DEFAULT_LOCK_CHECK,
    shards = 1,
  ) {
    this.q = buildQueries(quoteSchema(schema));
    this.schema = schema;
    this.shards = checkShardCount(shards, 'PostgresStore: `shards`');
    this.locks = new AdvisoryLocks(pool, this.q, lockCheck);
    this.gateRows = new PostgresGates(pool, quoteSchema(schema));
  }

  /**
   * @inheritdoc
   *
   * One statement, one round trip, whatever the batch (see `sql/commit.ts`).
   */
  async commit(commits: StepCommit[], fence?: Fence): Promise<CommitResult> {
    this.check();
    if (commits.length === 0) return { conflicts: [] };
    const plans = planCommit(commits, this.shards);
    const values = [
      fence?.name ?? null,
      fence?.epoch ?? 0,
      runRows(plans),
      removedRows(plans),
      nodeRows(plans),
      activationRows(plans),
      historyRows(plans),
      outboxRows(plans),
      clearedRows(plans),
      backlogRows(plans),
      releasedRows(plans),
      heldRows(plans),
    ];
    type Row = { ok: boolean; epoch: string | null; ids: string[]; from_revs: number[] };
    const [row] = await query<Row>(this.pool, this.q.commit, values);
    if (row === undefined) throw new StoreError('the commit statement returned no row');
    if (!row.ok && fence !== undefined) throw new FencedError(fence.name, fence.epoch, row.epoch === null ? undefined : Number(row.epoch));
    const written = new Map(row.ids.map((id, i) => [id, row.from_revs[i] ?? -1]));
    return { conflicts: conflictsOf(commits, plans, written) };
  }

  /** @inheritdoc */
  async loadRun(runId: string): Promise<RunState | undefined> {
    this.check();
    const rows = await query<LoadedRow>(this.pool, this.q.loadRun, [runId]);
    const row = rows[0];
    return row === undefined ? undefined : loadedRun(runId, row);
  }

  /** @inheritdoc */
  async listRuns(filter: RunFilter = {}): Promise<RunSummary[]> {
    this.check();
    if (filter.status?.length === 0) return [];
    type Row = { id: string; flow: string; status: string; graph_version: number; created_at: string; updated_at: string; error: string | null };
    const cursor = filter.cursor;
    const params = [...matchParams(filter), filter.status ?? null, cursor?.createdAt ?? null, cursor?.id ?? null, filter.limit ?? 100];
    const rows = await query<Row>(this.pool, this.q.listRuns, params);
    return rows.map((row) => {
      const run: RunSummary = {
        id: row.id,
        flow: row.flow,
        status: readStatus(row.id, row.status),
        graphVersion: row.graph_version,
        createdAt: Number(row.created_at),
        updatedAt: Number(row.updated_at),
      };
      if (row.error !== null) run.error = row.error;
      return run;
    });
  }

  /** @inheritdoc */
  async countRuns(filter: RunFilter = {}): Promise<Record<RunStatus, number>> {
    this.check();
    const counts = emptyCounts();
    for (const row of await query<{ status: string; n: number }>(this.pool, this.q.countRuns, matchParams(filter))) counts[readStatus('(count)', row.status)] += row.n;
    return counts;
  }

  /** @inheritdoc */
  async liveRunIds(): Promise<string[]> {
    this.check();
    return (await query<{ id: string }>(this.pool, this.q.liveRuns, [])).map((row) => row.id);
  }

  /** @inheritdoc */
  async listeners(events: readonly string[]): Promise<EventListener[]> {
    this.check();
    const rows = await query<{ run_id: string; name: string; node_id: string; provides: unknown }>(this.pool, this.q.listeners, [events]);
    return rows.map((row) => listenerOf(row.run_id, row.name, row.node_id, row.provides));
  }

  /** @inheritdoc */
  async history(runId: string, page: Page = {}): Promise<HistoryEntry[]> {
    this.check();
    const rows = await query<{ data: unknown }>(this.pool, this.q.history, [runId, page.after ?? 0, page.limit ?? 1000]);
    return rows.map((row) => readRow(HISTORY_ROW, runId, row.data));
  }

  /** @inheritdoc */
  async activations(runId: string, node?: string, page: Page = {}): Promise<ActivationState[]> {
    this.check();
    const rows = await query<{ data: unknown }>(this.pool, this.q.activations, [runId, node ?? null, page.after ?? -1, page.limit ?? 1000]);
    return rows.map((row) => readRow(ACTIVATION_ROW, runId, row.data));
  }

  /** @inheritdoc */
  async dueOutbox(now: number, limit: number): Promise<OutboxItem[]> {
    this.check();
    const rows = await query<{ data: unknown }>(this.pool, this.q.dueOutbox, [epoch(now, Math.floor), limit]);
    return rows.map((row) => outboxItem(row.data));
  }

  /** @inheritdoc */
  async claimOutbox(now: number, limit: number, claimMs: number, shards?: readonly number[]): Promise<OutboxItem[]> {
    this.check();
    if (shards?.length === 0) return [];
    const values = [epoch(now, Math.floor), limit, epoch(now + claimMs, Math.ceil)];
    type Row = { data: unknown; was_due: string; ord: string };
    const rows = await (shards === undefined ? query<Row>(this.pool, this.q.claimOutbox, values) : query<Row>(this.pool, this.q.claimShardOutbox, [...values, shards]));
    rows.sort((a, b) => Number(a.was_due) - Number(b.was_due) || Number(a.ord) - Number(b.ord));
    return rows.map((row) => outboxItem(row.data));
  }

  /** @inheritdoc */
  async clock(): Promise<number> {
    this.check();
    const rows = await query<{ now: string }>(this.pool, this.q.clock, []);
    return Number(rows[0]?.now);
  }

  /** @inheritdoc */
  async deleteOutbox(ids: string[]): Promise<void> {
    this.check();
    if (ids.length === 0) return;
    // Without waiting for the WAL flush: a delete lost in a crash only makes the
    // poller publish those items again (at-least-once), and it saves a disk sync
    // per published batch on the engine's hot path. One round trip (see the statement).
    await query(this.pool, this.q.deleteOutbox, [ids]);
  }

  /** @inheritdoc */
  async pruneRuns(filter: PruneFilter): Promise<number> {
    this.check();
    const { status, finishedBefore, limit } = pruneCriteria(filter);
    const rows = await query<{ count: number }>(this.pool, this.q.pruneRuns, [status, finishedBefore, limit]);
    return rows[0]?.count ?? 0;
  }

  /** @inheritdoc */
  async registerTasks(tasks: TaskInfo[]): Promise<void> {
    this.check();
    if (tasks.length === 0) return;
    // One row per name, the last given winning (as in the memory store): an upsert cannot touch a row twice.
    const unique = [...new Map(tasks.map((t) => [t.name, t])).values()];
    await query(this.pool, this.q.upsertTasks, [unique.map((t) => t.name), unique.map((t) => JSON.stringify(t)), Date.now()]);
  }

  /** @inheritdoc */
  async tasks(): Promise<TaskInfo[]> {
    this.check();
    return (await query<{ data: unknown }>(this.pool, this.q.tasks, [])).map((row) => row.data as TaskInfo);
  }

  /** @inheritdoc */
  async beatWorker(beat: WorkerBeat): Promise<void> {
    this.check();
    await query(this.pool, this.q.beatWorker, [beat.id, beat.beatAt, JSON.stringify(beat)]);
  }

  /** @inheritdoc */
  gates(): Gates {
    this.check();
    return this.gateRows;
  }

  /** @inheritdoc */
  async listWorkers(filter?: WorkerFilter): Promise<WorkerBeat[]> {
    this.check();
    return (await query<{ data: unknown }>(this.pool, this.q.listWorkers, [oldestBeat(filter)])).map((row) => row.data as WorkerBeat);
  }

  /** @inheritdoc */
  async removeWorker(id: string): Promise<void> {
    this.check();
    await query(this.pool, this.q.removeWorker, [id]);
  }

  /** @inheritdoc */
  async pruneWorkers(beatBefore: number): Promise<number> {
    this.check();
    const q = this.q.pruneWorkers;
    return (await this.pool.query({ name: q.name, text: q.text, values: [beatBefore] })).rowCount ?? 0;
  }

  /** @inheritdoc */
  async putSchedule(row: ScheduleRow): Promise<boolean> {
    this.check();
    return (await query(this.pool, this.q.putSchedule, [row.name, row.version, JSON.stringify(row)])).length === 1;
  }

  /** @inheritdoc */
  async listSchedules(): Promise<ScheduleRow[]> {
    this.check();
    return (await query<{ data: unknown }>(this.pool, this.q.listSchedules, [])).map((row) => row.data as ScheduleRow);
  }

  /** @inheritdoc */
  async updateSchedule(row: ScheduleRow, expectedVersion: number, fence?: Fence): Promise<boolean> {
    this.check();
    const values = [row.name, expectedVersion, row.version, JSON.stringify(row), fence?.name ?? null, fence?.epoch ?? 0];
    const [result] = await query<{ ok: boolean; epoch: string | null; written: boolean }>(this.pool, this.q.updateSchedule, values);
    if (result === undefined) throw new StoreError('the schedule update returned no row');
    if (!result.ok && fence !== undefined) throw new FencedError(fence.name, fence.epoch, result.epoch === null ? undefined : Number(result.epoch));
    return result.written;
  }

  /** @inheritdoc */
  async deleteSchedule(name: string): Promise<boolean> {
    this.check();
    return (await query(this.pool, this.q.deleteSchedule, [name])).length === 1;
  }

  /**
   * A session advisory lock, held while its session lives (a process that
   * dies loses it at once), and the election's leader epoch, incremented on
   * each win. All the locks of this store share one session: a pooled
   * connection taken on the first lock and given back when none is held. The
   * session is checked every `lockCheckIntervalMs`, the epochs of all its
   * elections in one query: a newer epoch loses that election's lock; an
   * error or a check unanswered within `lockCheckTimeoutMs` (a half-open
   * connection) loses every lock, and the session's connection is destroyed,
   * never kept from the pool. Undefined when another session holds the lock,
   * or this store already does.
   */
  async tryLock(name: string): Promise<StoreLock | undefined> {
    this.check();
    return this.locks.tryLock(name, `taskwire:${this.schema}:${name}`);
  }

  /**
   * @inheritdoc
   *
   * The `coordinators` table, by the database's clock: one statement renews
   * the member's row (with this process's host name and pid), deletes expired
   * rows no other heartbeat is touching, and returns the members alive.
   */
  async heartbeat(member: string, ttlMs: number): Promise<string[]> {
    this.check();
    if (!(Number.isFinite(ttlMs) && ttlMs > 0)) throw new ConfigError(`heartbeat: \`ttlMs\` must be a positive number, got ${String(ttlMs)}`);
    const rows = await query<{ member: string }>(this.pool, this.q.heartbeat, [member, ttlMs, hostname(), process.pid]);
    return rows.map((row) => row.member).sort(byCodeUnit);
  }

  /** @inheritdoc */
  async leave(member: string): Promise<void> {
    this.check();
    await query(this.pool, this.q.leave, [member]);
  }

  /** @inheritdoc */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsPool) await this.pool.end();
  }

  private check(): void {
    if (this.closed) throw new ClosedError('the PostgreSQL store');
  }
}

/** Runs a named statement; returns its rows. */
async function query<R extends object>(on: Pool | PoolClient, statement: NamedQuery, values: unknown[]): Promise<R[]> {
  const result = await on.query<R>({ name: statement.name, text: statement.text, values });
  return result.rows;
}

/**
 * Opens a PostgreSQL store: connects (to `url`, or through your `pool`),
 * creates and migrates the schema (see {@link migrate}), and returns the store.
 * Connection errors are rethrown with the password masked.
 *
 * @throws ConfigError when the options are invalid (neither or both of `url`
 * and `pool`, a bad schema name, a bad pool size).
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const { url, schema = DEFAULT_SCHEMA, shards, poolSize, lockCheckIntervalMs = DEFAULT_LOCK_CHECK.intervalMs, lockCheckTimeoutMs = DEFAULT_LOCK_CHECK.timeoutMs, clock = DEFAULT_LOCK_CHECK.clock } = options;
  quoteSchema(schema);
  for (const [option, value] of [['lockCheckIntervalMs', lockCheckIntervalMs], ['lockCheckTimeoutMs', lockCheckTimeoutMs]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new ConfigError(`openPostgresStore: \`${option}\` must be a positive integer, got ${String(value)}`);
  }
  if (shards !== undefined) checkShardCount(shards, 'openPostgresStore: `shards`');
  if ((url === undefined) === (options.pool === undefined)) throw new ConfigError('openPostgresStore: give either `url` or `pool` (exactly one)');
  if (url !== undefined && (typeof url !== 'string' || url === '')) throw new ConfigError('openPostgresStore: `url` must be a non-empty string');
  if (poolSize !== undefined && (!Number.isInteger(poolSize) || poolSize < 1)) {
    throw new ConfigError(`openPostgresStore: \`poolSize\` must be a positive integer, got ${String(poolSize)}`);
  }
  if (poolSize !== undefined && url === undefined) throw new ConfigError('openPostgresStore: `poolSize` applies to the pool created from `url`, not to a given `pool`');
  const pool = options.pool ?? createPool(url as string, poolSize ?? 10);
  let migrated: { shards: number };
  try {
    migrated = await migrateSchema(pool, schema, { shards });
  } catch (error) {
    if (options.pool === undefined) await pool.end().catch(() => undefined);
    throw connectError(error, url);
  }
  return new PostgresStore(pool, schema, options.pool === undefined, { intervalMs: lockCheckIntervalMs, timeoutMs: lockCheckTimeoutMs, clock }, migrated.shards);
}

/** A pool on `url` (a bad URL is a StoreError without its password). */
function createPool(url: string, max: number): Pool {
  let pool: Pool;
  try {
    // TCP keepalive: a connection whose peer vanished (a half-open one) errors instead of waiting for ever.
    pool = new pg.Pool({ connectionString: url, max, keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
  } catch (error) {
    throw connectError(error, url);
  }
  // An idle connection that breaks emits 'error' on the pool; without a listener it would crash the process.
  // The pool drops that connection and opens a new one on the next query.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * Runs `fn` on a one-connection pool on `url`, then ends the pool; errors are
 * rethrown with the password masked, as {@link openPostgresStore} does (for
 * `taskwire migrate`, which works on the schema without opening a store).
 */
export async function withPostgresPool<T>(url: string, fn: (pool: Pool) => Promise<T>): Promise<T> {
  const pool = createPool(url, 1);
  try {
    return await fn(pool);
  } catch (error) {
    throw connectError(error, url);
  } finally {
    await pool.end().catch(() => undefined);
  }
}

/** An error raised while opening, with the password of `url` masked everywhere in the message. */
function connectError(error: unknown, url: string | undefined): Error {
  if (error instanceof ConfigError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const where = url === undefined ? 'the given pool' : redactUrl(url);
  const code = (error as { code?: unknown } | null)?.code;
  const wrapped = new StoreError(`cannot open the PostgreSQL store at ${where}: ${redactSecret(message, url)}`, typeof code === 'string' ? code : undefined);
  // Keep the original as the cause only when none of its fields holds the URL or the password.
  if (error instanceof Error && !mentionsSecret(error, url)) {
    Object.defineProperty(wrapped, 'cause', { value: error, enumerable: false, writable: true, configurable: true });
  }
  return wrapped;
}

/** Whether a string field of `error` (its message included) holds `url` or its password. */
function mentionsSecret(error: Error, url: string | undefined): boolean {
  if (url === undefined) return false;
  const fields = [error.message, error.stack, ...Object.values(error)];
  return fields.some((field) => typeof field === 'string' && redactSecret(field, url) !== field);
}

/** The parameters of a run filter's conditions other than status and cursor (see `sql/list-runs.ts`). */
function matchParams(filter: RunFilter): (string | number | null)[] {
  return [filter.flow ?? null, filter.idPrefix ?? null, filter.createdAfter ?? null, filter.createdBefore ?? null, filter.errorText === undefined ? null : containsPattern(filter.errorText)];
}
