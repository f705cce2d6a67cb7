/**
 * Node, activation and run state transitions, as data: one table per entity and
 * one checker. The engine calls the checker on every change of state, so an
 * illegal transition is a bug caught where it happens.
 *
 * ```
 * node:        waiting ──► running ──► succeeded
 *                 │   ▲       │  ▲
 *                 │   │       ▼  │
 *                 │   │    retrying
 *                 │   │       │
 *                 ▼   │       ▼
 *              skipped└── failed ──► (retry, replace: waiting)
 * waiting ──► failed: a condition of its links could not decide (engine/conditions.ts)
 * any unfinished node ──► cancelled ──► (retry: waiting)
 * event / persistent listener: listening ──► succeeded (stopped) | cancelled
 * ```
 *
 * @packageDocumentation
 */
import type { ActivationStatus, NodeStatus, RunStatus, UndoStatus } from './state.js';

/** Allowed node transitions. Finished nodes (`succeeded`, `skipped`) never run again (but see {@link SCOPE_RETRY_TRANSITIONS}). */
export const NODE_TRANSITIONS: Readonly<Record<NodeStatus, readonly NodeStatus[]>> = {
  waiting: ['running', 'skipped', 'cancelled', 'waiting', 'failed'],
  running: ['succeeded', 'failed', 'retrying', 'cancelled', 'running'],
  retrying: ['running', 'skipped', 'cancelled', 'waiting'],
  failed: ['waiting', 'skipped', 'cancelled'],
  cancelled: ['waiting'],
  succeeded: [],
  skipped: [],
  listening: ['succeeded', 'cancelled', 'listening'],
};

/**
 * The one way back for finished nodes: a subflow retried as a whole (a scope
 * retry, `engine/scopes.ts`) puts every node of it that is not running back to
 * waiting, once its completed nodes are compensated.
 */
export const SCOPE_RETRY_TRANSITIONS: Readonly<Record<NodeStatus, readonly NodeStatus[]>> = {
  waiting: [],
  running: [],
  retrying: [],
  failed: ['waiting'],
  cancelled: ['waiting'],
  succeeded: ['waiting'],
  skipped: ['waiting'],
  listening: [],
};

/** Allowed activation transitions. */
export const ACTIVATION_TRANSITIONS: Readonly<Record<ActivationStatus, readonly ActivationStatus[]>> = {
  running: ['succeeded', 'failed', 'retrying', 'cancelled', 'running'],
  retrying: ['running', 'cancelled'],
  failed: ['running', 'cancelled'],
  succeeded: [],
  cancelled: [],
};

/**
 * Allowed rollback transitions (from no rollback yet: `none`). A finished
 * rollback goes back to `none` when its node starts a new attempt (a retry or
 * replace by hand): the undo state restarts with the attempt.
 */
export const UNDO_TRANSITIONS: Readonly<Record<UndoStatus | 'none', readonly (UndoStatus | 'none')[]>> = {
  none: ['running', 'done'],
  running: ['done', 'failed', 'running'],
  done: ['none'],
  failed: ['running', 'none'],
};

/**
 * Allowed run status transitions (the status is derived; this checks the
 * derivation). A saga with nothing to undo ends (`rolled_back`, or
 * `rollback_failed` if an earlier rollback failed) in the step that starts it,
 * so every status a saga can start from may also go there directly. A saga is
 * never cancelled: its compensations run to the end.
 */
export const RUN_TRANSITIONS: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  // Started (whatever its nodes then make of it), or cancelled first.
  scheduled: ['running', 'stalled', 'failed', 'listening', 'succeeded', 'cancelled'],
  running: ['stalled', 'failed', 'listening', 'stopping', 'rolling_back', 'rolled_back', 'rollback_failed', 'succeeded', 'cancelled'],
  stalled: ['running', 'failed', 'listening', 'stopping', 'rolling_back', 'rolled_back', 'rollback_failed', 'succeeded', 'cancelled'],
  failed: ['running', 'stalled', 'listening', 'stopping', 'rolling_back', 'rolled_back', 'rollback_failed', 'succeeded', 'cancelled'],
  listening: ['running', 'stalled', 'failed', 'stopping', 'succeeded', 'cancelled'],
  stopping: ['succeeded', 'failed', 'stalled', 'rolling_back', 'rolled_back', 'rollback_failed', 'cancelled'],
  rolling_back: ['rolled_back', 'rollback_failed'],
  succeeded: ['running', 'stalled', 'listening', 'failed', 'stopping'],
  rolled_back: [],
  rollback_failed: [],
  cancelled: [],
};

/** Thrown when the engine attempts a transition the tables do not allow: a bug, not bad input. */
export class IllegalTransitionError extends Error {
  constructor(entity: string, from: string, to: string) {
    super(`illegal ${entity} transition ${from} -> ${to}`);
    this.name = 'IllegalTransitionError';
  }
}

/** Checks one transition against a table; same-state transitions must be listed to be allowed. */
export function checkTransition<S extends string>(
  table: Readonly<Record<S, readonly string[]>>,
  entity: string,
  from: S,
  to: string,
): void {
  if (!table[from].includes(to)) throw new IllegalTransitionError(entity, from, to);
}
