/**
 * Persistent listeners: each notification becomes an activation of its own (or
 * waits in the node's backlog until its other inputs are there); completions
 * are passed on in notification order, held back while an earlier activation
 * still runs; notifications that can never run are recorded as not delivered.
 *
 * @packageDocumentation
 */
import type { Json, JsonObject } from '../codec/json.js';
import { resolveInputs, sourcesNotified } from './inputs.js';
import { addLive, earliestLive } from './live.js';
import { activationKey, type ActivationState, type Backlogged, type Held, type NodeState, type RunState } from './state.js';
import { written, type StepContext } from './step-context.js';

/** Whether a node notifies many times (an event or a persistent listener). */
function isStreaming(node: NodeState | undefined): boolean {
  return node !== undefined && (node.def.kind === 'event' || node.def.persistent);
}

/**
 * Whether a notification from `source` activates the persistent listener
 * `target`: a one-shot source only supplies an input to a listener that has
 * streaming sources (events, persistent listeners), whose notifications activate it.
 */
function triggers(run: RunState, target: NodeState, source: NodeState | undefined): boolean {
  return isStreaming(source) || !target.sources.some((l) => isStreaming(run.nodes.get(l.from)));
}

/**
 * A persistent listener receives a notification from `from` (with `value`,
 * by default the source's latest result): one activation, or a backlog entry.
 */
export function activate(s: StepContext, node: NodeState, from: string, value: Json | undefined = s.run.nodes.get(from)?.result): void {
  const run = s.run;
  if (!s.accepting || run.stopped || node.status !== 'listening') return;
  const triggered = triggers(run, node, run.nodes.get(from));
  const notified: Backlogged | undefined = value === undefined ? undefined : { seq: 0, from, value };
  const inputs = sourcesNotified(run, node, s.live.index.notifiedSources) ? resolveInputs(run, node, notified) : undefined;
  if (inputs === undefined) {
    if (!triggered) return; // it only supplied an input
    const entry: Backlogged = { seq: ++run.seq, from };
    if (value !== undefined) entry.value = value;
    // Appended in place and persisted as one row: never copied nor rewritten whole.
    (node.backlog ??= []).push(entry);
    const appended = s.out.backlog.get(node.def.id);
    if (appended === undefined) written(s.out, 'backlog').set(node.def.id, [entry]);
    else appended.push(entry);
    return;
  }
  if (node.backlog !== undefined) {
    // Notifications that waited for other inputs go first, in recorded order,
    // each with its own source value and the latest value of the others.
    const waiting = node.backlog;
    delete node.backlog;
    s.out.backlog.delete(node.def.id);
    written(s.out, 'drained').add(node.def.id);
    for (const entry of waiting) startActivation(s, node, entry.seq, entry.from, resolveInputs(run, node, entry) ?? inputs);
  }
  if (triggered) startActivation(s, node, ++run.seq, from, inputs);
}

/** Starts an activation of `node` numbered `seq` (a notification, or a map child's element index) with `inputs`. */
export function startActivation(s: StepContext, node: NodeState, seq: number, from: string, inputs: JsonObject): void {
  const activation: ActivationState = { node: node.def.id, seq, from, status: 'running', attempt: 1, inputs };
  const key = activationKey(node.def.id, seq);
  s.live.index.liveActivations++;
  s.run.activations.set(key, activation);
  addLive(s.live.index, activation);
  written(s.out, 'activations').set(key, activation);
  s.enqueue(node, activation, { node: node.def.id, attempt: 1, activation: seq }, inputs);
}

/**
 * Holds a completed activation's result back (until {@link releaseHeld}
 * passes it on): put in seq order in the node's `held` list, and appended to
 * the step's held rows, so that a notification writes one row, never the list.
 */
export function holdResult(s: StepContext, node: NodeState, entry: Held): void {
  const held = node.held ?? [];
  let at = held.length;
  while (at > 0 && (held[at - 1] as Held).seq > entry.seq) at--;
  node.held = [...held.slice(0, at), entry, ...held.slice(at)];
  const appended = s.out.held.get(node.def.id);
  if (appended === undefined) written(s.out, 'held').set(node.def.id, [entry]);
  else appended.push(entry);
}

/**
 * Records that a node's held results up to seq `upTo` are gone from its
 * `held` list (passed on, or dropped): their stored rows are deleted, and
 * those appended in this output are not written.
 */
