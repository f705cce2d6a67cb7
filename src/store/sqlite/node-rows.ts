/**
 * The SQLite store's node rows: a node's state in `nodes.data`, rewritten by
 * every step that changes the node, and its definition and sources in
 * `node_defs`, written only when they change (see `StepCommit.defs`): they are
 * most of a node's bytes and a step never changes them.
 *
 * @packageDocumentation
 */
import type { NodeState } from '../../engine/state.js';
import { CorruptRowError } from '../../errors.js';
import { NODE_DEFS_ROW, NODE_STATE_ROW, readRow } from '../row-check.js';

/** A `nodes` row as `loadRun` reads it. */
export interface NodeStateRow {
  /** `nodes.node_id`. */
  node_id: string;
  /** `nodes.data`: the node's state (see {@link nodeStateText}). */
  data: string;
}

/**
 * The JSON text of a node's state: the node without its definition, sources,
 * backlog and held results (the backlog and the held results have rows of their
 * own). The fields left out are set to undefined on a copy, which
 * `JSON.stringify` skips: spreading an object and then setting properties it
 * has stays on V8's fast path.
 */
export function nodeStateText(node: NodeState): string {
  return JSON.stringify(
    'backlog' in node || 'held' in node
      ? { ...node, def: undefined, sources: undefined, backlog: undefined, held: undefined }
      : { ...node, def: undefined, sources: undefined },
  );
}

/** The JSON text of a `node_defs` row: the definition and sources of each of `nodes`. */
export function nodeDefsText(nodes: readonly NodeState[]): string {
  return JSON.stringify(nodes.map((node) => ({ def: node.def, sources: node.sources })));
}

/**
 * A run's nodes from its `node_defs` rows (in revision order: a later row's
 * definition of a node replaces an earlier one's) and its `nodes` rows (in
 * the run's node order), without backlogs.
 *
 * @throws CorruptRowError when a row is not JSON or not shaped as written, or a node has no definition.
 */
export function loadedNodes(runId: string, defRows: Iterable<{ data: string }>, stateRows: Iterable<NodeStateRow>): Map<string, NodeState> {
  const defs = new Map<string, Pick<NodeState, 'def' | 'sources'>>();
  for (const { data } of defRows) for (const entry of readRow(NODE_DEFS_ROW, runId, data)) defs.set(entry.def.id, entry);
  const nodes = new Map<string, NodeState>();
  for (const { node_id: id, data } of stateRows) {
    const state = readRow(NODE_STATE_ROW, runId, data);
    const entry = defs.get(id);
    if (entry === undefined) throw new CorruptRowError('nodes', runId, `node "${id}" has no definition in table node_defs`);
    nodes.set(id, { def: entry.def, sources: entry.sources, ...state });
  }
  return nodes;
}
