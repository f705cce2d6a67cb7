/**
 * The changes to what a run's nodes do: retry, skip, cancel, stop.
 *
 * @packageDocumentation
 */
import type { JsonObject } from '../codec/json.js';
import { InvalidChangeError } from '../errors.js';
import { dropNotification, notDelivered, releasedUpTo, retryActivation } from './activations.js';
import { inRun, setStatus, type Edit, type Effect } from './edit.js';
import { checkNoUndoRunning, checkNotUndoing } from './saga.js';
import { advance, failedChildren } from './map.js';
import { inCompensatingScope } from './scopes.js';
import { activationKey, type Held, type NodeState } from './state.js';

/** Runs a failed or cancelled node, or a failed activation, again (change `retry`). */
export function retry(e: Edit, target: NodeState, activation: number | undefined): Effect | undefined {
  const s = e.s;
  if (!s.accepting) throw new InvalidChangeError(`run "${s.run.id}" is rolling back: nodes cannot be retried`);
  if (inCompensatingScope(s, target)) throw new InvalidChangeError(`node "${target.def.id}": its subflow is compensating after a failure; it runs again or fails as a whole`);
  if (activation !== undefined) {
    const key = activationKey(target.def.id, activation);
    const found = s.run.activations.get(key);
    if (found?.status !== 'failed') {
      throw new InvalidChangeError(`activation ${activation} of node "${target.def.id}" has not failed: only a failed activation can be retried`);
    }
    checkNotUndoing(s, found);
    e.journal.activation(key, found);
    retryActivation(s, found);
    return target.def.each === undefined ? undefined : resumeMap(e, target);
  }
  if (target.def.each !== undefined && target.status === 'failed') {
    // A map node failed by its children: they are retried, the others kept.
    const children = failedChildren(s, target);
    if (children.length > 0) {
      for (const child of children) {
        checkNotUndoing(s, child);
        e.journal.activation(activationKey(target.def.id, child.seq), child);
        retryActivation(s, child);
      }
      return resumeMap(e, target);
    }
  }
  if (target.status !== 'failed' && target.status !== 'cancelled') {
    throw new InvalidChangeError(`node "${target.def.id}" is ${target.status}: only a failed or cancelled node can be retried`);
  }
  checkNotUndoing(s, target);
  setStatus(e, target, 'waiting');
  delete target.error;
  return () => {
    if (inRun(s, target)) s.tryStart(target);
  };
}

/** A map node with a child retried: running again (if it had failed), its other children started once the change list is applied. */
function resumeMap(e: Edit, target: NodeState): Effect {
  const s = e.s;
  if (target.status === 'failed') {
    setStatus(e, target, 'waiting');
    s.setStatus(target, 'running');
    delete target.error;
    delete target.finishedAt;
  }
  return () => {
    if (inRun(s, target)) advance(s, target);
  };
}

/** Skips a node that has not run or has failed, with `result` as its result (change `skip`). */
export function skip(e: Edit, target: NodeState, result: JsonObject[string]): Effect {
  const s = e.s;
  if (!['waiting', 'failed', 'retrying', 'cancelled'].includes(target.status)) {
    throw new InvalidChangeError(`node "${target.def.id}" is ${target.status}: only a node that has not run or has failed can be skipped`);
  }
  checkNotUndoing(s, target);
  setStatus(e, target, 'skipped');
  target.result = result;
  target.finishedAt = s.now;
  target.doneSeq = ++s.run.seq;
  delete target.retryAt;
  s.record({ type: 'node.skipped', node: target.def.id });
  return () => {
    if (inRun(s, target)) s.notifyListeners(target);
  };
}

/**
 * Records a persistent listener's backlog (notifications that waited for its
 * other inputs) as activations that were never delivered: `cancelled`, with a
 * `NotDelivered` error, and a `node.cancelled` history entry each.
 */
function dropBacklog(e: Edit, target: NodeState, reason: 'stopped' | 'cancelled'): void {
  const s = e.s;
  if (target.backlog === undefined) return;
  e.journal.node(target);
  for (const entry of target.backlog) {
    const message = `notification ${entry.seq} from "${entry.from}" was not delivered: the run was ${reason} before the other inputs of "${target.def.id}" arrived`;
    notDelivered(s, target, entry, {}, reason, message);
  }
  delete target.backlog;
  s.touch(target);
}

/**
 * Records the results a persistent listener held back for notification order
 * as not delivered to its persistent listeners: the run is cancelled, nothing
 * will pass them on.
 */
function dropHeld(e: Edit, target: NodeState): void {
  const s = e.s;
  // A map node's held results are its children's: nothing listens to them one by one.
  if (target.held === undefined || target.def.each !== undefined) return;
  e.journal.node(target);
  for (const entry of target.held) {
    // The node's own result is that of its latest notification, as a release would make it.
    if (target.resultSeq === undefined || entry.seq > target.resultSeq) {
      target.result = entry.result;
      target.resultSeq = entry.seq;
    }
    target.emitted = (target.emitted ?? 0) + 1;
    for (const link of s.live.index.outgoing.get(target.def.id) ?? []) {
      const listener = s.run.nodes.get(link.to);
      if (listener?.def.persistent) dropNotification(s, listener, target, entry.result, 'cancelled');
    }
  }
  releasedUpTo(s, target, (target.held[target.held.length - 1] as Held).seq);
  delete target.held;
  s.touch(target);
}

/**
 * Cancels the run (change `cancel`): every unfinished node and live activation
 * is cancelled and its execution aborted. Refused while a saga or a rollback
 * runs (a cancelled run is final: nothing would see it through).
 */
export function cancel(e: Edit): void {
  const s = e.s;
  if (s.run.status === 'succeeded') throw new InvalidChangeError(`run "${s.run.id}" is succeeded: there is nothing to cancel`);
  if (s.run.saga) throw new InvalidChangeError(`run "${s.run.id}" is rolling back: it cannot be cancelled (its compensations run to the end)`);
  checkNoUndoRunning(s);
  s.run.cancelled = true;
  s.out.commands.push({ type: 'abort', runId: s.run.id });
  for (const target of s.run.nodes.values()) dropHeld(e, target);
  for (const target of s.run.nodes.values()) {
    if (['waiting', 'running', 'retrying', 'listening'].includes(target.status)) {
      dropBacklog(e, target, 'cancelled');
      setStatus(e, target, 'cancelled');
      s.record({ type: 'node.cancelled', node: target.def.id });
    }
  }
  for (const [key, activation] of [...s.run.activations]) {
    if (activation.status !== 'running' && activation.status !== 'retrying') continue;
    e.journal.activation(key, activation);
    s.setActivation(activation, 'cancelled');
  }
}

/** Stops the run's listening (change `stop`): events and persistent listeners succeed, their backlogs are not delivered. */
export function stop(e: Edit): void {
  const s = e.s;
  if (s.run.stopped) throw new InvalidChangeError(`run "${s.run.id}" is already stopped`);
  s.run.stopped = true;
  for (const target of s.run.nodes.values()) {
    if (target.status !== 'listening') continue;
    dropBacklog(e, target, 'stopped');
    setStatus(e, target, 'succeeded');
  }
}

