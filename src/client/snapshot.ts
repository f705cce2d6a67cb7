/**
 * What the client shows of a run: decoded, plain, stable.
 *
 * @packageDocumentation
 */
import { decodeValue } from '../codec/value.js';
import { inspectRun, type RunState, type NodeStatus, type UndoStatus, type WaitingInfo } from '../engine/index.js';
import type { Failure } from '../model/failure.js';
import type { RunSummary } from '../store/port.js';

/** One node of a {@link RunSnapshot}. */
export interface NodeSnapshot {
  /** Node id. */
  id: string;
  /** `task` or `event`. */
  kind: 'task' | 'event';
  /** Task or event name. */
  name: string;
  /** Node state. */
  status: NodeStatus;
  /** Attempts made so far. */
  attempt: number;
  /** Whether the node is a persistent listener. */
  persistent: boolean;
  /** The decoded result (latest one for persistent nodes and events). */
  result?: unknown;
  /** Failure of the last attempt. */
  error?: Failure;
  /** Rollback state. */
  undo?: UndoStatus;
  /** Failure of the rollback. */
  undoError?: Failure;
  /** When the current attempt started (epoch ms). */
  startedAt?: number;
  /** When the node finished (epoch ms). */
  finishedAt?: number;
  /** For a waiting node: what it still waits for. */
  waitingFor?: WaitingInfo;
}

/** A run as the client sees it: its summary, every node, and the cycle it stalls on. */
export interface RunSnapshot extends RunSummary {
  /** Every node, by id. */
  nodes: Record<string, NodeSnapshot>;
  /** When waiting nodes form a cycle (the run stalls): its path. */
  cycle?: string[];
}

/** Builds a snapshot of a run state. */
export function snapshot(run: RunState): RunSnapshot {
  const inspection = inspectRun(run);
  const nodes: Record<string, NodeSnapshot> = {};
  for (const node of run.nodes.values()) {
    const view: NodeSnapshot = {
      id: node.def.id,
      kind: node.def.kind,
      name: node.def.name,
      status: node.status,
      attempt: node.attempt,
      persistent: node.def.persistent,
    };
    if (node.result !== undefined) view.result = decodeValue(node.result);
    if (node.error !== undefined) view.error = node.error;
    if (node.undo !== undefined) view.undo = node.undo;
    if (node.undoError !== undefined) view.undoError = node.undoError;
    if (node.startedAt !== undefined) view.startedAt = node.startedAt;
    if (node.finishedAt !== undefined) view.finishedAt = node.finishedAt;
    const waiting = inspection.waiting[node.def.id];
    if (waiting !== undefined) view.waitingFor = waiting;
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
  return result;
}
