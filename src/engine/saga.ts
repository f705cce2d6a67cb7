/**
 * Rollbacks: a failed node's own rollback, and the saga of policy `rollback`
 * (once nothing runs, completed nodes are rolled back one at a time, latest
 * completion first).
 *
 * @packageDocumentation
 */
import type { Json, JsonObject } from '../codec/json.js';
import { InvalidChangeError } from '../errors.js';
import type { Failure } from '../model/failure.js';
import type { Command, ExecutionRef } from './events.js';
import type { NodeState } from './state.js';
import type { Stepper } from './step.js';

/** A dispatch of a node's rollback, with the apply's result or failure. */
export function rollbackCommand(s: Stepper, node: NodeState, ref: ExecutionRef, inputs: JsonObject, result: Json | undefined, error: Failure | undefined): Command {
  const command = s.dispatchCommand(node, ref, inputs);
  if (command.type !== 'dispatch') return command;
  command.kind = 'rollback';
  if (result !== undefined) command.result = result;
  if (error !== undefined) command.error = error;
  return command;
}

/** Starts a node's rollback. */
export function startUndo(s: Stepper, node: NodeState): void {
  s.setUndo(node, 'running');
  const ref = { node: node.def.id, attempt: node.attempt };
  s.out.commands.push(rollbackCommand(s, node, ref, node.inputs ?? {}, node.status === 'succeeded' ? node.result : undefined, node.error));
  s.record({ type: 'rollback.started', node: node.def.id, attempt: node.attempt });
}

/**
 * Records the outcome of a node's rollback. A signal of another attempt's
 * rollback (a late duplicate after a retry by hand) changes nothing.
 */
export function undone(s: Stepper, ref: ExecutionRef, to: 'done' | 'failed', error?: Failure): void {
  if (ref.activation !== undefined) return;
  const id = ref.node;
  const node = s.run.nodes.get(id);
  if (node?.undo !== 'running' || node.attempt !== ref.attempt) return;
  s.setUndo(node, to);
  if (error !== undefined) node.undoError = error;
  s.record(
    error === undefined
      ? { type: 'rollback.succeeded', node: id }
      : { type: 'rollback.failed', node: id, detail: { name: error.name, message: error.message } },
  );
}

/** Refuses a change that would start a new attempt of a node whose rollback still runs. */
export function checkNotUndoing(s: Stepper, node: NodeState): void {
  if (node.undo === 'running') {
    throw new InvalidChangeError(`rollback of node "${node.def.id}" is running in run "${s.run.id}": wait for it to finish`);
  }
}

/** The saga: once nothing runs, roll back completed nodes one at a time, latest first. */
export function continueSaga(s: Stepper): void {
  const index = s.live.index;
  if (index.counts.running + index.liveActivations + index.undoing > 0) return;
  for (const node of s.run.nodes.values()) {
    if (node.status === 'retrying') {
      s.setStatus(node, 'cancelled');
      s.record({ type: 'node.cancelled', node: node.def.id });
    }
  }
  let latest: NodeState | undefined;
  for (const node of s.run.nodes.values()) {
    if (node.status === 'succeeded' && node.def.rollback && node.undo === undefined) {
      if (latest === undefined || (node.doneSeq ?? 0) > (latest.doneSeq ?? 0)) latest = node;
    }
  }
  if (latest !== undefined) startUndo(s, latest);
}
