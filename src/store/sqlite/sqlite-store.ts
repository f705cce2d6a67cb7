/**
 * The SQLite store: runs in one local database file, on better-sqlite3. For a
 * single coordinator process (embedded runs, a CLI, a small deployment) that
 * must survive restarts without a database server.
 *
 * The database runs in WAL mode with `synchronous = NORMAL`: a commit is
 * durable once `commit()` resolves as far as the process is concerned (a crash
 * of the process loses nothing), but a power loss or OS crash may lose the last
 * few transactions (never corrupting the file). Readers never block the writer.
 *
 * better-sqlite3 is synchronous; the async methods only wrap it, so every call
 * runs to completion on the calling thread. A step is on every task's path, so
 * all statements are prepared once per store and a whole batch of commits runs
 * in one transaction. better-sqlite3 is an optional dependency, loaded when a
 * store opens (see driver.ts).
 *
 * @packageDocumentation
 */
import type Database from 'better-sqlite3';
import type { HistoryEntry } from '../../engine/events.js';
import type { ActivationState, RunState, RunStatus } from '../../engine/state.js';
import { ClosedError, ConfigError } from '../../errors.js';
import { attachBacklogs, attachHeld } from '../backlog.js';
import { claimsOnlyShard, notFinalSql, oldestBeat, type CommitResult, type EventListener, type OutboxItem, type Page, type PruneFilter, type RunFilter, type RunSummary, type ScheduleRow, type Store, type StepCommit, type TaskInfo, type WorkerBeat, type WorkerFilter } from '../port.js';
import { listenerOf } from '../listener.js';
import { ACTIVATION_ROW, BACKLOG_ROW, HELD_ROW, HISTORY_ENTRIES_ROW, readHeader, readRow, type HeaderColumns } from '../row-check.js';
import { BulkInsert } from './bulk-insert.js';
import { openDatabase } from './driver.js';
import { createDatabaseFile } from './create-file.js';
import { loadedNodes, nodeDefsText, nodeStateText, type NodeStateRow } from './node-rows.js';
import { pruneCriteria, type PruneCriteria } from '../prune.js';
import { sqlitePrune } from './prune.js';
import { checkDatabaseFile, migrate, openError } from './schema.js';
import { WorkerRows } from './worker-rows.js';
import { ScheduleRows } from './schedule-rows.js';
import { SqliteRunListing } from './run-listing.js';
import { sqlLimit } from './sql-limit.js';
import { firstFailure } from '../run-listing.js';
import type { Gates } from '../gates.js';
import { SqliteGates } from './gate-rows.js';

/** Options of {@link openSqliteStore}. */
export interface SqliteStoreOptions {
  /** Database file, created if missing (its directory must exist); `:memory:` for a private in-memory database. */
  path: string;
  /**
   * How long a statement waits for another connection's lock before failing with `SQLITE_BUSY`, in milliseconds.
   * @default 5000
   */
  busyTimeoutMs?: number;
}

type Data = { data: string };
type HeaderRow = HeaderColumns & { header: string };

