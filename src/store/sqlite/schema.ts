/**
 * The SQLite store's schema and its versioned migrations. The schema version is
 * kept in `PRAGMA user_version`; {@link migrate} applies the missing migrations
 * at open, each in its own immediate transaction.
 *
 * Tables (JSON columns hold `JSON.stringify` text; the other columns copy the
 * fields the queries filter or sort on):
 * - `runs` (id PK, flow, status, rev, graph_version, created_at, updated_at, header, seq, error); the
 *   columns rev, status, graph_version, updated_at and seq are the latest, the header's copies of
 *   them may be older (a step that changes no other header field leaves the header as it is);
 *   `error` is the run's first failure message (`RunSummary.error`), searched by `listRuns`
 * - `nodes` (run_id, node_id, kind, name, status, data; PK (run_id, node_id));
 *   the rowid keeps the order in which nodes were first written, which is the
 *   order of `RunState.nodes` that the engine iterates (loadRun sorts by it); `data` holds the node's
 *   state without its definition and sources (`def`, `sources`)
 * - `node_defs` (run_id, rev, data; unique (run_id, rev)): the definitions and
 *   sources of nodes (`data`: a JSON array of `{ def, sources }`), one row per
 *   commit that wrote some (the run's creation: all its nodes; a change: the
 *   nodes it added or edited), found by the commit's revision; a node's are
 *   those of the latest row that holds it
 * - `activations` (run_id, node_id, seq, status, data; PK (run_id, node_id, seq))
 * - `history` (run_id, seq, data; unique (run_id, seq)), rows in write order, one per commit that wrote
 *   entries: `data` is the JSON array of its entries, `seq` the first one's
 * - `outbox` (id PK, run_id, due_at, data)
 * - `tasks` (name PK, data): the task catalog
 * - `backlog` (run_id, node_id, seq, data; PK (run_id, node_id, seq)): the
 *   notifications waiting in persistent listeners' backlogs, one per row
 * - `held` (run_id, node_id, seq, data; PK (run_id, node_id, seq)): the
 *   results persistent listeners hold back for notification order, one per row
 * - `schedules` (name PK, version, data): cron schedules, `data` the whole
 *   `ScheduleRow`, `version` its compare-and-set version
 * - `gate_waiters`, `gate_permits`, `gate_rates`: flow-control gates (see `gate-rows.ts`)
 *
 * @packageDocumentation
 */
import type Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { ConfigError, StoreError } from '../../errors.js';

