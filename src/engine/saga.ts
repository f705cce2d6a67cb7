/**
 * Rollbacks: a failed node's (or activation's) own rollback, and the saga of
 * policy `rollback`: once nothing runs, every completed node, and every
 * completed activation of a persistent listener, is compensated one at a time,
 * latest completion first, each with its own inputs and result.
 *
 * @packageDocumentation
 */
import type { Json, JsonObject } from '../codec/json.js';
import { InvalidChangeError } from '../errors.js';
import type { Failure } from '../model/failure.js';
import { releaseHeld } from './activations.js';
import { earliestLive } from './live.js';
import type { Command, ExecutionRef } from './events.js';
import { activationKey, type ActivationState, type NodeState } from './state.js';
import type { StepContext } from './step-context.js';

/** A dispatch of a node's rollback, with the apply's result or failure. */
export function rollbackCommand(s: StepContext, node: NodeState, ref: ExecutionRef, inputs: JsonObject, result: Json | undefined, error: Failure | undefined): Command {
  const command = s.dispatchCommand(node, ref, inputs);
  if (command.type !== 'dispatch') return command;
  command.kind = 'rollback';
  if (result !== undefined) command.result = result;
  if (error !== undefined) command.error = error;
  return command;
}

/** The rollback dispatch of a node's current attempt, or of an activation (its own failure, or its compensation). */
function undoCommand(s: StepContext, node: NodeState, activation?: ActivationState): Command {
  if (activation === undefined) {
    const ref = { node: node.def.id, attempt: node.attempt };
    return rollbackCommand(s, node, ref, node.inputs ?? {}, node.status === 'succeeded' ? node.result : undefined, node.error);
  }
  const ref = { node: node.def.id, attempt: activation.attempt, activation: activation.seq };
  return rollbackCommand(s, node, ref, activation.inputs, activation.status === 'succeeded' ? activation.result : undefined, activation.error);
}

/** Starts the rollback of a node (its current attempt) or of one of its activations. */
export function startUndo(s: StepContext, node: NodeState, activation?: ActivationState): void {
  s.setUndo(activation ?? node, 'running');
  s.out.commands.push(undoCommand(s, node, activation));
  const ref = activation === undefined ? { node: node.def.id, attempt: node.attempt } : { node: node.def.id, attempt: activation.attempt, activation: activation.seq };
  s.record({ type: 'rollback.started', ...ref });
}

/** Dispatches again every rollback that was running (resume after a restart). */
export function resumeUndos(s: StepContext): void {
  for (const node of s.run.nodes.values()) if (node.undo === 'running') s.out.commands.push(undoCommand(s, node));
  for (const activation of s.run.activations.values()) {
    const node = s.run.nodes.get(activation.node);
    if (activation.undo === 'running' && node !== undefined) s.out.commands.push(undoCommand(s, node, activation));
  }
}

/**
 * Records the outcome of a rollback. A signal of another attempt's rollback (a
 * late duplicate after a retry by hand) changes nothing.
 */
export function undone(s: StepContext, ref: ExecutionRef, to: 'done' | 'failed', error?: Failure): void {
  const holder = ref.activation === undefined ? s.run.nodes.get(ref.node) : s.run.activations.get(activationKey(ref.node, ref.activation));
  if (holder === undefined || holder.undo !== 'running' || holder.attempt !== ref.attempt) return;
  s.setUndo(holder, to);
  if (error !== undefined) holder.undoError = error;
  s.record(
    error === undefined
      ? { type: 'rollback.succeeded', ...ref }
      : { type: 'rollback.failed', ...ref, detail: { name: error.name, message: error.message } },
  );
}

/** Refuses a change that would start a new attempt of a node (or activation) whose rollback still runs. */
export function checkNotUndoing(s: StepContext, holder: NodeState | ActivationState): void {
  if (holder.undo !== 'running') return;
  const what = 'def' in holder ? `node "${holder.def.id}"` : `activation ${holder.seq} of node "${holder.node}"`;
  throw new InvalidChangeError(`rollback of ${what} is running in run "${s.run.id}": wait for it to finish`);
}

