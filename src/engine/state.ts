/**
 * The state of a run, as the engine sees it. Everything here is plain data that
 * the stores persist: a run row, one row per node, one row per live activation.
 *
 * @packageDocumentation
 */
import type { Json, JsonObject } from '../codec/json.js';
import type { ConditionDepth } from '../model/condition.js';
import type { FailurePolicy, LinkDefinition, NodeDefinition, ScopeDefinition } from '../model/definition.js';
import type { Failure } from '../model/failure.js';

/**
 * State of a node:
 * - `waiting`: some source has not notified yet, or an input is missing.
 * - `running`: dispatched (attempt `attempt`), its outcome not recorded yet.
 *   Views split it in two ({@link isQueued}): `queued` until a worker reports
 *   that it started the attempt (`startedAt`), `running` after.
 * - `retrying`: failed, a retry is scheduled at `retryAt`.
 * - `succeeded` / `skipped`: done, `result` recorded; never recomputed. A node
 *   skipped by its links' conditions has no result (see `skip`).
 * - `failed`: failed after its last retry (or not retryable).
 * - `cancelled`: the run was cancelled before the node finished.
 * - `listening`: an event source, or a persistent listener, waiting for notifications.
 */
export type NodeStatus = 'waiting' | 'running' | 'retrying' | 'succeeded' | 'failed' | 'skipped' | 'cancelled' | 'listening';

/** State of a node's rollback, separate from its apply state. */
export type UndoStatus = 'running' | 'done' | 'failed';

/**
 * State of a run, derived after every event:
 * - `scheduled`: stored, to start at `startAt` (`start(..., { at | delayMs })`); nothing runs before.
 * - `running`: work in progress, or waiting for a notification.
 * - `stalled`: nothing runs, and waiting nodes can never start (a cycle, a missing input).
 * - `failed`: a node failed for good and nothing else runs (policy `halt`); fixable.
 * - `listening`: only persistent listeners remain; stays so until stopped.
 * - `stopping`: stopped, letting running activations finish.
 * - `rolling_back` / `rolled_back`: the saga (policy `rollback`) in progress / done.
 * - `rollback_failed`: the saga ran every compensation, and at least one failed
 *   (each error is kept on its node or activation, `undoError`, and in the history).
 * - `succeeded`, `cancelled`: finished.
 */
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Every {@link RunStatus}, in the order of a run's life (for option checks, schemas and listings). */
export const RUN_STATUSES = ['scheduled', 'running', 'stalled', 'failed', 'listening', 'stopping', 'rolling_back', 'rolled_back', 'rollback_failed', 'succeeded', 'cancelled'] as const;

/** A notification waiting for a persistent listener's other inputs. */
export interface Backlogged {
  /** Notification sequence number. */
  seq: number;
  /** The notifying source. */
  from: string;
  /** The source's result at the notification (the activation's own payload). */
  value?: Json;
}

/** A persistent listener's completed activation whose notification waits for earlier activations to finish. */
export interface Held {
  /** The activation (notification seq). */
  seq: number;
  /** Its encoded result. */
  result: Json;
}

/** One node of a run. */
export interface NodeState {
  /** The node's definition (task, bound inputs, policies). */
  def: NodeDefinition;
  /** Incoming links: what this node listens to. */
  sources: LinkDefinition[];
  /** Apply state. */
  status: NodeStatus;
  /**
   * Current (or last) attempt number, 0 before the first; a node added in place
   * of a removed one with its id starts from that one's last attempt.
   */
  attempt: number;
  /** Attempts numbered before the node was added (those of the removed node it replaces): its retry budget counts from there. */
  attemptBase?: number;
  /** Inputs of the current attempt (recorded at dispatch). */
  inputs?: JsonObject;
  /**
   * Encoded result: of the apply, or the value given at skip; a persistent
   * listener keeps that of its latest notification (highest activation seq
   * notified), never an older one that finished later.
   */
  result?: Json;
  /** Persistent listeners: the activation whose result `result` is. */
  resultSeq?: number;
  /**
   * Persistent listeners: completed activations held back, in seq order, until
   * every earlier activation has finished, so that listeners are notified in
   * notification order. Stores keep them as rows apart from the node's
   * (`StepCommit.held`), so that a notification does not rewrite the list.
   */
  held?: Held[];
  /** Failure of the last attempt. */
  error?: Failure;
  /** Rollback state, when a rollback was started. */
  undo?: UndoStatus;
  /** Failure of the rollback. */
  undoError?: Failure;
  /** When a scheduled retry is due (epoch ms). */
  retryAt?: number;
  /**
   * Waiting (status `waiting`, its sources notified, its inputs there) at this
   * flow-control gate for a permit: throttled, not running (see `engine/gates.ts`).
   */
  throttled?: string;
  /** The gate whose permit the node holds: admitted, for its current (or next) attempt. */
  gate?: string;
  /** A long execution acknowledged early holds the node until then (epoch ms); past it, it is dispatched again. */
  leaseUntil?: number;
  /** When the current attempt was dispatched: queued for a worker (epoch ms). */
  queuedAt?: number;
  /**
   * When a worker started executing the current attempt (epoch ms, the
   * worker's clock kept between `queuedAt` and the step that learnt it);
   * unset while the attempt is queued. See {@link isQueued}.
   */
  startedAt?: number;
  /** When the node finished (epoch ms). */
  finishedAt?: number;
  /** Completion order in the run (for the saga's reverse order). */
  doneSeq?: number;
  /** Events and persistent listeners: how many notifications this node has emitted. */
  emitted?: number;
  /** Persistent listeners: notifications waiting for other inputs. */
  backlog?: Backlogged[];
  /**
   * Set by a relink away from this node (the id of the listener moved): once
   * it has failed for good and no listener is left on it, it is set aside
   * (skipped), whenever the failure comes.
   */
  relinkedAway?: string;
  /**
   * Set on a node skipped by conditions (its own links', or a skipped
   * source's): why, and how far the skip reaches (see `engine/conditions.ts`).
   * A node skipped by a `skip` change has none: it notifies its listeners with
   * the value given.
   */
  skip?: SkipReason;
}

