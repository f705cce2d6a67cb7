/**
 * A run with the indexes the engine derives from it (never persisted): who
 * listens to whom, how many nodes are in each state, which nodes are events.
 *
 * @packageDocumentation
 */
import type { LinkDefinition } from '../model/definition.js';
import type { NodeState, NodeStatus, RunState, UndoStatus } from './state.js';

/** Indexes derived from a run's state. */
export interface RunIndex {
  /** Outgoing links by source id. */
  outgoing: Map<string, LinkDefinition[]>;
  /** Number of nodes per status. */
  counts: Record<NodeStatus, number>;
  /** Nodes and activations whose rollback is running. */
  undoing: number;
  /** Nodes and activations whose rollback failed. */
  undoFailed: number;
  /** Activations that are running or retrying. */
  liveActivations: number;
  /** Persistent task nodes. */
  persistent: number;
  /** Per sources array, how many leading sources are known to have notified (see `sourcesNotified`). */
  notifiedSources: WeakMap<readonly unknown[], number>;
}

/** A run and its indexes: what the engine steps. */
export interface LiveRun {
  /** The persisted state. */
  state: RunState;
  /** The derived indexes. */
  index: RunIndex;
}

function emptyCounts(): Record<NodeStatus, number> {
  return { waiting: 0, running: 0, retrying: 0, succeeded: 0, failed: 0, skipped: 0, cancelled: 0, listening: 0 };
}

/** Builds the indexes of a run (after loading it from a store). */
export function liveRun(state: RunState): LiveRun {
  const index: RunIndex = { outgoing: new Map(), counts: emptyCounts(), undoing: 0, undoFailed: 0, liveActivations: 0, persistent: 0, notifiedSources: new WeakMap() };
  for (const node of state.nodes.values()) addToIndex(index, node);
  for (const activation of state.activations.values()) {
    if (activation.status === 'running' || activation.status === 'retrying') index.liveActivations++;
    countUndo(index, activation.undo, 1);
  }
  return { state, index };
}

/** Adds a node (and its incoming links) to the indexes. */
export function addToIndex(index: RunIndex, node: NodeState): void {
  index.counts[node.status]++;
  countUndo(index, node.undo, 1);
  if (node.def.persistent && node.def.kind === 'task') index.persistent++;
  for (const link of node.sources) addOutgoing(index, link);
}

/** Removes a node (and its incoming links) from the indexes. */
export function removeFromIndex(index: RunIndex, node: NodeState): void {
  index.counts[node.status]--;
  countUndo(index, node.undo, -1);
  if (node.def.persistent && node.def.kind === 'task') index.persistent--;
  for (const link of node.sources) removeOutgoing(index, link);
}

/** Counts (`by` 1) or uncounts (`by` -1) a rollback state in the indexes. */
export function countUndo(index: RunIndex, undo: UndoStatus | undefined, by: 1 | -1): void {
  if (undo === 'running') index.undoing += by;
  if (undo === 'failed') index.undoFailed += by;
}

/** Records a link in the outgoing index. */
export function addOutgoing(index: RunIndex, link: LinkDefinition): void {
  const list = index.outgoing.get(link.from);
  if (list === undefined) index.outgoing.set(link.from, [link]);
  else list.push(link);
}

/** Drops a link from the outgoing index. */
export function removeOutgoing(index: RunIndex, link: LinkDefinition): void {
  const list = index.outgoing.get(link.from);
  if (list === undefined) return;
  const at = list.findIndex((l) => l.to === link.to);
  if (at >= 0) list.splice(at, 1);
}
