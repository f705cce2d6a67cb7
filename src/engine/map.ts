/**
 * Map nodes (see docs/map-collect.md): a node with `each` fans out over the
 * list its `each` input holds, one child per element. Children are activations
 * of the node numbered by element index (`node[i]`): each has its own inputs
 * (the element under the `each` name), attempts and retries (the node's
 * policy), and its own rollback. At most `concurrency` run at once; they start
 * in element order. A child's result is held (one held row each, no node row
 * written) until every child has succeeded; then the node succeeds with the
 * list of results in element order and notifies its listeners.
 *
 * States of the map node:
 *
 * | node status | children |
 * | --- | --- |
 * | `running` | started in order, up to `concurrency` live at once |
 * | `succeeded` | all succeeded; `result` is their results' list (`[]` for an empty list) |
 * | `failed` | a child failed for good (or the `each` input is not a list: `TW_MAP_INPUT`); running children finish, no new one starts; retrying the failed child (or the node) resumes it |
 * | `cancelled` | the run cancelled, or stopped taking new work (a saga) before every child started |
 *
 * @packageDocumentation
 */
import type { Json, JsonObject } from '../codec/json.js';
import { MapInputError } from '../errors.js';
import { failure, type Failure } from '../model/failure.js';
import { childName } from '../model/map.js';
import { releasedUpTo, startActivation } from './activations.js';
import type { MapProgress } from './live.js';
import { failInScope, inCompensatingScope } from './scopes.js';
import type { ActivationState, Held, NodeState } from './state.js';
import { written, type StepContext } from './step-context.js';

/**
 * The progress of map node `node`, derived from the state on first use after
 * a load (its held results and the activations the run keeps), then kept up
 * to date in the run's index.
 */
function progress(s: StepContext, node: NodeState): MapProgress {
  const maps = (s.live.index.maps ??= new Map());
  const id = node.def.id;
  let found = maps.get(id);
  if (found !== undefined) return found;
  let last = -1;
  let live = 0;
  for (const entry of node.held ?? []) if (entry.seq > last) last = entry.seq;
  for (const activation of s.run.activations.values()) {
    if (activation.node !== id) continue;
    if (activation.seq > last) last = activation.seq;
    if (activation.status === 'running' || activation.status === 'retrying') live++;
  }
  found = { started: last + 1, live };
  maps.set(id, found);
  return found;
}

/**
 * Keeps a map node's live children counted when one of its activations moves
 * in or out of the live states (called by the stepper for every activation
 * transition, once some map's progress is known).
 */
export function countMapChild(s: StepContext, activation: ActivationState, wasLive: boolean, isLive: boolean): void {
  const found = s.live.index.maps?.get(activation.node);
  if (found !== undefined) found.live += Number(isLive) - Number(wasLive);
}

/** The list a map node fans out over (its `each` input, recorded at its start). */
function elements(node: NodeState): Json[] {
  return (node.inputs as JsonObject)[node.def.each as string] as Json[];
}

/** Describes a value that is not a list, for {@link MapInputError}. */
function describe(value: Json | undefined): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return typeof value;
}

/**
 * Starts map node `node`, just moved to `running` with its new attempt's
 * inputs (by the stepper's dispatch, instead of a dispatch command): its
 * children up to `concurrency`; an empty list succeeds at once with `[]`; a
 * value that is not a list fails it (`TW_MAP_INPUT`, not retried).
 */
export function startMap(s: StepContext, node: NodeState): void {
  const id = node.def.id;
  const each = node.def.each as string;
  const inputs = node.inputs as JsonObject;
  delete node.finishedAt;
  // Nothing is queued for the node itself: its children are.
  node.queuedAt = node.startedAt = s.now;
  forgetChildren(s, node);
  const list = inputs[each];
  if (!Array.isArray(list)) {
    const error = new MapInputError(id, each, describe(list));
    s.record({ type: 'node.failed', node: id, attempt: node.attempt, detail: { name: error.name, message: error.message, code: error.code } });
    fail(s, node, failure(error.name, error.message, error.code));
    return;
  }
  (s.live.index.maps ??= new Map()).set(id, { started: 0, live: 0 });
  s.record({ type: 'node.started', node: id, attempt: node.attempt, detail: { children: list.length } });
  advance(s, node);
}

/**
 * Forgets what an earlier start of the node left (a subflow run again as a
 * whole starts its map node again): held results are dropped, failed children
 * cancelled, so that the new children (numbered from 0 again) are counted alone.
 */