/** Why a node was skipped by conditions: its `node.skipped` history entry's detail too. */
export interface SkipReason {
  /**
   * `condition`: every conditional link into it was false (`links`);
   * `upstream`: a source it listens to (`from`) was skipped with depth `downstream`;
   * `inputs`: a source it needed a required input from (`from`) was skipped.
   */
  reason: 'condition' | 'upstream' | 'inputs';
  /** How far the skip reaches: the node alone, or everything downstream of it. */
  depth: ConditionDepth;
  /** `upstream`, `inputs`: the skipped source. */
  from?: string;
  /** `condition`: the false links, each with its source, its condition, and `skipped` when the source was itself skipped. */
  links?: { from: string; condition: string; skipped?: true }[];
}

/** State of one activation of a persistent listener. */
export type ActivationStatus = 'running' | 'retrying' | 'succeeded' | 'failed' | 'cancelled';

/** One activation (run) of a persistent listener, for one notification. */
export interface ActivationState {
  /** The persistent node. */
  node: string;
  /** The notification sequence number it answers. */
  seq: number;
  /** The source that notified. */
  from: string;
  /** Activation state. */
  status: ActivationStatus;
  /** Attempt number. */
  attempt: number;
  /** Inputs, snapshotted at the notification. */
  inputs: JsonObject;
  /** Encoded result. */
  result?: Json;
  /** Failure of the last attempt. */
  error?: Failure;
  /** When a scheduled retry is due. */
  retryAt?: number;
  /** Lease of a long execution acknowledged early (epoch ms). */
  leaseUntil?: number;
  /** When its current attempt was dispatched (absent on activations stored by taskwire 0.1). */
  queuedAt?: number;
  /** When a worker started executing its current attempt (see `NodeState.startedAt`). */
  startedAt?: number;
  /** When it finished. */
  finishedAt?: number;
  /** Completion order in the run (for the saga's reverse order), once it succeeded. */
  doneSeq?: number;
  /**
   * Set on a succeeded activation whose rollback the saga owes (its task has a
   * rollback, the run's policy is `rollback`): the run keeps it (stores load
   * it) until the run ends.
   */
  compensate?: true;
  /** Rollback state: of the activation's own failure, or its compensation in the saga. */
  undo?: UndoStatus;
  /** Failure of the rollback. */
  undoError?: Failure;
}

/**
 * State of a subflow's scope (see `engine/scopes.ts`): its definition, which
 * attempt of it runs, and whether it is compensating its completed nodes
 * (after a failure, before it runs again or fails as one node). The engine
 * replaces a scope's state (and `RunState.scopes`) rather than changing it.
 */
export interface ScopeState extends Omit<ScopeDefinition, 'id'> {
  /** Scope retries done so far (0: its first attempt runs). */
  attempt: number;
  /** Set while its completed nodes are compensated after a failure: no node of it starts. */
  compensating?: true;
}

/** A run: one execution of a flow. */
export interface RunState {
  /** Run id. */
  id: string;
  /** Flow name. */
  flow: string;
  /** Derived run state. */
  status: RunStatus;
  /** Revision: bumps on every committed step (optimistic concurrency). */
  rev: number;
  /** Graph version: bumps on every change of nodes or links. */
  graphVersion: number;
  /** Failure policy. */
  onFailure: FailurePolicy;
  /** Flow inputs given at start. */
  inputs: JsonObject;
  /** Whether the flow was validated at start (changes are always validated). */
  validate: boolean;
  /** Sequence counter: history entries, notifications, completions. */
  seq: number;
  /** Set by stop: persistent listeners take no new notifications. */
  stopped: boolean;
  /** Set by cancel. */
  cancelled: boolean;
  /** Set when the saga started (policy `rollback`). */
  saga: boolean;
  /** Creation time (epoch ms). */
  createdAt: number;
  /** Last change (epoch ms). */
  updatedAt: number;
  /** A delayed start: when the run starts (epoch ms); unset once it has started (its status is `scheduled` until then). */
  startAt?: number;
  /** W3C trace context of the run's root span, when tracing is on. */
  traceparent?: string;
  /**
   * Ids of the latest client events (notify, change) applied to the run, oldest
   * first, at most a bounded number (the coordinator's): a client event whose
   * commit was ambiguous is recognised when it is stepped again, and not applied twice.
   */
  eventIds?: string[];
  /**
   * Last attempt of each removed node that had started, by id, until a node with
   * its id is added: the new node continues the numbering, so a late signal or
   * an abort of the removed execution never names one of the new node.
   */
  retiredAttempts?: Record<string, number>;
  /** Subflow scopes by id (absent when the flow has no subflows). */
  scopes?: Record<string, ScopeState>;
  /** Nodes by id. */
  nodes: Map<string, NodeState>;
  /** Activations still of use to the engine, by {@link activationKey}: live (running, retrying), failed, and succeeded ones owed a compensation. */
  activations: Map<string, ActivationState>;
}