/**
 * The migrations, in order: the migration at index `i` brings the schema from
 * version `i` to version `i + 1`. Never edit a released migration; append one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: initial schema
  `
  CREATE TABLE runs (
    id            TEXT    NOT NULL PRIMARY KEY,
    flow          TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    rev           INTEGER NOT NULL,
    graph_version INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    header        TEXT    NOT NULL
  ) STRICT;
  -- listRuns: newest first, optionally by flow or status
  CREATE INDEX runs_by_created ON runs (created_at DESC, id DESC);
  CREATE INDEX runs_by_flow ON runs (flow, created_at DESC, id DESC);
  CREATE INDEX runs_by_status ON runs (status, created_at DESC, id DESC);
  -- liveRunIds, runsListeningTo: only the runs that are not finished (finished ones pile up)
  CREATE INDEX runs_live ON runs (id) WHERE status NOT IN ('succeeded', 'rolled_back', 'cancelled');

  CREATE TABLE nodes (
    run_id  TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    node_id TEXT NOT NULL,
    kind    TEXT NOT NULL,
    name    TEXT NOT NULL,
    status  TEXT NOT NULL,
    data    TEXT NOT NULL,
    PRIMARY KEY (run_id, node_id)
  ) STRICT;
  -- loadRun: a run's nodes in rowid (first write) order
  CREATE INDEX nodes_by_run ON nodes (run_id);
  -- runsListeningTo: listening event nodes by event name
  CREATE INDEX nodes_listening ON nodes (name, run_id) WHERE kind = 'event' AND status = 'listening';

  CREATE TABLE activations (
    run_id  TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    node_id TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    status  TEXT    NOT NULL,
    data    TEXT    NOT NULL,
    PRIMARY KEY (run_id, node_id, seq)
  ) STRICT;
  -- activations(): a run's activations in notification order
  CREATE INDEX activations_by_seq ON activations (run_id, seq, node_id);
  -- loadRun: only the activations that are not finished
  CREATE INDEX activations_live ON activations (run_id, seq, node_id) WHERE status IN ('running', 'retrying', 'failed');

  CREATE TABLE history (
    run_id TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    data   TEXT    NOT NULL,
    PRIMARY KEY (run_id, seq)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE outbox (
    id     TEXT    NOT NULL PRIMARY KEY,
    run_id TEXT    NOT NULL,
    due_at INTEGER NOT NULL,
    data   TEXT    NOT NULL
  ) STRICT;
  -- dueOutbox: oldest first (the rowid, implied in the index, breaks ties in write order)
  CREATE INDEX outbox_by_due ON outbox (due_at);
  `,
  // 2: the task catalog
  `
  CREATE TABLE tasks (
    name TEXT NOT NULL PRIMARY KEY,
    data TEXT NOT NULL
  ) STRICT;
  `,
  // 3: backlogs as rows (they were rewritten whole in the node's row on every notification)
  `
  CREATE TABLE backlog (
    run_id  TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    node_id TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    data    TEXT    NOT NULL,
    PRIMARY KEY (run_id, node_id, seq)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO backlog (run_id, node_id, seq, data)
    SELECT n.run_id, n.node_id, json_extract(e.value, '$.seq'), json_set(e.value, '$.node', n.node_id)
      FROM nodes n, json_each(n.data, '$.backlog') e;
  UPDATE nodes SET data = json_remove(data, '$.backlog') WHERE json_type(data, '$.backlog') IS NOT NULL;
  `,
  // 4: history in a rowid table, its rows appended in write order, found by a unique index on (run_id, seq). As a
  // WITHOUT ROWID table keyed by (run_id, seq) its rows were stored in the key's order: a batch stepping many runs
  // wrote one row into as many different leaf pages, each rewritten whole in the WAL (a third of a commit's cost).
  `
  CREATE TABLE history_rows (
    run_id TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    data   TEXT    NOT NULL
  ) STRICT;
  INSERT INTO history_rows (run_id, seq, data) SELECT run_id, seq, data FROM history ORDER BY run_id, seq;
  DROP TABLE history;
  ALTER TABLE history_rows RENAME TO history;
  CREATE UNIQUE INDEX history_by_run ON history (run_id, seq);
  `,
  // 5: the run's sequence counter in a column, so that a step that changes no other header field leaves the header
  // as it is (null in rows written before: their header is whole)
  `
  ALTER TABLE runs ADD COLUMN seq INTEGER;
  `,
  // 6: persistent listeners' held results as rows (they were rewritten whole in the node's row on every write of it)
  `
  CREATE TABLE held (
    run_id  TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    node_id TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    data    TEXT    NOT NULL,
    PRIMARY KEY (run_id, node_id, seq)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO held (run_id, node_id, seq, data)
    SELECT n.run_id, n.node_id, json_extract(e.value, '$.seq'), json_set(e.value, '$.node', n.node_id)
      FROM nodes n, json_each(n.data, '$.held') e
     WHERE json_valid(n.data);
  UPDATE nodes SET data = json_remove(data, '$.held') WHERE json_valid(data) AND json_type(data, '$.held') IS NOT NULL;
  `,
  // 7: node definitions and sources apart from the node's state: they were rewritten with it on every step (~75 % of
  // a node row's bytes), while they change only when the node is created or edited
  `
  CREATE TABLE node_defs (
    run_id TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    rev    INTEGER NOT NULL,
    data   TEXT    NOT NULL
  ) STRICT;
  CREATE UNIQUE INDEX node_defs_by_run ON node_defs (run_id, rev);
  INSERT INTO node_defs (run_id, rev, data)
    SELECT run_id, 0, json_group_array(json_object('def', data -> '$.def', 'sources', data -> '$.sources')) FROM nodes GROUP BY run_id;
  UPDATE nodes SET data = json_remove(data, '$.def', '$.sources');
  `,
  // 8: the history entries of a commit in one row (a JSON array; seq is the first entry's): a commit of a step wrote
  // two or three rows, each an entry in the unique index
  `
  UPDATE history SET data = '[' || data || ']';
  `,
  // 9: no index on nodes (run_id) alone: the primary key's index finds a run's nodes, and loadRun sorts them by rowid;
  // each created node wrote one more index entry (creation batches ~12 % cheaper without it)
  `
  DROP INDEX nodes_by_run;
  `,
  // 10: workers' heartbeat rows (`taskwire workers`, the task catalog's live workers)
  `
  CREATE TABLE workers (
    id      TEXT    PRIMARY KEY,
    beat_at INTEGER NOT NULL,
    data    TEXT    NOT NULL
  ) STRICT, WITHOUT ROWID;
  `,
  // 11: the dashboard's run listing: each run's first failure message (searched with LIKE, over the failed runs only),
  // filled in for the runs already there from their history's first node.failed entry
  `
  ALTER TABLE runs ADD COLUMN error TEXT;
  UPDATE runs SET error = (
    SELECT substr(coalesce(e.value ->> '$.detail.message', 'node "' || (e.value ->> '$.node') || '" failed'), 1, 1000)
      FROM history h, json_each(h.data) e
     WHERE h.run_id = runs.id AND json_valid(h.data) AND e.value ->> '$.type' = 'node.failed'
     ORDER BY h.seq, e.key LIMIT 1);
  CREATE INDEX runs_failed ON runs (created_at DESC, id DESC) WHERE error IS NOT NULL;
  `,
  // 12: cron schedules (`tw.schedule`, `taskwire schedules`): one row each, changed by compare-and-set on `version`
  `
  CREATE TABLE schedules (
    name    TEXT    PRIMARY KEY,
    version INTEGER NOT NULL,
    data    TEXT    NOT NULL
  ) STRICT, WITHOUT ROWID;
  `,
  // 13: flow-control gates (docs/flow-control.md): the lines of waiting executions, the permits held, the recent admissions
  `
  CREATE TABLE gate_waiters (
    seq      INTEGER PRIMARY KEY,
    gate     TEXT    NOT NULL,
    run_id   TEXT    NOT NULL,
    node_id  TEXT    NOT NULL,
    attempt  INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    data     TEXT    NOT NULL,
    UNIQUE (run_id, node_id, attempt)
  ) STRICT;
  CREATE INDEX gate_waiters_line ON gate_waiters (gate, priority DESC, seq);
  CREATE TABLE gate_permits (
    run_id  TEXT    NOT NULL,
    node_id TEXT    NOT NULL,
    attempt INTEGER NOT NULL,
    gate    TEXT    NOT NULL,
    PRIMARY KEY (run_id, node_id, attempt)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX gate_permits_gate ON gate_permits (gate);
  CREATE TABLE gate_rates (
    gate TEXT    NOT NULL,
    at   INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX gate_rates_gate ON gate_rates (gate, at);
  `,
];

/** The schema version this code writes: the number of {@link MIGRATIONS}. */
export const SCHEMA_VERSION: number = MIGRATIONS.length;

