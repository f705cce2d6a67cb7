/**
 * A run with the indexes the engine derives from it (never persisted): who
 * listens to whom, how many nodes are in each state, which nodes are events.
 *
 * @packageDocumentation
 */
import type { LinkDefinition } from '../model/definition.js';
import type { ActivationState, NodeState, NodeStatus, RunState, UndoStatus } from './state.js';

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
  /** Links that carry a condition (see `engine/conditions.ts`). */
  conditional: number;
  /** Per sources array, how many leading sources are known to have notified (see `sourcesNotified`). */
  notifiedSources: WeakMap<readonly unknown[], number>;
  /**
   * Per persistent listener, its activations that may be live, in seq order
   * (see {@link earliestLive}); built from the state when first needed, and
   * dropped ({@link forgetLiveOrder}) when a refused change list is undone.
   */
  liveOrder?: Map<string, LiveQueue>;
  /**
   * Per running map node, its children started and live; derived from the
   * state when first needed (see `engine/map.ts`), dropped with {@link forgetLiveOrder}.
   */
  maps?: Map<string, MapProgress>;
}

/** How far a running map node is: children started (in element order), and of them those running or retrying. */
export interface MapProgress {
  /** Children started (element indexes `0 … started - 1`). */
  started: number;
  /** Started children that are running or retrying. */
  live: number;
}

/** A node's activations that may be live, in seq order, from `head` on (those before it have finished). */
interface LiveQueue {
  /** Activations, ascending by seq; those at `head` and after may be live, every live one is there. */
  items: ActivationState[];
  /** The first item not known to be finished. */
  head: number;
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

function isLive(activation: ActivationState): boolean {
  return activation.status === 'running' || activation.status === 'retrying';
}

/** The live activations of every node, each node's in seq order. */
function buildLiveOrder(state: RunState): Map<string, LiveQueue> {
  const order = new Map<string, LiveQueue>();
  for (const activation of state.activations.values()) {
    if (!isLive(activation)) continue;
    const queue = order.get(activation.node);
    if (queue === undefined) order.set(activation.node, { items: [activation], head: 0 });
    else queue.items.push(activation);
  }
  for (const queue of order.values()) queue.items.sort((a, b) => a.seq - b.seq);
  return order;
}

/**
 * Records that `activation` became live (started, or retried by hand). Amortized
 * O(1) for a new activation (the highest seq so far); a retried one is put in its place.
 */
export function addLive(index: RunIndex, activation: ActivationState): void {
  const order = index.liveOrder;
  if (order === undefined) return; // built from the state when first needed
  const queue = order.get(activation.node);
  if (queue === undefined) {
    order.set(activation.node, { items: [activation], head: 0 });
    return;
  }
  const items = queue.items;
  let at = items.length;
  while (at > queue.head && (items[at - 1] as ActivationState).seq > activation.seq) at--;
  if (at > queue.head && items[at - 1] === activation) return; // already there
  if (at === items.length) items.push(activation);
  else items.splice(at, 0, activation);
}

/**
 * The lowest seq of node `id`'s running or retrying activations (Infinity if
 * none): amortized O(1), finished activations are passed over once.
 */
export function earliestLive(live: LiveRun, id: string): number {
  if (live.index.liveActivations === 0) return Infinity;
  const order = (live.index.liveOrder ??= buildLiveOrder(live.state));
  const queue = order.get(id);
  if (queue === undefined) return Infinity;
  const items = queue.items;
  while (queue.head < items.length && !isLive(items[queue.head] as ActivationState)) queue.head++;
  if (queue.head === items.length) {
    order.delete(id);
    return Infinity;
  }
  if (queue.head >= 1024 && queue.head * 2 >= items.length) {
    queue.items = items.slice(queue.head);
    queue.head = 0;
  }
  return (queue.items[queue.head] as ActivationState).seq;
}

/** Drops the live activation order and the map children started (rebuilt from the state when next needed): the state was put back by an undo. */
export function forgetLiveOrder(index: RunIndex): void {
  delete index.liveOrder;
  delete index.maps;
}

/** Builds the indexes of a run (after loading it from a store). */
export function liveRun(state: RunState): LiveRun {
  const index: RunIndex = { outgoing: new Map(), counts: emptyCounts(), undoing: 0, undoFailed: 0, liveActivations: 0, persistent: 0, conditional: 0, notifiedSources: new WeakMap() };
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
  if (link.condition !== undefined) index.conditional++;
  const list = index.outgoing.get(link.from);
  if (list === undefined) index.outgoing.set(link.from, [link]);
  else list.push(link);
}

/** Drops a link from the outgoing index. */
export function removeOutgoing(index: RunIndex, link: LinkDefinition): void {
  const list = index.outgoing.get(link.from);
  if (list === undefined) return;
  const at = list.findIndex((l) => l.to === link.to);
  if (at < 0) return;
  if ((list[at] as LinkDefinition).condition !== undefined) index.conditional--;
  list.splice(at, 1);
}