/** The run fields other than nodes and activations: what a store keeps in the run row. */
export type RunHeader = Omit<RunState, 'nodes' | 'activations'>;

/** Key of an activation in {@link RunState.activations}. */
export function activationKey(node: string, seq: number): string {
  return `${node}#${seq}`;
}

/**
 * A copy of a run that stepping the original cannot change, made cheaply: the
 * header, every node and every activation copied one level deep, and a node's
 * backlog and a map node's held results (the arrays the engine appends to in
 * place) copied too. Nested
 * values (definitions, links, inputs, results, errors, held results, event ids)
 * are shared: the engine replaces them with new ones, never changes them (the
 * memory store's row copies rely on the same).
 */
export function copyRun(run: RunState): RunState {
  const nodes = new Map<string, NodeState>();
  for (const [id, node] of run.nodes) {
    const copy = node.backlog === undefined ? { ...node } : { ...node, backlog: [...node.backlog] };
    // A map node's held results are appended in place too (engine/map.ts).
    if (copy.held !== undefined && copy.def.each !== undefined) copy.held = [...copy.held];
    nodes.set(id, copy);
  }
  const activations = new Map<string, ActivationState>();
  for (const [key, activation] of run.activations) activations.set(key, { ...activation });
  return { ...run, nodes, activations };
}

/**
 * The run header (a copy of the scalar fields). Field by field: an object rest
 * (`{ nodes, activations, ...header }`) takes V8's slow path, ~0.5 µs a copy,
 * against ~0.05 µs, and this runs on every step. {@link _HEADER_FIELDS} makes a
 * field added to {@link RunState} fail to compile until it is copied here.
 */
export function runHeader(run: RunState): RunHeader {
  const header: RunHeader = {
    id: run.id,
    flow: run.flow,
    status: run.status,
    rev: run.rev,
    graphVersion: run.graphVersion,
    onFailure: run.onFailure,
    inputs: run.inputs,
    validate: run.validate,
    seq: run.seq,
    stopped: run.stopped,
    cancelled: run.cancelled,
    saga: run.saga,
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
  };
  if (run.startAt !== undefined) header.startAt = run.startAt;
  if (run.traceparent !== undefined) header.traceparent = run.traceparent;
  if (run.eventIds !== undefined) header.eventIds = run.eventIds;
  if (run.retiredAttempts !== undefined) header.retiredAttempts = run.retiredAttempts;
  if (run.scopes !== undefined) header.scopes = run.scopes;
  return header;
}

/** The fields {@link runHeader} copies: a compile error when {@link RunHeader} has another. */
const _HEADER_FIELDS = {
  id: true,
  flow: true,
  status: true,
  rev: true,
  graphVersion: true,
  onFailure: true,
  inputs: true,
  validate: true,
  seq: true,
  stopped: true,
  cancelled: true,
  saga: true,
  createdAt: true,
  updatedAt: true,
  startAt: true,
  traceparent: true,
  eventIds: true,
  retiredAttempts: true,
  scopes: true,
} as const satisfies Record<keyof RunHeader, true>;

/** Statuses in which a run is settled: `wait()` returns. */
export const SETTLED: ReadonlySet<RunStatus> = new Set<RunStatus>(['succeeded', 'failed', 'rolled_back', 'rollback_failed', 'cancelled', 'stalled']);

/**
 * Whether a node has notified its listeners (a result is recorded): a task node
 * once it succeeded or was skipped; an event or a persistent listener once it
 * emitted (stopping one does not make it notify).
 */
export function hasNotified(node: NodeState): boolean {
  if (node.def.kind === 'event' || node.def.persistent) return (node.emitted ?? 0) > 0;
  return node.status === 'succeeded' || node.status === 'skipped';
}

/**
 * Whether an execution (a node, or an activation) is queued: dispatched, and
 * no worker has reported starting it yet. The engine's `running` status
 * covers both; views (`status()`, the CLI, the dashboard) show `queued` apart.
 */
export function isQueued(holder: { status: string; startedAt?: number }): boolean {
  return holder.status === 'running' && holder.startedAt === undefined;
}