const WHAT_TO_DO = 'restore it from a backup or delete it (a new store is then created there), or point --store / TASKWIRE_STORE_URL at the right file';

/**
 * Checks, before opening, that an existing file at `path` can be a database:
 * SQLite would silently turn a 0-byte file into an empty store.
 *
 * @throws StoreError (`TW_STORE`, reason `EMPTY_FILE`) naming the file and what to do.
 */
export function checkDatabaseFile(path: string): void {
  if (path === ':memory:') return;
  const size = statSync(path, { throwIfNoEntry: false })?.size;
  if (size === 0) throw new StoreError(`SQLite store file "${path}" is empty (0 bytes), not a taskwire database: ${WHAT_TO_DO}`, 'EMPTY_FILE');
}

/**
 * The error to throw when opening `path` failed: a damaged or foreign file
 * becomes a StoreError (`TW_STORE`, reason `SQLITE_CORRUPT` or `SQLITE_NOTADB`)
 * naming the file and what to do; other errors are returned as they are.
 */
export function openError(error: unknown, path: string): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') {
    const what = code === 'SQLITE_CORRUPT' ? 'is damaged (database disk image is malformed)' : 'is not a SQLite database';
    return new StoreError(`SQLite store file "${path}" ${what}: ${WHAT_TO_DO}`, code);
  }
  return error;
}

/**
 * Brings a database to {@link SCHEMA_VERSION}, applying each missing migration
 * and its `user_version` bump in one immediate transaction (so two processes
 * opening the same new file do not both migrate it).
 *
 * @returns the version the database was at before.
 * @throws ConfigError when the database was written by a newer taskwire.
 */
export function migrate(db: Database.Database): number {
  const version = (): number => db.pragma('user_version', { simple: true }) as number;
  const before = version();
  if (before > SCHEMA_VERSION) {
    throw new ConfigError(`SQLite database "${db.name}" has schema version ${before}, newer than this taskwire's ${SCHEMA_VERSION}: upgrade taskwire`);
  }
  for (let target = before + 1; target <= SCHEMA_VERSION; target++) {
    const apply = db.transaction(() => {
      if (version() >= target) return; // another process migrated it meanwhile
      db.exec(MIGRATIONS[target - 1] as string);
      db.pragma(`user_version = ${target}`);
    });
    apply.immediate();
  }
  return before;
}
