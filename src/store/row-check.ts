/**
 * Checks of the rows a store reads back. A store trusts the rows it wrote, but
 * a database can be edited by hand or corrupted: a row that is not JSON, not an
 * object, or lacks a field the engine relies on is refused with a
 * {@link CorruptRowError} (`TW_STORE`) naming the table, the run and the field,
 * instead of a bare `SyntaxError` or `TypeError` later.
 *
 * The check is a shape check ({@link shape}: nothing is copied), once per row: the fields the store and the
 * engine key on and the type of each top-level field, not the values inside
 * (inputs, results and details are not walked). It runs on every `loadRun`
 * and must stay cheap.
 *
 * @packageDocumentation
 */
import { array, boolean, check, integer, literal, matching, number, optional, shape, string, type Schema } from '../codec/schema.js';
import type { HistoryEntry } from '../engine/events.js';
import { RUN_STATUSES, type ActivationState, type ActivationStatus, type NodeState, type NodeStatus, type RunHeader, type RunStatus } from '../engine/state.js';
import { CorruptRowError, DecodeError } from '../errors.js';
import type { BacklogRow, HeldRow } from './port.js';

const NODE_STATUSES = ['waiting', 'running', 'retrying', 'succeeded', 'failed', 'skipped', 'cancelled', 'listening'] as const;
const ACTIVATION_STATUSES = ['running', 'retrying', 'succeeded', 'failed', 'cancelled'] as const;

// Compile-time guards: the lists above must cover the unions of state.ts.
type Missing<All, Listed> = Exclude<All, Listed>;
const complete: [Missing<NodeStatus, (typeof NODE_STATUSES)[number]>, Missing<ActivationStatus, (typeof ACTIVATION_STATUSES)[number]>] extends [never, never] ? true : never = true;
void complete;

/** An object (not null, not an array); its content is not walked. */
const anObject = matching('an object', (v): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v));
/** An array; its items are not walked. */
const anArray = matching('an array', (v): v is unknown[] => Array.isArray(v));
const text = string();
const int = integer();
const flag = optional(boolean());

/** What a table's JSON column must hold. */
export interface RowKind<T> {
  /** The table. */
  readonly table: 'runs' | 'nodes' | 'node_defs' | 'activations' | 'backlog' | 'held' | 'history';
  /** The JSON column. */
  readonly column: 'header' | 'data';
  /** The shape checked (the value returned is the row itself, not a copy). */
  readonly schema: Schema<unknown>;
  /** Only carries `T`. */
  readonly type?: T;
}

/** A run's header (`runs.header`). */
export const RUN_ROW: RowKind<RunHeader> = {
  table: 'runs',
  column: 'header',
  schema: shape({
    id: text,
    flow: text,
    status: literal(...RUN_STATUSES),
    rev: int,
    graphVersion: int,
    onFailure: text,
    inputs: anObject,
    seq: int,
    validate: flag,
    stopped: flag,
    cancelled: flag,
    saga: flag,
    createdAt: number(),
    updatedAt: number(),
    traceparent: optional(text),
    eventIds: optional(anArray),
  }),
};

/** A node (`nodes.data`). */
export const NODE_ROW: RowKind<NodeState> = {
  table: 'nodes',
  column: 'data',
  schema: shape({
    def: shape({ id: text, kind: literal('task', 'event'), name: text }),
    sources: anArray,
    status: literal(...NODE_STATUSES),
    attempt: int,
    inputs: optional(anObject),
    held: optional(anArray),
  }),
};

/** A node's state without its definition and sources (SQLite's `nodes.data`: see {@link NODE_DEFS_ROW}). */
export const NODE_STATE_ROW: RowKind<Omit<NodeState, 'def' | 'sources'>> = {
  table: 'nodes',
  column: 'data',
  schema: shape({ status: literal(...NODE_STATUSES), attempt: int, inputs: optional(anObject), held: optional(anArray) }),
};

/** The definitions and sources of the nodes a commit wrote (SQLite's `node_defs.data`). */
export const NODE_DEFS_ROW: RowKind<Pick<NodeState, 'def' | 'sources'>[]> = {
  table: 'node_defs',
  column: 'data',
  schema: array(shape({ def: shape({ id: text, kind: literal('task', 'event'), name: text }), sources: anArray })),
};