/** Prepares every statement of the store once. */
function prepare(db: Database.Database) {
  return {
    // The rows every step writes, buffered for the whole batch (see bulk-insert.ts)
    nodeRows: new BulkInsert(
      db,
      'INSERT INTO nodes (run_id, node_id, kind, name, status, data)',
      6,
      'ON CONFLICT (run_id, node_id) DO UPDATE SET kind = excluded.kind, name = excluded.name, status = excluded.status, data = excluded.data',
    ),
    historyRows: new BulkInsert(db, 'INSERT INTO history (run_id, seq, data)', 3),
    insertRun: db.prepare<[string, string, string, number, number, number, number, number, string]>(
      `INSERT INTO runs (id, flow, status, rev, graph_version, created_at, updated_at, seq, header) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO NOTHING`,
    ),
    // A run's flow never changes, and its status rarely: the indexed columns (flow, status) are
    // left out of the step's UPDATE, which rewrites no index entry (setting status, even to the same
    // value, rewrites its entries in runs_by_status and runs_live: 2.5x the cost of the UPDATE).
    // The header is set only when the step changed it (`StepCommit.headerChanged`): the fields every
    // step changes have their columns, read over the stored header's (see `readHeader`).
    updateRun: db.prepare<[number, number, number, number, string, string, number], { status: string }>(
      `UPDATE runs SET rev = ?, graph_version = ?, updated_at = ?, seq = ?, header = ? WHERE id = ? AND rev = ? RETURNING status`,
    ),
    stepRun: db.prepare<[number, number, number, number, string, number], { status: string }>(
      `UPDATE runs SET rev = ?, graph_version = ?, updated_at = ?, seq = ? WHERE id = ? AND rev = ? RETURNING status`,
    ),
    setRunStatus: db.prepare<[string, string]>(`UPDATE runs SET status = ? WHERE id = ?`),
    // RunSummary.error: the first failure message is kept
    setRunError: db.prepare<[string, string]>(`UPDATE runs SET error = ? WHERE id = ? AND error IS NULL`),
    deleteNode: db.prepare<[string, string]>(`DELETE FROM nodes WHERE run_id = ? AND node_id = ?`),
    insertDefs: db.prepare<[string, number, string]>(`INSERT INTO node_defs (run_id, rev, data) VALUES (?, ?, ?)`),
    runDefs: db.prepare<[string], Data>(`SELECT data FROM node_defs WHERE run_id = ? ORDER BY rev`),
    insertBacklog: db.prepare<[string, string, number, string]>(`INSERT INTO backlog (run_id, node_id, seq, data) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`),
    deleteBacklog: db.prepare<[string, string]>(`DELETE FROM backlog WHERE run_id = ? AND node_id = ?`),
    runBacklog: db.prepare<[string], Data>(`SELECT data FROM backlog WHERE run_id = ? ORDER BY seq, node_id`),
    insertHeld: db.prepare<[string, string, number, string]>(`INSERT INTO held (run_id, node_id, seq, data) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`),
    releaseHeld: db.prepare<[string, string, number]>(`DELETE FROM held WHERE run_id = ? AND node_id = ? AND seq <= ?`),
    deleteHeld: db.prepare<[string, string]>(`DELETE FROM held WHERE run_id = ? AND node_id = ?`),
    runHeld: db.prepare<[string], Data>(`SELECT data FROM held WHERE run_id = ? ORDER BY node_id, seq`),
    upsertActivation: db.prepare<[string, string, number, string, string]>(
      `INSERT INTO activations (run_id, node_id, seq, status, data) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (run_id, node_id, seq) DO UPDATE SET status = excluded.status, data = excluded.data`,
    ),
    upsertOutbox: db.prepare<[string, string, number, string]>(
      `INSERT INTO outbox (id, run_id, due_at, data) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id, due_at = excluded.due_at, data = excluded.data`,
    ),
    runHeader: db.prepare<[string], HeaderRow>(`SELECT header, status, rev, graph_version, updated_at, seq FROM runs WHERE id = ?`),
    runNodes: db.prepare<[string], NodeStateRow>(`SELECT node_id, data FROM nodes WHERE run_id = ? ORDER BY rowid`),
    liveActivations: db.prepare<[string], Data>(
      `SELECT data FROM activations WHERE run_id = ? AND status IN ('running', 'retrying', 'failed') ORDER BY seq, node_id`,
    ),
    // Only for runs with failure policy rollback: succeeded activations the saga owes a compensation. A row that is
    // not JSON is read too (json_extract would fail on it with a bare SQLite error), for loadRun to refuse it.
    owedActivations: db.prepare<[string], Data>(
      `SELECT data FROM activations WHERE run_id = ? AND status = 'succeeded'
         AND CASE WHEN json_valid(data) THEN json_extract(data, '$.compensate') = 1 ELSE 1 END ORDER BY seq, node_id`,
    ),
    liveRunIds: db.prepare<[], { id: string }>(`SELECT id FROM runs WHERE ${notFinalSql('status')} ORDER BY id`),
    // Per event name: its listening event nodes with their declared fields (JSON text, from the latest node_defs row
    // holding the node's definition; a row that is not JSON declares none).
    listening: db.prepare<[string], { run_id: string; node_id: string; provides: string | null }>(
      `SELECT n.run_id, n.node_id,
              (SELECT json_extract(e.value, '$.def.provides') FROM node_defs d, json_each(d.data) e
                WHERE d.run_id = n.run_id AND json_valid(d.data) AND json_extract(e.value, '$.def.id') = n.node_id
                ORDER BY d.rev DESC LIMIT 1) AS provides
         FROM nodes n JOIN runs r ON r.id = n.run_id
        WHERE n.name = ? AND n.kind = 'event' AND n.status = 'listening' AND ${notFinalSql('r.status')}
        ORDER BY r.created_at, r.id, n.rowid`,
    ),
    // The rows from the one holding entry `after + 1` (the last row whose first entry is at most that; a row holds
    // the entries of one commit), in order
    history: db.prepare<[{ run: string; after: number; limit: number }], Data>(
      `SELECT data FROM history WHERE run_id = @run
         AND seq >= coalesce((SELECT max(seq) FROM history WHERE run_id = @run AND seq <= @after + 1), @after + 1) ORDER BY seq LIMIT @limit`,
    ),
    activations: db.prepare<[string, number, number], Data>(
      `SELECT data FROM activations WHERE run_id = ? AND seq > ? ORDER BY seq, node_id LIMIT ?`,
    ),
    nodeActivations: db.prepare<[string, string, number, number], Data>(
      `SELECT data FROM activations WHERE run_id = ? AND node_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
    ),
    dueOutbox: db.prepare<[number, number], Data>(`SELECT data FROM outbox WHERE due_at <= ? ORDER BY due_at, rowid LIMIT ?`),
    claimOutbox: db.prepare<[number, number, number], Data>(
      `UPDATE outbox SET due_at = ? WHERE id IN (SELECT id FROM outbox WHERE due_at <= ? ORDER BY due_at, rowid LIMIT ?) RETURNING data`,
    ),
    deleteOutbox: db.prepare<[string]>(`DELETE FROM outbox WHERE id = ?`),
    upsertTask: db.prepare<[string, string]>(`INSERT INTO tasks (name, data) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET data = excluded.data`),
    tasks: db.prepare<[], Data>(`SELECT data FROM tasks ORDER BY name`),
  };
}

/** A {@link Store} in a SQLite database file. Create it with {@link openSqliteStore}. */
export class SqliteStore implements Store {
  /** @inheritdoc */
  readonly kind = 'sqlite';
  /** @inheritdoc */
  readonly shards = 1;
  /** The database file (or `:memory:`). */
  readonly path: string;
  private readonly db: Database.Database;
  private readonly sql: ReturnType<typeof prepare>;
  private readonly workers: WorkerRows;
  private readonly schedules: ScheduleRows;
  private readonly gateRows: SqliteGates;
  /** listRuns statements by filter shape (flow or not, number of statuses). */
  private readonly listing: SqliteRunListing;
  private readonly commitBatch: (commits: StepCommit[]) => string[];
  private readonly deleteBatch: (ids: string[]) => void;
  private readonly pruneBatch: (criteria: PruneCriteria) => number;
  private closed = false;

  /** Opens (creating and migrating if needed) the database at `options.path`. Prefer {@link openSqliteStore}. */
  constructor(options: SqliteStoreOptions) {
    const { path, busyTimeoutMs = 5000 } = options;
    if (typeof path !== 'string' || path === '') throw new ConfigError('SQLite store: `path` must be a file path or ":memory:"');
    if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      throw new ConfigError(`SQLite store: \`busyTimeoutMs\` must be a non-negative integer, got ${String(busyTimeoutMs)}`);
    }
    this.path = path;
    createDatabaseFile(path, busyTimeoutMs);
    checkDatabaseFile(path);
    this.db = openDatabase(path, busyTimeoutMs);
    try {
      this.db.pragma('journal_mode = WAL'); // stays `memory` for ':memory:'
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('foreign_keys = ON');
      migrate(this.db);
      this.sql = prepare(this.db);
      this.pruneBatch = sqlitePrune(this.db);
      this.workers = new WorkerRows(this.db);
      this.schedules = new ScheduleRows(this.db);
      this.gateRows = new SqliteGates(this.db);
      this.listing = new SqliteRunListing(this.db);
    } catch (error) {
      this.db.close();
      throw openError(error, path);
    }
    const batch = this.db.transaction((commits: StepCommit[]) => {
      const conflicts: string[] = [];
      const runs = new Set<string>();
      try {
        for (const commit of commits) {
          // a second commit of a run in the batch: its deletes come after the rows of the first
          if (runs.has(commit.run.id)) this.flushRows();
          else runs.add(commit.run.id);
          if (!this.commitOne(commit)) conflicts.push(commit.run.id);
        }
        this.flushRows();
      } catch (error) {
        this.sql.nodeRows.clear();
        this.sql.historyRows.clear();
        throw error;
      }
      return conflicts;
    });
    // BEGIN IMMEDIATE: take the write lock up front, so a reader in another process never makes us fail half-way
    this.commitBatch = (commits) => batch.immediate(commits);
    this.deleteBatch = this.db.transaction((ids: string[]) => {
      for (const id of ids) this.sql.deleteOutbox.run(id);
    });
  }

  /**
   * @inheritdoc
   *
   * The whole batch is one transaction; if a statement fails (a full disk, a
   * history sequence number written twice), nothing of the batch is written
   * and the promise rejects.
   */
  async commit(commits: StepCommit[]): Promise<CommitResult> {
    this.assertOpen();
    if (commits.length === 0) return { conflicts: [] };
    return { conflicts: this.commitBatch(commits) };
  }

  /** Writes the node and history rows the batch's commits buffered. */
  private flushRows(): void {
    this.sql.nodeRows.flush();
    this.sql.historyRows.flush();
  }

  /**
   * Writes one run's step inside the batch transaction, its node and history rows buffered (written by
   * {@link flushRows}); false (nothing written nor buffered) when its revision is stale.
   */
  private commitOne(commit: StepCommit): boolean {
    const { run } = commit;
    const sql = this.sql;
    if (commit.expectedRev === 0) {
      const { changes } = sql.insertRun.run(run.id, run.flow, run.status, run.rev, run.graphVersion, run.createdAt, run.updatedAt, run.seq, JSON.stringify(run));
      if (changes === 0) return false;
    } else {
      const stored =
        commit.headerChanged === false
          ? sql.stepRun.get(run.rev, run.graphVersion, run.updatedAt, run.seq, run.id, commit.expectedRev)
          : sql.updateRun.get(run.rev, run.graphVersion, run.updatedAt, run.seq, JSON.stringify(run), run.id, commit.expectedRev);
      if (stored === undefined) return false;
      if (stored.status !== run.status) sql.setRunStatus.run(run.status, run.id);
    }
    // Deletes first: a step that removes a node and adds it again lists it in both.
    for (const id of commit.removed) {
      sql.deleteNode.run(run.id, id);
      sql.deleteBacklog.run(run.id, id);
      sql.deleteHeld.run(run.id, id);
    }
    for (const node of commit.nodes) sql.nodeRows.add(run.id, node.def.id, node.def.kind, node.def.name, node.status, nodeStateText(node));
    const defs = commit.defs ?? commit.nodes;
    if (defs.length > 0) sql.insertDefs.run(run.id, run.rev, nodeDefsText(defs));
    for (const id of commit.drained ?? []) sql.deleteBacklog.run(run.id, id);
    for (const row of commit.backlog ?? []) sql.insertBacklog.run(run.id, row.node, row.seq, JSON.stringify(row));
    for (const { node, upTo } of commit.released ?? []) sql.releaseHeld.run(run.id, node, upTo);
    for (const row of commit.held ?? []) sql.insertHeld.run(run.id, row.node, row.seq, JSON.stringify(row));
    for (const a of commit.activations) sql.upsertActivation.run(run.id, a.node, a.seq, a.status, JSON.stringify(a));
    const first = commit.history[0];
    if (first !== undefined) sql.historyRows.add(run.id, first.seq, JSON.stringify(commit.history));
    const error = firstFailure(commit.history);
    if (error !== undefined) sql.setRunError.run(error, run.id);
    for (const item of commit.outbox) sql.upsertOutbox.run(item.id, item.runId, item.dueAt, JSON.stringify(item));
    return true;
  }

  /** @inheritdoc */
  async loadRun(runId: string): Promise<RunState | undefined> {
    this.assertOpen();
    const row = this.sql.runHeader.get(runId);
    if (row === undefined) return undefined;
    const header = readHeader(runId, row.header, row);
    const nodes = loadedNodes(runId, this.sql.runDefs.all(runId), this.sql.runNodes.all(runId));
    attachBacklogs(nodes, this.sql.runBacklog.all(runId).map((r) => readRow(BACKLOG_ROW, runId, r.data)));
    attachHeld(nodes, this.sql.runHeld.all(runId).map((r) => readRow(HELD_ROW, runId, r.data)));
    const activations = new Map<string, ActivationState>();
    const rows = this.sql.liveActivations.all(runId);
    if (header.onFailure === 'rollback') rows.push(...this.sql.owedActivations.all(runId));
    for (const { data } of rows) {
      const activation = readRow(ACTIVATION_ROW, runId, data);
      activations.set(`${activation.node}#${activation.seq}`, activation);
    }
    return { ...header, nodes, activations };
  }

  /** @inheritdoc */
  async listRuns(filter: RunFilter = {}): Promise<RunSummary[]> {
    this.assertOpen();
    return this.listing.list(filter);
  }

  /** @inheritdoc */
  async countRuns(filter: RunFilter = {}): Promise<Record<RunStatus, number>> {
    this.assertOpen();
    return this.listing.count(filter);
  }

  /** @inheritdoc */
  async liveRunIds(): Promise<string[]> {
    this.assertOpen();
    return this.sql.liveRunIds.all().map((r) => r.id);
  }

  /** @inheritdoc */
  async listeners(events: readonly string[]): Promise<EventListener[]> {
    this.assertOpen();
    return [...new Set(events)].flatMap((event) =>
      this.sql.listening.all(event).map((r) => listenerOf(r.run_id, event, r.node_id, r.provides === null ? undefined : (JSON.parse(r.provides) as unknown))),
    );
  }

  /** @inheritdoc */
  async history(runId: string, page: Page = {}): Promise<HistoryEntry[]> {
    this.assertOpen();
    const after = page.after ?? 0;
    const limit = pageLimit(page);
    if (limit === 0) return [];
    // Every row holds at least one entry, and only the first row read may hold entries at or before `after`.
    const entries: HistoryEntry[] = [];
    for (const { data } of this.sql.history.all({ run: runId, after, limit: limit === -1 ? -1 : limit + 1 })) {
      for (const entry of readRow(HISTORY_ENTRIES_ROW, runId, data)) if (entry.seq > after) entries.push(entry);
      if (limit !== -1 && entries.length >= limit) return entries.slice(0, limit);
    }
    return entries;
  }

  /** @inheritdoc */
  async activations(runId: string, node?: string, page: Page = {}): Promise<ActivationState[]> {
    this.assertOpen();
    const rows =
      node === undefined
        ? this.sql.activations.all(runId, page.after ?? -1, pageLimit(page))
        : this.sql.nodeActivations.all(runId, node, page.after ?? -1, pageLimit(page));
    return rows.map((r) => readRow(ACTIVATION_ROW, runId, r.data));
  }

  /** @inheritdoc */
  async dueOutbox(now: number, limit: number): Promise<OutboxItem[]> {
    this.assertOpen();
    return this.sql.dueOutbox.all(now, sqlLimit(limit)).map((r) => JSON.parse(r.data) as OutboxItem);
  }

  /** @inheritdoc */
  async claimOutbox(now: number, limit: number, claimMs: number, shards?: readonly number[]): Promise<OutboxItem[]> {
    this.assertOpen();
    if (!claimsOnlyShard(shards)) return [];
    const items = this.sql.claimOutbox.all(now + claimMs, now, sqlLimit(limit)).map((r) => JSON.parse(r.data) as OutboxItem);
    return items.sort((a, b) => a.dueAt - b.dueAt);
  }

  /** @inheritdoc */
  async deleteOutbox(ids: string[]): Promise<void> {
    this.assertOpen();
    if (ids.length > 0) this.deleteBatch(ids);
  }

  /** @inheritdoc */
  async pruneRuns(filter: PruneFilter): Promise<number> {
    this.assertOpen();
    return this.pruneBatch(pruneCriteria(filter));
  }

  /** @inheritdoc */
  gates(): Gates {
    this.assertOpen();
    return this.gateRows;
  }

  /** @inheritdoc */
  async registerTasks(tasks: TaskInfo[]): Promise<void> {
    this.assertOpen();
    this.db.transaction(() => {
      for (const task of tasks) this.sql.upsertTask.run(task.name, JSON.stringify(task));
    })();
  }

  /** @inheritdoc */
  async tasks(): Promise<TaskInfo[]> {
    this.assertOpen();
    return this.sql.tasks.all().map((r) => JSON.parse(r.data) as TaskInfo);
  }

  /** @inheritdoc */
  async beatWorker(beat: WorkerBeat): Promise<void> {
    this.assertOpen();
    this.workers.beat(beat);
  }

  /** @inheritdoc */
  async listWorkers(filter?: WorkerFilter): Promise<WorkerBeat[]> {
    this.assertOpen();
    return this.workers.list(oldestBeat(filter));
  }

  /** @inheritdoc */
  async removeWorker(id: string): Promise<void> {
    this.assertOpen();
    this.workers.remove(id);
  }

  /** @inheritdoc */
  async pruneWorkers(beatBefore: number): Promise<number> {
    this.assertOpen();
    return this.workers.prune(beatBefore);
  }

  /** @inheritdoc */
  async putSchedule(row: ScheduleRow): Promise<boolean> {
    this.assertOpen();
    return this.schedules.put(row);
  }

  /** @inheritdoc */
  async listSchedules(): Promise<ScheduleRow[]> {
    this.assertOpen();
    return this.schedules.list();
  }

  /** @inheritdoc */
  async updateSchedule(row: ScheduleRow, expectedVersion: number): Promise<boolean> {
    this.assertOpen();
    return this.schedules.replace(row, expectedVersion);
  }

  /** @inheritdoc */
  async deleteSchedule(name: string): Promise<boolean> {
    this.assertOpen();
    return this.schedules.remove(name);
  }

  /** @inheritdoc */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      this.db.pragma('optimize'); // refreshes the planner's statistics where useful; cheap
    } finally {
      this.db.close();
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError('SQLite store');
  }
}

function pageLimit(page: Page): number {
  return sqlLimit(page.limit ?? 1000);
}


/**
 * Opens a SQLite store at `options.path`, creating the file and applying the
 * schema migrations if needed. Only one process should coordinate runs from
 * one file at a time; others may read it.
 *
 * @throws ConfigError on bad options, a file that cannot be opened, or a schema newer than this taskwire's.
 */
export function openSqliteStore(options: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(options);
}
