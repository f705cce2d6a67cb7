/**
 * Persistent listeners' backlogs and held results, as every store keeps them:
 * one row per waiting notification or held result, apart from the node's row
 * (see `StepCommit.backlog`, `StepCommit.held`).
 *
 * @packageDocumentation
 */
import type { Backlogged, Held, NodeState } from '../engine/state.js';
import type { BacklogRow, HeldRow } from './port.js';

/**
 * A node as its row holds it: without its backlog and held results. A new
 * object (one level deep). A node without either is spread: an object rest
 * takes V8's slow path (~0.5 µs against ~0.05 µs), and this runs for every
 * node of every commit.
 */
export function nodeRow(node: NodeState): NodeState {
  if (!('backlog' in node) && !('held' in node)) return { ...node };
  const { backlog: _backlog, held: _held, ...row } = node;
  return row;
}

/** The held rows a step appended (`StepOutput.held`: entries by node id), but those of nodes in `removed`. */
export function heldRows(appended: ReadonlyMap<string, readonly Held[]>, removed: ReadonlySet<string>): HeldRow[] {
  const rows: HeldRow[] = [];
  for (const [node, entries] of appended) if (!removed.has(node)) for (const entry of entries) rows.push({ node, ...entry });
  return rows;
}

/** Gives loaded nodes their held results back from their rows (any order: each node's are sorted by seq). */
export function attachHeld(nodes: ReadonlyMap<string, NodeState>, rows: Iterable<HeldRow>): void {
  const touched = new Set<NodeState>();
  for (const { node: id, ...entry } of rows) {
    const node = nodes.get(id);
    if (node === undefined) continue;
    (node.held ??= []).push(entry);
    touched.add(node);
  }
  for (const node of touched) node.held?.sort((a, b) => a.seq - b.seq);
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
