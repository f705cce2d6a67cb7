/**
 * Execution starts: a dispatched execution is queued until a worker reports
 * that it started it (a `task.started` signal, sent once the execution has run
 * for a while: see `WorkerOptions.reportStartAfterMs`), or until its outcome
 * arrives carrying its start time. The first report wins; later ones (a
 * redelivery, the outcome after the report) change nothing.
 *
 * @packageDocumentation
 */
import { activationKey, type ActivationState, type NodeState } from './state.js';
import type { ExecutionRef } from './events.js';
import { written, type StepContext } from './step-context.js';

/** A worker reports it started an execution at `at` (its clock): `node.started` in the history. */
export function started(s: StepContext, ref: ExecutionRef, at: number): void {
  const holder = ref.activation === undefined ? s.runningNode(ref) : s.liveActivation(ref);
  if (holder === undefined || holder.startedAt !== undefined) return;
  markStarted(s, holder, at);
  if (ref.activation === undefined) s.touch(holder as NodeState);
  else written(s.out, 'activations').set(activationKey(ref.node, ref.activation), holder as ActivationState);
  const entry: Parameters<StepContext['record']>[0] = { type: 'node.started', node: ref.node, attempt: ref.attempt };
  if (ref.activation !== undefined) entry.activation = ref.activation;
  s.record(entry);
}

/**
 * Sets an execution's `startedAt` to a worker's `at`, unless set: kept between
 * its `queuedAt` and now, so that a worker's clock ahead or behind the
 * coordinator's never shows a negative queue or run time.
 */
export function markStarted(s: StepContext, holder: NodeState | ActivationState, at: number | undefined): void {
  if (at === undefined || holder.startedAt !== undefined) return;
  holder.startedAt = Math.min(Math.max(at, holder.queuedAt ?? at), s.now);
}