/**
 * Throws if any rollback of the run is running: a cancelled run is final, so
 * nothing (no resume after a crash) would see that rollback through to its end.
 */
export function checkNoUndoRunning(s: StepContext): void {
  if (s.live.index.undoing === 0) return;
  for (const node of s.run.nodes.values()) checkNotUndoing(s, node);
  for (const activation of s.run.activations.values()) checkNotUndoing(s, activation);
}

/** Whether the saga owes a node's compensation: it completed, its task has a rollback, and it was not rolled back. */
export function owesNode(node: NodeState): boolean {
  // A map node's children are compensated one by one (activations), not the node.
  return node.status === 'succeeded' && node.def.rollback && node.def.kind === 'task' && !node.def.persistent && node.def.each === undefined && node.undo === undefined;
}

/** Whether the saga (or the subflow scope holding its node) owes an activation's compensation. */
export function owesActivation(activation: ActivationState): boolean {
  return activation.compensate === true && activation.status === 'succeeded' && activation.undo === undefined;
}

/**
 * Refuses to remove a node whose rollback runs (its outcome would be lost and
 * the saga would move on before it ends), or, in a run with policy `rollback`,
 * a completed node (or persistent listener with completed activations) whose
 * compensation the saga owes: removing it would skip that compensation.
 */
export function checkRemovable(s: StepContext, node: NodeState): void {
  checkNotUndoing(s, node);
  const id = node.def.id;
  let owed = owesNode(node);
  for (const activation of s.run.activations.values()) {
    if (activation.node !== id) continue;
    checkNotUndoing(s, activation);
    owed ||= owesActivation(activation);
  }
  if (owed && s.run.onFailure === 'rollback') {
    throw new InvalidChangeError(`node "${id}" has completed and its rollback is owed to the saga of run "${s.run.id}" (failure policy rollback): it cannot be removed`);
  }
}

/**
 * Starts the saga (policy `rollback`, a node failed for good): no new work
 * starts, so activations waiting for a retry are cancelled now (retrying nodes
 * are cancelled once nothing runs), and the results they held back are passed on.
 */
export function startSaga(s: StepContext): void {
  s.run.saga = true;
  const held = new Set<NodeState>();
  for (const activation of [...s.run.activations.values()]) {
    if (activation.status !== 'retrying') continue;
    s.setActivation(activation, 'cancelled');
    s.record({ type: 'node.cancelled', node: activation.node, activation: activation.seq });
    const node = s.run.nodes.get(activation.node);
    if (node !== undefined) held.add(node);
  }
  for (const node of held) {
    if (node.def.each === undefined) releaseHeld(s, node);
    else if (node.status === 'running' && earliestLive(s.live, node.def.id) === Infinity) {
      // A map node whose last live children were waiting for a retry: the rest cannot start now.
      s.setStatus(node, 'cancelled');
      s.record({ type: 'node.cancelled', node: node.def.id, detail: { reason: 'rollback' } });
    }
  }
}

/** The saga: once nothing runs, compensate completed nodes and activations one at a time, latest completion first. */
export function continueSaga(s: StepContext): void {
  const index = s.live.index;
  if (index.counts.running + index.liveActivations + index.undoing > 0) return;
  for (const node of s.run.nodes.values()) {
    if (node.status === 'retrying') {
      s.setStatus(node, 'cancelled');
      s.record({ type: 'node.cancelled', node: node.def.id });
    }
  }
  let latest: { node: NodeState; activation?: ActivationState; doneSeq: number } | undefined;
  for (const node of s.run.nodes.values()) {
    if (owesNode(node) && (latest === undefined || (node.doneSeq ?? 0) > latest.doneSeq)) latest = { node, doneSeq: node.doneSeq ?? 0 };
  }
  for (const activation of s.run.activations.values()) {
    const node = s.run.nodes.get(activation.node);
    if (node === undefined || !owesActivation(activation)) continue;
    if (latest === undefined || (activation.doneSeq ?? 0) > latest.doneSeq) latest = { node, activation, doneSeq: activation.doneSeq ?? 0 };
  }
  if (latest !== undefined) startUndo(s, latest.node, latest.activation);
}
