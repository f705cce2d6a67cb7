/**
 * What the client shows of a run: decoded, plain, stable.
 *
 * @packageDocumentation
 */
import { decodeValue } from '../codec/value.js';
import { inspectRun, isQueued, type ActivationState, type RunState, type NodeStatus, type SkipReason, type UndoStatus, type WaitingInfo } from '../engine/index.js';
import type { Failure } from '../model/failure.js';
import { childName } from '../model/map.js';
import type { RunSummary } from '../store/port.js';

/**
 * A node's state as views show it: the engine's {@link NodeStatus}, with
 * `running` split in two: `queued` (dispatched, no worker has reported
 * starting it) and `running` (a worker is executing it).
 */
export type NodeViewStatus = NodeStatus | 'queued';

/** One node of a {@link RunSnapshot}. */
export interface NodeSnapshot {
  /** Node id. */
  id: string;
  /** `task` or `event`. */
  kind: 'task' | 'event';
  /** Task or event name. */
  name: string;
  /** Node state (`queued` apart from `running`). */
  status: NodeViewStatus;
  /** Attempts made so far. */
  attempt: number;
  /** Whether the node is a persistent listener. */
  persistent: boolean;
  /** The subflow the node belongs to (its innermost scope, a key of `RunSnapshot.scopes`); unset at the top level. */
  scope?: string;
  /** The decoded inputs its current (or last) attempt was dispatched with; unset before its first dispatch. */
  inputs?: Record<string, unknown>;
  /** The decoded result (latest one for persistent nodes and events). */
  result?: unknown;
  /** Failure of the last attempt. */
  error?: Failure;
  /** For a node skipped by conditions: why, and how far the skip reaches (docs/conditions.md). */
  skip?: SkipReason;
  /** Rollback state. */
  undo?: UndoStatus;
  /** Failure of the rollback. */
  undoError?: Failure;
  /** When the current attempt was dispatched (epoch ms). */
  queuedAt?: number;
  /**
   * When a worker started the current attempt (epoch ms); unset while queued.
   * `startedAt - queuedAt` is its time in the queue, `finishedAt - startedAt` its run time.
   */
  startedAt?: number;
  /** When the node finished (epoch ms). */
  finishedAt?: number;
  /** For a waiting node: what it still waits for. */
  waitingFor?: WaitingInfo;
  /**
   * For a waiting node held by a flow-control gate (its task's `limit` or
   * `rate`, docs/flow-control.md): the gate. It starts when admitted; it is not running.
   */
  throttled?: string;
  /** For a persistent listener: how many of its activations are in each state ({@link ActivationCounts}). */
  activations?: ActivationCounts;
  /** For a map node, once started: its children, counted by state, and those the run keeps by name (see {@link MapSnapshot}). */
  map?: MapSnapshot;
}

/**
 * A map node's children in a {@link NodeSnapshot} (docs/map-collect.md):
 * counts by state, and, by name (`node[i]`), the children that are not done:
 * running, queued, retrying or failed (succeeded ones are only counted, so
 * that a map of 100,000 elements does not make a status of 100,000 entries).
 */
export interface MapSnapshot {
  /** Elements in the list. */
  total: number;
  /** Children that succeeded. */
  succeeded: number;
  /** Children that failed after their retries (until retried by hand). */
  failed: number;
  /** Children dispatched, their start not reported yet. */
  queued: number;
  /** Children executing. */
  running: number;
  /** Children waiting for a scheduled retry. */
  retrying: number;
  /** Children not started yet (held back by `concurrency`, or never started: the node failed or was cancelled first). */
  pending: number;
  /** The children not done, by name `node[i]`, in element order. */
  children: Record<string, MapChildSnapshot>;
}

/** One child of a map node in a {@link MapSnapshot}. */
export interface MapChildSnapshot {
  /** Its element index. */
  index: number;
  /** Its state (`queued` apart from `running`). */
  status: NodeViewStatus;
  /** Attempts made so far. */
  attempt: number;
  /** Failure of its last attempt. */
  error?: Failure;
}

/**
 * How many activations of a persistent listener are in each state, counted from
 * the run state (no store query): the succeeded ones from the notifications it
 * has passed on and the results it holds back, the others from the activations
 * the run keeps. Cancelled activations are not counted (the run does not keep
 * them); `run.activations(node)` lists every activation.
 */
export interface ActivationCounts {
  /** Activations that succeeded. */
  succeeded: number;
  /** Activations that failed after their retries (until retried by hand). */
  failed: number;
  /** Activations dispatched, their start not reported yet. */
  queued: number;
  /** Activations executing. */
  running: number;
  /** Activations waiting for a scheduled retry. */
  retrying: number;
}

/** A run as the client sees it: its summary, every node, and the cycle it stalls on. */
export interface RunSnapshot extends RunSummary {
  /** Every node, by id. */
  nodes: Record<string, NodeSnapshot>;
  /** When waiting nodes form a cycle (the run stalls): its path. */
  cycle?: string[];
  /** The subflows' scopes by id, outermost first (see docs/subflows.md); unset when the flow has none. */
  scopes?: Record<string, ScopeSnapshot>;
}

