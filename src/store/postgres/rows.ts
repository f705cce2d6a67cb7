/**
 * Rows in and out of PostgreSQL. Batches go in as one JSON array per table
 * (expanded by `jsonb_to_recordset`), built as text so that each object is
 * serialised once.
 *
 * `jsonb` cannot hold the character U+0000 nor a lone UTF-16 surrogate, which
 * JavaScript strings (and so task results) can. An object whose JSON has such
 * an escape is stored as a JSON string holding its JSON text instead; the rows
 * the store writes are always objects, so a string read back is such a
 * wrapper and is parsed again.
 *
 * @packageDocumentation
 */
import { firstFailure } from '../run-listing.js';
import { activationKey, type ActivationState, type NodeState, type RunState } from '../../engine/state.js';
import { attachBacklogs, attachHeld, nodeRow } from '../backlog.js';
import type { OutboxItem } from '../port.js';
import { ACTIVATION_ROW, BACKLOG_ROW, HELD_ROW, NODE_ROW, readHeader, readRow, type HeaderColumns } from '../row-check.js';
import type { RunPlan } from './plan.js';

const UNSUPPORTED_ESCAPE = /\\u(?:0000|d[89a-f])/i;

/** The JSON text of `value` as stored in a `jsonb` column (wrapped in a string when `jsonb` could not hold it). */
export function jsonbText(value: unknown): string {
  const text = JSON.stringify(value);
  return UNSUPPORTED_ESCAPE.test(text) ? JSON.stringify(text) : text;
}

/** A value read from a `jsonb` column written with {@link jsonbText}. */
export function fromJsonb<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

/** An epoch time as a `bigint` column value (rounded; `due` times are rounded up so they are never early). */
export function epoch(ms: number, round: (x: number) => number = Math.round): number {
  return Number.isFinite(ms) ? round(ms) : 0;
}

/** One JSON object: `fields` (plain values) plus a `data` member holding `data` (JSON text). */
function record(fields: Record<string, unknown>, data: string): string {
  return `${JSON.stringify(fields).slice(0, -1)},"data":${data}}`;
}

/**
 * The `runs` rows of `plans`, each with the `from_rev` it is written at (0:
 * inserted) and its shard; `header` only where the plan changes it (absent:
 * null, the stored header is kept); `error` the first failure message of the
 * plan's history (null: none; a run's stored one is kept).
 */
export function runRows(plans: readonly RunPlan[]): string {
  const rows = plans.map((plan) => {
    const h = plan.header;
    const fields = {
      id: plan.id,
      from_rev: plan.fromRev,
      shard: plan.shard,
      flow: h.flow,
      status: h.status,
      rev: h.rev,
      graph_version: h.graphVersion,
      created_at: epoch(h.createdAt),
      updated_at: epoch(h.updatedAt),
      seq: h.seq,
      error: firstFailure(plan.history) ?? null,
    };
    const text = JSON.stringify(fields);
    return plan.headerChanged ? `${text.slice(0, -1)},"header":${jsonbText(h)}}` : text;
  });
  return `[${rows.join(',')}]`;
}

/** The node keys `plans` delete. */
export function removedRows(plans: readonly RunPlan[]): string {
  const rows: { run_id: string; from_rev: number; node_id: string }[] = [];
  for (const plan of plans) for (const node of plan.removed) rows.push({ run_id: plan.id, from_rev: plan.fromRev, node_id: node });
  return JSON.stringify(rows);
}

/** The `nodes` rows of `plans`. */
export function nodeRows(plans: readonly RunPlan[]): string {
  const rows: string[] = [];
  for (const plan of plans) {
    for (const [id, node] of plan.nodes) {
      const fields = { run_id: plan.id, from_rev: plan.fromRev, node_id: id, kind: node.def.kind, name: node.def.name, status: node.status };
      rows.push(record(fields, jsonbText(nodeRow(node))));
    }
  }
  return `[${rows.join(',')}]`;
}

/** The `activations` rows of `plans`. */
export function activationRows(plans: readonly RunPlan[]): string {
  const rows: string[] = [];
  for (const plan of plans) {
    for (const a of plan.activations.values()) {
      rows.push(record({ run_id: plan.id, from_rev: plan.fromRev, node_id: a.node, seq: a.seq, status: a.status }, jsonbText(a)));
    }
  }
  return `[${rows.join(',')}]`;
}

