/**
 * What goes into the engine (events, changes) and what comes out (commands,
 * history entries). All plain data.
 *
 * @packageDocumentation
 */
import type { Json, JsonObject } from '../codec/json.js';
import type { LinkCondition, NodeDefinition } from '../model/definition.js';
import type { RateLimit } from '../model/flow-control.js';
import type { Failure } from '../model/failure.js';
import type { RunStatus } from './state.js';

/** Identifies one execution: a node's attempt, or a persistent listener's activation attempt. */
export interface ExecutionRef {
  /** Node id. */
  node: string;
  /** Attempt number. */
  attempt: number;
  /** Activation (notification seq) for persistent listeners. */
  activation?: number;
}

/** A live change to a run. Validated, applied atomically, recorded with a new graph version. */
export type Change =
  | { op: 'add'; node: NodeDefinition; sources?: LinkSpec[]; listeners?: LinkSpec[] }
  | { op: 'remove'; node: string }
  | { op: 'link'; from: string; to: string; map?: Record<string, string> }
  | { op: 'unlink'; from: string; to: string }
  | { op: 'relink'; node: string; from: string; to: string; map?: Record<string, string> }
  | { op: 'replace'; node: string; with: Partial<Omit<NodeDefinition, 'id' | 'kind'>> }
  | { op: 'retry'; node: string; activation?: number }
  | { op: 'skip'; node: string; result?: Json }
  /** Sets (or, with null, removes) the condition of the link `from` -> `to`; the listener must not have run or been decided yet. */
  | { op: 'condition'; from: string; to: string; condition: LinkCondition | null }
  | { op: 'cancel' }
  | { op: 'stop' };

/** A link given in a change: the other end and an optional rename map. */
export interface LinkSpec {
  /** The other node's id. */
  node: string;
  /** Listener input name → source provided name. */
  map?: Record<string, string>;
}

/** An event the engine applies to a run. */
export type EngineEvent =
  | { type: 'start' }
  /** A delayed start is due (see `RunState.startAt`). */
  | { type: 'start.due' }
  | { type: 'resume' }
  /** A worker reports that it started an execution (`startedAt`: its clock, epoch ms). */
  | ({ type: 'task.started'; startedAt: number } & ExecutionRef)
  /** `startedAt`: when the worker started the execution, if it says (its first report of the start wins). */
  | ({ type: 'task.succeeded'; result: Json; startedAt?: number } & ExecutionRef)
  | ({ type: 'task.failed'; error: Failure; startedAt?: number } & ExecutionRef)
  | ({ type: 'retry.due' } & ExecutionRef)
  | ({ type: 'task.heartbeat'; leaseMs: number } & ExecutionRef)
  /** The end of a lease is due: `leaseUntil` is the end its schedule was for (the schedule's `dueAt`). */
  | ({ type: 'lease.due'; leaseUntil: number } & ExecutionRef)
  | ({ type: 'rollback.succeeded' } & ExecutionRef)
  | ({ type: 'rollback.failed'; error: Failure } & ExecutionRef)
  | { type: 'notify'; event: string; payload: JsonObject }
  /** The execution waiting at gate `gate` (see {@link GateCommand}) may start: it holds a permit since `admittedAt` (epoch ms, the admitting clock). */
  | ({ type: 'gate.admitted'; gate: string; admittedAt: number } & ExecutionRef)
  | ({ type: 'change'; actor: string } & ChangeList);

/** One change, or several applied as one: validated as a whole, in one step, under one graph version, or refused whole. */
export type ChangeList = { change: Change } | { changes: readonly Change[] };

/** The changes of a change event, as a list. */
export function changesOf(event: ChangeList): readonly Change[] {
  return 'changes' in event ? event.changes : [event.change];
}

/** Dispatch of a node's apply or rollback to a worker. */
export interface DispatchCommand extends ExecutionRef {
  /** Always `dispatch`. */
  type: 'dispatch';
  /** `apply` runs the task; `rollback` undoes it. */
  kind: 'apply' | 'rollback';
  /** Run id. */
  runId: string;
  /** Registered task name. */
  task: string;
  /** Inputs by name (encoded). */
  inputs: JsonObject;
  /** Timeout of the attempt in milliseconds (0: none). */
  timeoutMs: number;
  /** Work queue. */
  queue: string;
  /** Priority rank (see `priorityRank`: high 2, low 0); absent: normal. Higher-priority dispatches overtake queued ones where the transport can (in-process). */
  priority?: number;
  /** For a rollback: the apply's result, if it succeeded. */
  result?: Json;
  /** For a rollback: the apply's failure, if it failed. */
  error?: Failure;
}

/**
 * A node's execution at a flow-control gate (a task's `limit` or `rate`, see
 * docs/flow-control.md): `wait` puts it in the gate's line (the runtime
 * answers `gate.admitted` when it may start); `release` takes it out of the
 * line, or gives back the permit it held (its attempt ended). Both are idempotent.
 */
export interface GateCommand extends ExecutionRef {
  /** Always `gate`. */
  type: 'gate';
  /** Join the line, or leave it (give back the permit). */
  op: 'wait' | 'release';
  /** Run id. */
  runId: string;
  /** The gate: the task's name, and the value of the limit's key input if it has one (`charge:customer="c1"`). */
  gate: string;
  /** `wait`: executions at once through the gate (undefined: no concurrency limit). */
  concurrency?: number;
  /** `wait`: the gate's rate limit, if any. */
  rate?: RateLimit;
  /** `wait`: higher goes first (see `priorityRank`). */
  priority?: number;
}

/** Something the runtime must do after the step is saved. */
export type Command =
  | DispatchCommand
  | GateCommand
  /** A timer: a retry (or, with `lease`, the end of a lease) of an execution; with `start`, a delayed start (`node` is then `''`). */
  | ({ type: 'schedule'; runId: string; dueAt: number; lease?: true; start?: true } & ExecutionRef)
  | { type: 'abort'; runId: string; node?: string; attempt?: number; activation?: number }
  | { type: 'finished'; runId: string; status: RunStatus };

/** Kinds of history entries. */
export type HistoryType =
  | 'run.scheduled'
  | 'run.started'
  | 'run.resumed'
  | 'run.status'
  | 'node.queued'
  | 'node.throttled'
  | 'gate.admitted'
  | 'node.started'
  | 'node.succeeded'
  | 'node.failed'
  | 'node.retrying'
  | 'node.cancelled'
  | 'node.skipped'
  | 'rollback.started'
  | 'rollback.succeeded'
  | 'rollback.failed'
  | 'event.notified'
  | 'scope.retrying'
  | 'scope.failed'
  | 'change';

/** One line of a run's history: what happened, who changed what. */
export interface HistoryEntry {
  /** Run id. */
  runId: string;
  /** Sequence number in the run. */
  seq: number;
  /** When (epoch ms). */
  at: number;
  /** What happened. */
  type: HistoryType;
  /** Graph version after the entry. */
  graphVersion: number;
  /** The node concerned. */
  node?: string;
  /** The attempt concerned. */
  attempt?: number;
  /** The activation concerned. */
  activation?: number;
  /** Who made a change. */
  actor?: string;
  /** New run status (`run.status`). */
  status?: RunStatus;
  /** Details: the change, the error, the event name. */
  detail?: JsonObject;
}

/** Only the reference fields of an event (events carry more: `type`, `error`, ...). */
export function executionRef(event: ExecutionRef): ExecutionRef {
  const ref: ExecutionRef = { node: event.node, attempt: event.attempt };
  if (event.activation !== undefined) ref.activation = event.activation;
  return ref;
}