/** A subflow's scope in a {@link RunSnapshot}. */
export interface ScopeSnapshot {
  /** Its own failure policy. */
  onFailure: 'halt' | 'rollback';
  /** Scope retries allowed. */
  retry: number;
  /** Which attempt of the scope runs (1 for its first). */
  attempt: number;
  /** Whether it is compensating its completed nodes after a failure. */
  compensating: boolean;
}

/** The {@link ActivationCounts} of every persistent listener of `run`, by node id. */
function activationCounts(run: RunState): Map<string, ActivationCounts> {
  const counts = new Map<string, ActivationCounts>();
  for (const node of run.nodes.values()) {
    if (node.def.kind === 'task' && node.def.persistent) counts.set(node.def.id, { succeeded: (node.emitted ?? 0) + (node.held?.length ?? 0), failed: 0, queued: 0, running: 0, retrying: 0 });
  }
  // The run keeps its live and failed activations (and, under policy rollback, succeeded ones: counted above).
  for (const activation of run.activations.values()) {
    const status = activation.status;
    if (status === 'succeeded' || status === 'cancelled') continue;
    const node = counts.get(activation.node);
    if (node !== undefined) node[isQueued(activation) ? 'queued' : status]++;
  }
  return counts;
}

/** The {@link MapSnapshot} of every started map node of `run`, by node id. */
function mapViews(run: RunState): Map<string, MapSnapshot> {
  const views = new Map<string, MapSnapshot>();
  for (const node of run.nodes.values()) {
    const list = node.def.each === undefined ? undefined : node.inputs?.[node.def.each];
    if (!Array.isArray(list)) continue;
    const done = node.status === 'succeeded' ? list.length : (node.held?.length ?? 0);
    views.set(node.def.id, { total: list.length, succeeded: done, failed: 0, queued: 0, running: 0, retrying: 0, pending: 0, children: {} });
  }
  if (views.size === 0) return views;
  const kept: ActivationState[] = [];
  for (const activation of run.activations.values()) if (views.has(activation.node) && activation.status !== 'succeeded') kept.push(activation);
  kept.sort((a, b) => a.seq - b.seq);
  for (const activation of kept) {
    const view = views.get(activation.node) as MapSnapshot;
    const status = isQueued(activation) ? 'queued' : activation.status;
    if (status !== 'cancelled') view[status]++;
    const child: MapChildSnapshot = { index: activation.seq, status, attempt: activation.attempt };
    if (activation.error !== undefined) child.error = activation.error;
    view.children[childName(activation.node, activation.seq)] = child;
  }
  for (const view of views.values()) view.pending = view.total - view.succeeded - view.failed - view.queued - view.running - view.retrying;
  return views;
}

/** Builds a snapshot of a run state. */
export function snapshot(run: RunState): RunSnapshot {
  const inspection = inspectRun(run);
  const counts = activationCounts(run);
  const maps = mapViews(run);
  const nodes: Record<string, NodeSnapshot> = {};
  for (const node of run.nodes.values()) {
    const view: NodeSnapshot = {
      id: node.def.id,
      kind: node.def.kind,
      name: node.def.name,
      status: isQueued(node) ? 'queued' : node.status,
      attempt: node.attempt,
      persistent: node.def.persistent,
    };
    if (node.def.scope !== undefined) view.scope = node.def.scope;
    if (node.inputs !== undefined) view.inputs = decodeValue(node.inputs) as Record<string, unknown>;
    if (node.result !== undefined) view.result = decodeValue(node.result);
    if (node.error !== undefined) view.error = node.error;
    if (node.skip !== undefined) view.skip = node.skip;
    if (node.undo !== undefined) view.undo = node.undo;
    if (node.undoError !== undefined) view.undoError = node.undoError;
    if (node.queuedAt !== undefined) view.queuedAt = node.queuedAt;
    if (node.startedAt !== undefined) view.startedAt = node.startedAt;
    if (node.finishedAt !== undefined) view.finishedAt = node.finishedAt;
    if (node.throttled !== undefined) view.throttled = node.throttled;
    const waiting = inspection.waiting[node.def.id];
    if (waiting !== undefined) view.waitingFor = waiting;
    const activations = counts.get(node.def.id);
    if (activations !== undefined) view.activations = activations;
    const map = maps.get(node.def.id);
    if (map !== undefined) view.map = map;
    nodes[node.def.id] = view;
  }
  const result: RunSnapshot = {
    id: run.id,
    flow: run.flow,
    status: run.status,
    graphVersion: run.graphVersion,
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
    nodes,
  };
  if (inspection.cycle !== undefined) result.cycle = inspection.cycle;
  if (run.scopes !== undefined) {
    result.scopes = {};
    for (const [id, scope] of Object.entries(run.scopes)) {
      result.scopes[id] = { onFailure: scope.onFailure, retry: scope.retry, attempt: scope.attempt + 1, compensating: scope.compensating === true };
    }
  }
  return result;
}