function forgetChildren(s: StepContext, node: NodeState): void {
  const id = node.def.id;
  if (node.held !== undefined) {
    let last = -1;
    for (const entry of node.held) if (entry.seq > last) last = entry.seq;
    releasedUpTo(s, node, last);
    delete node.held;
  }
  if (node.attempt === 1) return; // its first start: nothing left
  for (const activation of [...s.run.activations.values()]) if (activation.node === id && activation.status === 'failed') s.setActivation(activation, 'cancelled');
}

/** Starts children in element order while fewer than `concurrency` run. */
function startChildren(s: StepContext, node: NodeState, list: Json[], at: MapProgress): void {
  const id = node.def.id;
  const each = node.def.each as string;
  const base = node.inputs as JsonObject;
  const limit = node.def.concurrency ?? list.length;
  while (at.started < list.length && at.live < limit) {
    const index = at.started++;
    at.live++;
    const inputs: JsonObject = { ...base };
    inputs[each] = list[index] as Json;
    startActivation(s, node, index, id, inputs);
  }
}

/**
 * Holds a child's result until the node completes: appended in place (in
 * completion order; the node's result is put in element order at the end),
 * one held row each, and the node's own row is not written.
 */
export function holdChild(s: StepContext, node: NodeState, entry: Held): void {
  // In place, not copied: a copy per child would cost O(n²) for n children.
  (node.held ??= []).push(entry);
  const appended = s.out.held.get(node.def.id);
  if (appended === undefined) written(s.out, 'held').set(node.def.id, [entry]);
  else appended.push(entry);
}

/**
 * A child of map node `node` has left the running ones: succeeded (its result
 * held), failed for good (`error`), or cancelled. Starts the next children,
 * and completes or fails the node when nothing of it is left to run.
 */
export function childSettled(s: StepContext, node: NodeState, child: number, error?: Failure): void {
  if (node.status !== 'running') return;
  if (error !== undefined) {
    const name = childName(node.def.id, child);
    s.record({ type: 'node.failed', node: node.def.id, attempt: node.attempt, detail: { name: error.name, message: error.message, child: name } });
    fail(s, node, { ...error, message: `${name}: ${error.message}` });
    return;
  }
  advance(s, node);
}

/**
 * Moves a running map node on: starts children while the run takes new work;
 * once none runs, the node succeeds (every child did), fails (a child failed:
 * some may have been retried by hand meanwhile) or is cancelled (children that
 * cannot start any more).
 */
export function advance(s: StepContext, node: NodeState): void {
  if (node.status !== 'running') return;
  const list = elements(node);
  const at = progress(s, node);
  if (s.accepting && !(s.run.scopes !== undefined && inCompensatingScope(s, node))) startChildren(s, node, list, at);
  if (at.live > 0) return;
  if (at.started < list.length) {
    s.setStatus(node, 'cancelled');
    s.record({ type: 'node.cancelled', node: node.def.id, detail: { reason: 'no new work', started: at.started, children: list.length } });
    return;
  }
  const failedChild = failedChildren(s, node)[0];
  if (failedChild !== undefined) {
    childSettled(s, node, failedChild.seq, failedChild.error ?? failure('Error', 'failed', 'TW_TASK_FAILED'));
    return;
  }
  complete(s, node, list.length);
}

/** The children of a map node that failed for good (and are not retried), in element order. */
export function failedChildren(s: StepContext, node: NodeState): ActivationState[] {
  const found: ActivationState[] = [];
  for (const activation of s.run.activations.values()) if (activation.node === node.def.id && activation.status === 'failed') found.push(activation);
  return found.sort((a, b) => a.seq - b.seq);
}

function fail(s: StepContext, node: NodeState, error: Failure): void {
  s.setStatus(node, 'failed');
  node.error = error;
  node.finishedAt = s.now;
  failInScope(s, node);
}

/** Every child succeeded: the node's result is their results' list, in element order. */
function complete(s: StepContext, node: NodeState, count: number): void {
  const results: Json[] = new Array<Json>(count);
  for (const entry of node.held ?? []) results[entry.seq] = entry.result;
  if (node.held !== undefined) {
    releasedUpTo(s, node, count - 1);
    delete node.held;
  }
  s.live.index.maps?.delete(node.def.id);
  s.setStatus(node, 'succeeded');
  node.result = results;
  node.finishedAt = s.now;
  node.doneSeq = ++s.run.seq;
  s.record({ type: 'node.succeeded', node: node.def.id, attempt: node.attempt, detail: { children: count } });
  s.notifyListeners(node);
}