export function releasedUpTo(s: StepContext, node: NodeState, upTo: number): void {
  const id = node.def.id;
  const appended = s.out.held.get(id);
  if (appended !== undefined) {
    const kept = appended.filter((entry) => entry.seq > upTo);
    if (kept.length === 0) s.out.held.delete(id);
    else s.out.held.set(id, kept);
  }
  const released = written(s.out, 'released');
  released.set(id, Math.max(released.get(id) ?? upTo, upTo));
}

/**
 * Notifies, in seq order, the held completions of a persistent listener that
 * no earlier running or retrying activation holds back. A failed activation
 * does not hold later ones back; retried by hand, it holds back those that
 * finish after it, and its own result, older than the latest notified, is
 * passed to listeners without becoming the node's `result`.
 */
export function releaseHeld(s: StepContext, node: NodeState): void {
  const held = node.held;
  // A map node's held results are its children's, passed on together (engine/map.ts).
  if (held === undefined || node.def.each !== undefined) return;
  const first = earliestLive(s.live, node.def.id);
  const ready = held.filter((entry) => entry.seq < first);
  if (ready.length === 0) return;
  if (ready.length === held.length) delete node.held;
  else node.held = held.slice(ready.length);
  releasedUpTo(s, node, (ready[ready.length - 1] as Held).seq);
  for (const entry of ready) {
    if (node.resultSeq === undefined || entry.seq > node.resultSeq) {
      node.result = entry.result;
      node.resultSeq = entry.seq;
    }
    node.emitted = (node.emitted ?? 0) + 1;
    s.touch(node);
    s.notifyListeners(node, entry.result);
  }
}

/**
 * Records a notification from `source` (with `value`) that `target`, a
 * persistent listener, will never take: a result that reaches it after it
 * was stopped, or one held back for order when the run is cancelled (see
 * {@link notDelivered}). One that would only supply an input is not recorded.
 */
export function dropNotification(s: StepContext, target: NodeState, source: NodeState, value: Json | undefined, reason: 'stopped' | 'cancelled'): void {
  if (value === undefined || !triggers(s.run, target, source)) return;
  const from = source.def.id;
  const seq = ++s.run.seq;
  const inputs = resolveInputs(s.run, target, { seq, from, value }) ?? {};
  const why = reason === 'stopped' ? `"${target.def.id}" was stopped before it arrived` : 'the run was cancelled before it was passed on';
  notDelivered(s, target, { seq, from }, inputs, reason, `notification ${seq} from "${from}" was not delivered: ${why}`);
}

/**
 * Records a notification of a persistent listener that can never run as an
 * activation that was never delivered: `cancelled`, `attempt: 0`, with a
 * `NotDelivered` error, and a `node.cancelled` history entry.
 */
export function notDelivered(s: StepContext, target: NodeState, entry: { seq: number; from: string }, inputs: JsonObject, reason: 'stopped' | 'cancelled', message: string): void {
  const activation: ActivationState = {
    node: target.def.id,
    seq: entry.seq,
    from: entry.from,
    status: 'cancelled',
    attempt: 0,
    inputs,
    queuedAt: s.now,
    finishedAt: s.now,
    error: { name: 'NotDelivered', message, retryable: false },
  };
  written(s.out, 'activations').set(activationKey(target.def.id, entry.seq), activation);
  s.record({ type: 'node.cancelled', node: target.def.id, activation: entry.seq, detail: { reason, from: entry.from } });
}

/** Cancels a live activation: its execution is aborted and it is recorded `cancelled`. */
export function cancelActivation(s: StepContext, activation: ActivationState): void {
  s.out.commands.push({ type: 'abort', runId: s.run.id, node: activation.node, attempt: activation.attempt, activation: activation.seq });
  s.setActivation(activation, 'cancelled');
}

/** Re-runs a failed activation (change `retry` with an activation). */
export function retryActivation(s: StepContext, activation: ActivationState): void {
  const node = s.run.nodes.get(activation.node) as NodeState;
  // A new attempt has not been rolled back yet.
  if (activation.undo !== undefined) s.setUndo(activation, 'none');
  s.setActivation(activation, 'running');
  addLive(s.live.index, activation);
  activation.attempt++;
  delete activation.error;
  s.enqueue(node, activation, { node: activation.node, attempt: activation.attempt, activation: activation.seq }, activation.inputs);
}