/** A persistent listener's activation (`activations.data`). */
export const ACTIVATION_ROW: RowKind<ActivationState> = {
  table: 'activations',
  column: 'data',
  schema: shape({ node: text, seq: int, from: text, status: literal(...ACTIVATION_STATUSES), attempt: int, inputs: anObject, queuedAt: optional(number()), startedAt: optional(number()) }),
};

/** A backlogged notification (`backlog.data`). */
export const BACKLOG_ROW: RowKind<BacklogRow> = {
  table: 'backlog',
  column: 'data',
  schema: shape({ node: text, seq: int, from: text }),
};

/** A persistent listener's held result (`held.data`). */
export const HELD_ROW: RowKind<HeldRow> = {
  table: 'held',
  column: 'data',
  schema: shape({ node: text, seq: int }),
};

const HISTORY_ENTRY = shape({ runId: text, seq: int, at: number(), type: text, graphVersion: int, node: optional(text), detail: optional(anObject) });

/** A history entry (`history.data`). */
export const HISTORY_ROW: RowKind<HistoryEntry> = { table: 'history', column: 'data', schema: HISTORY_ENTRY };

/** The history entries of one commit of a run, in order (SQLite's `history.data`). */
export const HISTORY_ENTRIES_ROW: RowKind<HistoryEntry[]> = { table: 'history', column: 'data', schema: array(HISTORY_ENTRY) };

/**
 * A row's JSON column read back: parsed when it is JSON text (SQLite's text
 * columns, PostgreSQL's `jsonb` strings that wrap what `jsonb` cannot hold),
 * then checked against `kind`.
 *
 * @param runId - The run the row was read for, named in the error.
 * @throws CorruptRowError when the column is not JSON or not shaped as `kind` says.
 */
export function readRow<T>(kind: RowKind<T>, runId: string, data: unknown): T {
  let value = data;
  if (typeof data === 'string') {
    try {
      value = JSON.parse(data);
    } catch (error) {
      throw new CorruptRowError(kind.table, runId, `column "${kind.column}" is not JSON (${(error as Error).message})`, { cause: error });
    }
  }
  try {
    check(kind.schema, value, `column "${kind.column}"`);
  } catch (error) {
    if (error instanceof DecodeError) throw new CorruptRowError(kind.table, runId, error.message.replace(/^invalid /, ''), { cause: error });
    throw error;
  }
  return value as T;
}

/**
 * The columns of a `runs` row that hold the header fields every step changes:
 * the latest values, where the `header` column may hold older ones (a step
 * that changes no other header field leaves it as it is: see
 * `StepCommit.headerChanged`).
 */
export interface HeaderColumns {
  /** `runs.status`. */
  status: string;
  /** `runs.rev`. */
  rev: number;
  /** `runs.graph_version`. */
  graph_version: number;
  /** `runs.updated_at` (PostgreSQL's `bigint` comes as a string). */
  updated_at: number | string;
  /** `runs.seq`; null in rows written before the column, whose header is whole. */
  seq: number | null;
}

/**
 * A run's header, checked as {@link readRow} does, and that it is the header
 * of `runId`; with the row's `columns` when the header is older than the row
 * (its `rev` is not the row's).
 */
export function readHeader(runId: string, data: unknown, columns: HeaderColumns): RunHeader {
  const header = readRow(RUN_ROW, runId, data);
  if (header.id !== runId) throw new CorruptRowError('runs', runId, `column "header": field "id" holds another run id, ${JSON.stringify(header.id)}`);
  if (header.rev === columns.rev) return header;
  if (columns.seq === null) throw new CorruptRowError('runs', runId, `column "header": field "rev" is ${header.rev}, the row's is ${columns.rev}, and column "seq" is null`);
  header.status = readStatus(runId, columns.status);
  header.rev = columns.rev;
  header.graphVersion = columns.graph_version;
  header.updatedAt = Number(columns.updated_at);
  header.seq = columns.seq;
  return header;
}

/** A `runs.status` column read back (as `listRuns` returns it). */
export function readStatus(runId: string, status: unknown): RunStatus {
  if (!(RUN_STATUSES as readonly unknown[]).includes(status)) {
    throw new CorruptRowError('runs', runId, `column "status" expected one of ${RUN_STATUSES.join(', ')}, got ${JSON.stringify(status)}`);
  }
  return status as RunStatus;
}
