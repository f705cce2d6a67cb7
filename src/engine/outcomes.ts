/**
 * The outcomes of executions: a node's or an activation's success (passed on to
 * its listeners), its failure (a retry scheduled, or a failure for good, which
 * starts its rollback and, under policy `rollback`, the saga), and a scheduled
 * retry coming due. Signals of another attempt change nothing.
 *
 * @packageDocumentation
 */
import type { Json, JsonObject } from '../codec/json.js';
import type { Failure } from '../model/failure.js';
import { backoffDelayMs } from '../model/retry.js';
import { holdResult, releaseHeld } from './activations.js';
import { setAside } from './rewire.js';
import { executionRef, type ExecutionRef } from './events.js';
import { resolveInputs, sourcesNotified } from './inputs.js';
import { startUndo } from './saga.js';
import { childSettled, holdChild } from './map.js';
import { failInScope } from './scopes.js';
import { markStarted } from './starts.js';
import { activationKey, hasNotified, type NodeState } from './state.js';
import type { StepContext } from './step-context.js';

/** An execution succeeded with `result`. */
export function succeeded(s: StepContext, ref: ExecutionRef, result: Json, startedAt?: number): void {
  const run = s.run;
  if (ref.activation !== undefined) {
    const activation = s.liveActivation(ref);
    const node = run.nodes.get(ref.node);
    if (activation === undefined || node === undefined) return;
    markStarted(s, activation, startedAt);
    activation.result = result;
    activation.finishedAt = s.now;
    // Owed to the run's saga, or to the subflow scope holding the node (its rollback or its retry).
    if (node.def.rollback && (run.onFailure === 'rollback' || node.def.scope !== undefined)) {
      activation.compensate = true;
      activation.doneSeq = ++run.seq;
    }
    s.setActivation(activation, 'succeeded');
    s.record({ type: 'node.succeeded', node: ref.node, attempt: ref.attempt, activation: ref.activation });
    if (node.def.each !== undefined) {
      holdChild(s, node, { seq: activation.seq, result });
      childSettled(s, node, activation.seq);
      return;
    }
    holdResult(s, node, { seq: activation.seq, result });
    s.touch(node);
    releaseHeld(s, node);
    return;
  }
  const node = s.runningNode(ref);
  if (node === undefined) return;
  markStarted(s, node, startedAt);
  s.setStatus(node, 'succeeded');
  node.result = result;
  node.finishedAt = s.now;
  node.doneSeq = ++run.seq;
  s.record({ type: 'node.succeeded', node: ref.node, attempt: ref.attempt });
  s.notifyListeners(node);
}

/** An execution failed with `error`: retried (if its policy and the run allow), or failed for good. */
export function failed(s: StepContext, event: ExecutionRef, error: Failure, startedAt?: number): void {
  const run = s.run;
  const ref = executionRef(event);
  const node = run.nodes.get(ref.node);
  const activation = ref.activation === undefined ? undefined : s.liveActivation(ref);
  const holder = activation ?? (ref.activation === undefined ? s.runningNode(ref) : undefined);
  if (node === undefined || holder === undefined) return;
  markStarted(s, holder, startedAt);
  // The attempt's start, kept in its outcome's entry: the next attempt forgets it.
  const timing: JsonObject = holder.startedAt === undefined ? {} : { startedAt: holder.startedAt };
  const retry = node.def.retry;
  // A node added in place of a removed one numbers on from it; its retries count from its own first attempt.
  const tried = ref.attempt - (activation === undefined ? (node.attemptBase ?? 0) : 0);
  const willRetry = error.retryable && tried <= retry.limit && s.accepting;
  if (willRetry) {
    const dueAt = s.now + backoffDelayMs(retry, tried, `${run.id}/${ref.node}/${ref.activation ?? ''}/${ref.attempt}`);
    if (activation !== undefined) {
      s.setActivation(activation, 'retrying');
      activation.error = error;
      activation.retryAt = dueAt;
    } else {
      s.setStatus(node, 'retrying');
      node.error = error;
      node.retryAt = dueAt;
    }
    const next: ExecutionRef = { node: ref.node, attempt: ref.attempt + 1 };
    if (ref.activation !== undefined) next.activation = ref.activation;
    s.out.commands.push({ type: 'schedule', runId: run.id, dueAt, ...next });
    s.record({ type: 'node.retrying', ...ref, detail: { name: error.name, message: error.message, dueAt, ...timing } });
    return;
  }
  s.record({ type: 'node.failed', ...ref, detail: { name: error.name, message: error.message, ...timing } });
  if (activation !== undefined) {
    activation.error = error;
    activation.finishedAt = s.now;
    s.setActivation(activation, 'failed');
    if (node.def.rollback) startUndo(s, node, activation);
    if (node.def.each !== undefined) childSettled(s, node, activation.seq, error);
    else releaseHeld(s, node);
    return;
  }
  s.setStatus(node, 'failed');
  node.error = error;
  node.finishedAt = s.now;
  if (node.def.rollback) startUndo(s, node);
  if (setAside(s, node)) return; // relinked away: nothing needs it any more
  failInScope(s, node);
}

/**
 * A scheduled retry is due: dispatch the next attempt. During a saga a node's
 * retry does not start (no new work): the saga cancels it once nothing runs.
 */
export function retryDue(s: StepContext, event: ExecutionRef): void {
  const run = s.run;
  const ref = executionRef(event);
  if (ref.activation !== undefined) {
    const activation = run.activations.get(activationKey(ref.node, ref.activation));
    const node = run.nodes.get(ref.node);
    if (activation?.status !== 'retrying' || activation.attempt + 1 !== ref.attempt || node === undefined) return;
    s.setActivation(activation, 'running');
    activation.attempt = ref.attempt;
    delete activation.retryAt;
    s.enqueue(node, activation, ref, activation.inputs);
    return;
  }
  const node = run.nodes.get(ref.node);
  if (node?.status !== 'retrying' || node.attempt + 1 !== ref.attempt || !s.accepting) return;
  if (!sourcesNotified(run, node, s.live.index.notifiedSources)) {
    // A source was linked while it waited: the next attempt also waits for it.
    s.setStatus(node, 'waiting');
    delete node.retryAt;
    const waitingFor = node.sources.filter((l) => !hasNotified(run.nodes.get(l.from) as NodeState)).map((l) => l.from);
    s.record({ type: 'node.retrying', node: node.def.id, attempt: node.attempt, detail: { waitingFor } });
    return;
  }
  const inputs = resolveInputs(run, node) ?? node.inputs ?? {};
  s.setStatus(node, 'waiting');
  s.dispatch(node, inputs);
}