/** The node keys whose backlog `plans` delete. */
export function clearedRows(plans: readonly RunPlan[]): string {
  const rows: { run_id: string; from_rev: number; node_id: string }[] = [];
  for (const plan of plans) for (const node of plan.cleared) rows.push({ run_id: plan.id, from_rev: plan.fromRev, node_id: node });
  return JSON.stringify(rows);
}

/** The `backlog` rows of `plans`. */
export function backlogRows(plans: readonly RunPlan[]): string {
  const rows: string[] = [];
  for (const plan of plans) {
    for (const row of plan.backlog) rows.push(record({ run_id: plan.id, from_rev: plan.fromRev, node_id: row.node, seq: row.seq }, jsonbText(row)));
  }
  return `[${rows.join(',')}]`;
}

/** The held rows `plans` delete: per node, those with a seq up to `up_to`. */
export function releasedRows(plans: readonly RunPlan[]): string {
  const rows: { run_id: string; from_rev: number; node_id: string; up_to: number }[] = [];
  for (const plan of plans) for (const [node, upTo] of plan.released) rows.push({ run_id: plan.id, from_rev: plan.fromRev, node_id: node, up_to: upTo });
  return JSON.stringify(rows);
}

/** The `held` rows of `plans`. */
export function heldRows(plans: readonly RunPlan[]): string {
  const rows: string[] = [];
  for (const plan of plans) {
    for (const row of plan.held) rows.push(record({ run_id: plan.id, from_rev: plan.fromRev, node_id: row.node, seq: row.seq }, jsonbText(row)));
  }
  return `[${rows.join(',')}]`;
}

/** The `history` rows of `plans`. */
export function historyRows(plans: readonly RunPlan[]): string {
  const rows: string[] = [];
  for (const plan of plans) for (const entry of plan.history) rows.push(record({ run_id: plan.id, from_rev: plan.fromRev, seq: entry.seq }, jsonbText(entry)));
  return `[${rows.join(',')}]`;
}

/**
 * The `outbox` rows of `plans`, in the order their items were first added to
 * the batch, each with the shard of its run; `commit_run` is the run whose
 * commit adds the item (the row is written with that run).
 */
export function outboxRows(plans: readonly RunPlan[]): string {
  const planned = plans.flatMap((plan) => [...plan.outbox.values()].map((entry) => ({ plan, entry })));
  planned.sort((a, b) => a.entry.position - b.entry.position);
  const rows = planned.map(({ plan, entry: { item, shard } }) =>
    record({ id: item.id, run_id: item.runId, shard, commit_run: plan.id, from_rev: plan.fromRev, due_at: epoch(item.dueAt, Math.ceil) }, jsonbText(item)),
  );
  return `[${rows.join(',')}]`;
}

/** An outbox item read back. */
export const outboxItem = (data: unknown): OutboxItem => fromJsonb<OutboxItem>(data);

/**
 * The row of the `loadRun` statement: the header, the columns of the fields
 * every step changes, and the JSON arrays of the run's nodes, live
 * activations and backlog.
 */
export interface LoadedRow extends HeaderColumns {
  /** `runs.header`. */
  header: unknown;
  /** `nodes.data`, in insertion order. */
  nodes: unknown[];
  /** `activations.data` of the live (and owed) activations, in insertion order. */
  activations: unknown[];
  /** `backlog.data`, in notification order. */
  backlog: unknown[];
  /** `held.data`, by node, in seq order. */
  held: unknown[];
}

/** The run `row` holds, each row checked (see `row-check.ts`). @throws CorruptRowError on a row not shaped as the store writes it. */
export function loadedRun(runId: string, row: LoadedRow): RunState {
  const header = readHeader(runId, row.header, row);
  const nodes = new Map<string, NodeState>();
  for (const data of row.nodes) {
    const node = readRow(NODE_ROW, runId, data);
    nodes.set(node.def.id, node);
  }
  const activations = new Map<string, ActivationState>();
  for (const data of row.activations) {
    const activation = readRow(ACTIVATION_ROW, runId, data);
    // where the header or the row is kept as a JSON string, succeeded rows are read whether owed or not (see load-run.ts)
    if (activation.status === 'succeeded' && (activation.compensate !== true || header.onFailure !== 'rollback')) continue;
    activations.set(activationKey(activation.node, activation.seq), activation);
  }
  attachBacklogs(nodes, row.backlog.map((data) => readRow(BACKLOG_ROW, runId, data)));
  attachHeld(nodes, row.held.map((data) => readRow(HELD_ROW, runId, data)));
  return { ...header, nodes, activations };
}
