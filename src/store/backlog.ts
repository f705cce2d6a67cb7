/**
 * Persistent listeners' backlogs, as every store keeps them: one row per
 * waiting notification, apart from the node's row (see `StepCommit.backlog`).
 *
 * @packageDocumentation
 */
import type { Backlogged, NodeState } from '../engine/state.js';
import type { BacklogRow } from './port.js';

/**
 * A node as its row holds it: without its backlog. A new object (one level
 * deep). A node without a backlog is spread: an object rest takes V8's slow
 * path (~0.5 µs against ~0.05 µs), and this runs for every node of every commit.
 */
export function nodeRow(node: NodeState): NodeState {
  if (!('backlog' in node)) return { ...node };
  const { backlog: _backlog, ...row } = node;
  return row;
}

/** The rows of backlog entries a step appended (`StepOutput.backlog`: entries by node id). */
export function backlogRows(appended: ReadonlyMap<string, readonly Backlogged[]>): BacklogRow[] {
  const rows: BacklogRow[] = [];
  for (const [node, entries] of appended) for (const entry of entries) rows.push({ node, ...entry });
  return rows;
}

/** Gives loaded nodes their backlog back from its rows (any node order, each node's rows in order). */
export function attachBacklogs(nodes: ReadonlyMap<string, NodeState>, rows: Iterable<BacklogRow>): void {
  for (const { node: id, ...entry } of rows) {
    const node = nodes.get(id);
    if (node === undefined) continue;
    const backlogged: Backlogged = entry;
    if (node.backlog === undefined) node.backlog = [backlogged];
    else node.backlog.push(backlogged);
  }
}
