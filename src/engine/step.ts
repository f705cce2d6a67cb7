/**
 * The engine: `(run state, event) -> (new state, commands)`. Deterministic and
 * free of I/O: time comes in with the step, randomness (retry jitter) is a hash
 * of the run, node and attempt. For a cost proportional to what changed rather
 * than to the run's size, the state is updated in place and the step reports
 * which nodes and activations it changed; the caller persists those.
 *
 * @packageDocumentation
 */
import type { Json, JsonObject } from '../codec/json.js';
import type { Failure } from '../model/failure.js';
import { backoffDelayMs } from '../model/retry.js';
import { applyChanges, setAside } from './changes.js';
import { heartbeat, leaseDue } from './leases.js';
import { continueSaga, resumeUndos, startSaga, startUndo, undone } from './saga.js';
import { changesOf, executionRef, type Command, type EngineEvent, type ExecutionRef, type HistoryEntry } from './events.js';
import { resolveInputs, sourcesNotified } from './inputs.js';
import { countUndo, type LiveRun } from './live.js';
import { deriveStatus } from './status.js';
import {
  activationKey,
  SETTLED,
  hasNotified,
  type ActivationState,
  type ActivationStatus,
  type Backlogged,
  type NodeState,
  type NodeStatus,
  type RunState,
  type UndoStatus,
} from './state.js';
import { ACTIVATION_TRANSITIONS, checkTransition, NODE_TRANSITIONS, RUN_TRANSITIONS, UNDO_TRANSITIONS } from './transitions.js';
import { emptyOutput, type StepContext, type StepOutput } from './step-context.js';

/**
 * Applies one event to a run, in place, appending what it produced to `out`.
 * Signals that do not match the node's current attempt (duplicates, late
 * signals after a cancel) change nothing. Invalid changes throw before
 * changing anything.
 */
export function step(live: LiveRun, event: EngineEvent, now: number, out: StepOutput = emptyOutput()): StepOutput {
  new Stepper(live, now, out).apply(event);
  return out;
}

/** One step's working context: applies one event (the engine's parts get it as a {@link StepContext}). */
class Stepper implements StepContext {
  /** The run being stepped. */
  readonly run: RunState;

  constructor(
    /** The run with its indexes. */
    readonly live: LiveRun,
    /** The step's time (epoch ms). */
    readonly now: number,
    /** Where results accumulate. */
    readonly out: StepOutput,
  ) {
    this.run = live.state;
  }

  /** Applies an event, then re-derives the run's status. */
  apply(event: EngineEvent): void {
    const before = this.out.history.length;
    switch (event.type) {
      case 'start':
        this.record({ type: 'run.started' });
        for (const node of this.run.nodes.values()) if (node.status === 'waiting') this.tryStart(node);
        break;
      case 'resume':
        this.resume();
        break;
      case 'task.succeeded':
        this.succeeded(event, event.result);
        break;
      case 'task.failed':
        this.failed(event, event.error);
        break;
      case 'retry.due':
        this.retryDue(event);
        break;
      case 'task.heartbeat':
        heartbeat(this, event, event.leaseMs);
        break;
      case 'lease.due':
        leaseDue(this, event);
        break;
      case 'rollback.succeeded':
        undone(this, executionRef(event), 'done');
        break;
      case 'rollback.failed':
        undone(this, executionRef(event), 'failed', event.error);
        break;
      case 'notify':
        this.notifyEvent(event.event, event.payload);
        break;
      case 'change':
        applyChanges(this, changesOf(event), event.actor);
        break;
    }
    if (this.out.history.length === before) return; // nothing happened: a duplicate or late signal
    this.run.updatedAt = this.now;
    this.refresh();
  }

  // ---- node state -------------------------------------------------------

  /** Moves a node to a new status, checking the transition table and keeping counts. */
  setStatus(node: NodeState, to: NodeStatus): void {
    checkTransition(NODE_TRANSITIONS, `node "${node.def.id}"`, node.status, to);
    const counts = this.live.index.counts;
    counts[node.status]--;
    counts[to]++;
    node.status = to;
    this.touch(node);
  }

  /** Marks a node as changed (to be persisted). */
  touch(node: NodeState): void {
    this.out.nodes.add(node.def.id);
  }

  /**
   * Moves the rollback of a node or an activation to a new status (`none`:
   * forgotten, for a new attempt), checking the transition table and keeping counts.
   */
  setUndo(holder: NodeState | ActivationState, to: UndoStatus | 'none'): void {
    const what = 'def' in holder ? `node "${holder.def.id}"` : `activation ${holder.seq} of node "${holder.node}"`;
    checkTransition(UNDO_TRANSITIONS, `rollback of ${what}`, holder.undo ?? 'none', to);
    countUndo(this.live.index, holder.undo, -1);
    if (to === 'none') {
      delete holder.undo;
      delete holder.undoError;
    } else {
      holder.undo = to;
    }
    countUndo(this.live.index, holder.undo, 1);
    if ('def' in holder) this.touch(holder);
    else this.out.activations.set(activationKey(holder.node, holder.seq), holder);
  }

  /** Moves an activation to a new status, checking the transition table. */
  setActivation(activation: ActivationState, to: ActivationStatus): void {
    checkTransition(ACTIVATION_TRANSITIONS, `activation ${activation.seq} of node "${activation.node}"`, activation.status, to);
    const wasLive = activation.status === 'running' || activation.status === 'retrying';
    const isLive = to === 'running' || to === 'retrying';
    this.live.index.liveActivations += Number(isLive) - Number(wasLive);
    activation.status = to;
    const key = activationKey(activation.node, activation.seq);
    // Finished activations leave the live state (the store keeps them); failed
    // ones stay so that they can be retried, succeeded ones the saga owes a
    // compensation so that it can run.
    if ((to === 'succeeded' && activation.compensate !== true) || to === 'cancelled') this.run.activations.delete(key);
    else this.run.activations.set(key, activation);
    this.out.activations.set(key, activation);
  }

  /** Appends a history entry. */
  record(entry: Omit<HistoryEntry, 'runId' | 'seq' | 'at' | 'graphVersion'>): void {
    this.out.history.push({ runId: this.run.id, seq: ++this.run.seq, at: this.now, graphVersion: this.run.graphVersion, ...entry });
  }

  // ---- starting work ----------------------------------------------------

  /** Whether new work may start: not cancelled and no saga in progress. */
  get accepting(): boolean {
    return !this.run.cancelled && !this.run.saga;
  }

  /** Dispatches a waiting node if all its sources have notified and its inputs resolve. */
  tryStart(node: NodeState): void {
    if (!this.accepting || node.status !== 'waiting' || !sourcesNotified(this.run, node, this.live.index.notifiedSources)) return;
    const inputs = resolveInputs(this.run, node);
    if (inputs !== undefined) this.dispatch(node, inputs);
  }

  private dispatch(node: NodeState, inputs: JsonObject): void {
    // A new attempt (a retry or replace by hand) has not been rolled back yet.
    if (node.undo !== undefined) this.setUndo(node, 'none');
    this.setStatus(node, 'running');
    node.attempt++;
    node.inputs = inputs;
    node.startedAt = this.now;
    delete node.error;
    delete node.retryAt;
    this.out.commands.push(this.dispatchCommand(node, { node: node.def.id, attempt: node.attempt }, inputs));
    this.record({ type: 'node.started', node: node.def.id, attempt: node.attempt });
  }

  /** A dispatch command for an execution of a node. */
  dispatchCommand(node: NodeState, ref: ExecutionRef, inputs: JsonObject): Command {
    const def = node.def;
    const command: Command = {
      type: 'dispatch',
      kind: 'apply',
      runId: this.run.id,
      node: ref.node,
      attempt: ref.attempt,
      task: def.name,
      inputs,
      timeoutMs: def.timeoutMs,
      queue: def.queue,
    };
    if (ref.activation !== undefined) command.activation = ref.activation;
    return command;
  }

  /**
   * Tells every listener of `source` that it has notified; `value` is the
   * notification's own value when it is not the source's latest result (a
   * persistent listener's activation retried by hand after later ones).
   */
  notifyListeners(source: NodeState, value?: Json): void {
    if (!this.accepting) return;
    const links = this.live.index.outgoing.get(source.def.id);
    if (links === undefined) return;
    for (const link of [...links]) {
      const target = this.run.nodes.get(link.to);
      if (target === undefined) continue;
      if (!target.def.persistent) this.tryStart(target);
      else if (target.status === 'succeeded') this.dropNotification(target, source, value ?? source.result, 'stopped');
      else this.activate(target, source.def.id, value);
    }
  }

  /**
   * Records a notification from \`source\` (with \`value\`) that \`target\`, a
   * persistent listener, will never take: a result that reaches it after it
   * was stopped, or one held back for order when the run is cancelled (see
   * {@link Stepper.notDelivered}). One that would only supply an input is not
   * recorded.
   */
  dropNotification(target: NodeState, source: NodeState, value: Json | undefined, reason: 'stopped' | 'cancelled'): void {
    if (value === undefined || !(this.isStreaming(source) || !target.sources.some((l) => this.isStreaming(this.run.nodes.get(l.from))))) return;
    const from = source.def.id;
    const seq = ++this.run.seq;
    const inputs = resolveInputs(this.run, target, { seq, from, value }) ?? {};
    const why = reason === 'stopped' ? `"${target.def.id}" was stopped before it arrived` : 'the run was cancelled before it was passed on';
    this.notDelivered(target, { seq, from }, inputs, reason, `notification ${seq} from "${from}" was not delivered: ${why}`);
  }

  /**
   * Records a notification of a persistent listener that can never run as an
   * activation that was never delivered: \`cancelled\`, \`attempt: 0\`, with a
   * \`NotDelivered\` error, and a \`node.cancelled\` history entry.
   */
  notDelivered(target: NodeState, entry: { seq: number; from: string }, inputs: JsonObject, reason: 'stopped' | 'cancelled', message: string): void {
    const activation: ActivationState = {
      node: target.def.id,
      seq: entry.seq,
      from: entry.from,
      status: 'cancelled',
      attempt: 0,
      inputs,
      startedAt: this.now,
      finishedAt: this.now,
      error: { name: 'NotDelivered', message, retryable: false },
    };
    this.out.activations.set(activationKey(target.def.id, entry.seq), activation);
    this.record({ type: 'node.cancelled', node: target.def.id, activation: entry.seq, detail: { reason, from: entry.from } });
  }

  /**
   * A persistent listener receives a notification from `from` (with `value`,
   * by default the source's latest result): one activation, or a backlog entry.
   */
  activate(node: NodeState, from: string, value: Json | undefined = this.run.nodes.get(from)?.result): void {
    if (!this.accepting || this.run.stopped || node.status !== 'listening') return;
    const triggers = this.isStreaming(this.run.nodes.get(from)) || !node.sources.some((l) => this.isStreaming(this.run.nodes.get(l.from)));
    const notified: Backlogged | undefined = value === undefined ? undefined : { seq: 0, from, value };
    const inputs = sourcesNotified(this.run, node, this.live.index.notifiedSources) ? resolveInputs(this.run, node, notified) : undefined;
    if (inputs === undefined) {
      if (!triggers) return; // it only supplied an input
      const entry: Backlogged = { seq: ++this.run.seq, from };
      if (value !== undefined) entry.value = value;
      // Appended in place and persisted as one row: never copied nor rewritten whole.
      (node.backlog ??= []).push(entry);
      const appended = this.out.backlog.get(node.def.id);
      if (appended === undefined) this.out.backlog.set(node.def.id, [entry]);
      else appended.push(entry);
      return;
    }
    if (node.backlog !== undefined) {
      // Notifications that waited for other inputs go first, in recorded order,
      // each with its own source value and the latest value of the others.
      const waiting = node.backlog;
      delete node.backlog;
      this.out.backlog.delete(node.def.id);
      this.out.drained.add(node.def.id);
      for (const entry of waiting) this.startActivation(node, entry.seq, entry.from, resolveInputs(this.run, node, entry) ?? inputs);
    }
    // A one-shot source only supplies an input to a listener that has streaming
    // sources (events, persistent listeners): their notifications activate it.
    if (triggers) this.startActivation(node, ++this.run.seq, from, inputs);
  }

  /** Whether a node notifies many times (an event or a persistent listener). */
  private isStreaming(node: NodeState | undefined): boolean {
    return node !== undefined && (node.def.kind === 'event' || node.def.persistent);
  }

  private startActivation(node: NodeState, seq: number, from: string, inputs: JsonObject): void {
    const activation: ActivationState = { node: node.def.id, seq, from, status: 'running', attempt: 1, inputs, startedAt: this.now };
    this.live.index.liveActivations++;
    this.run.activations.set(activationKey(node.def.id, seq), activation);
    this.out.activations.set(activationKey(node.def.id, seq), activation);
    this.out.commands.push(this.dispatchCommand(node, { node: node.def.id, attempt: 1, activation: seq }, inputs));
    this.record({ type: 'node.started', node: node.def.id, attempt: 1, activation: seq });
  }

  /**
   * Notifies, in seq order, the held completions of a persistent listener that
   * no earlier running or retrying activation holds back. A failed activation
   * does not hold later ones back; retried by hand, it holds back those that
   * finish after it, and its own result, older than the latest notified, is
   * passed to listeners without becoming the node's `result`.
   */
  releaseHeld(node: NodeState): void {
    const held = node.held;
    if (held === undefined) return;
    const first = this.earliestLiveActivation(node.def.id);
    const ready = held.filter((entry) => entry.seq < first);
    if (ready.length === 0) return;
    if (ready.length === held.length) delete node.held;
    else node.held = held.slice(ready.length);
    for (const entry of ready) {
      if (node.resultSeq === undefined || entry.seq > node.resultSeq) {
        node.result = entry.result;
        node.resultSeq = entry.seq;
      }
      node.emitted = (node.emitted ?? 0) + 1;
      this.touch(node);
      this.notifyListeners(node, entry.result);
    }
  }

  /**
   * The lowest seq of a node's running or retrying activations (Infinity if
   * none). A scan of the run's activations, skipped when none is live (the
   * common case of one activation at a time).
   */
  private earliestLiveActivation(id: string): number {
    let first = Infinity;
    if (this.live.index.liveActivations === 0) return first;
    for (const activation of this.run.activations.values()) {
      if (activation.node === id && (activation.status === 'running' || activation.status === 'retrying') && activation.seq < first) first = activation.seq;
    }
    return first;
  }

  /** Cancels a live activation: its execution is aborted and it is recorded `cancelled`. */
  cancelActivation(activation: ActivationState): void {
    this.out.commands.push({ type: 'abort', runId: this.run.id, node: activation.node, attempt: activation.attempt, activation: activation.seq });
    this.setActivation(activation, 'cancelled');
  }

  /** Re-runs a failed activation (change `retry` with an activation). */
  retryActivation(activation: ActivationState): void {
    const node = this.run.nodes.get(activation.node) as NodeState;
    // A new attempt has not been rolled back yet.
    if (activation.undo !== undefined) this.setUndo(activation, 'none');
    this.setActivation(activation, 'running');
    activation.attempt++;
    delete activation.error;
    const ref = { node: activation.node, attempt: activation.attempt, activation: activation.seq };
    this.out.commands.push(this.dispatchCommand(node, ref, activation.inputs));
    this.record({ type: 'node.started', ...ref });
  }

  // ---- signals ----------------------------------------------------------

  /** The running activation an execution reference names, if it matches. */
  liveActivation(ref: ExecutionRef): ActivationState | undefined {
    const activation = this.run.activations.get(activationKey(ref.node, ref.activation as number));
    return activation?.status === 'running' && activation.attempt === ref.attempt ? activation : undefined;
  }

  /** The running node an execution reference names, if the attempt matches. */
  runningNode(ref: ExecutionRef): NodeState | undefined {
    const node = this.run.nodes.get(ref.node);
    return node?.status === 'running' && node.attempt === ref.attempt ? node : undefined;
  }

  private succeeded(ref: ExecutionRef, result: Json): void {
    if (ref.activation !== undefined) {
      const activation = this.liveActivation(ref);
      const node = this.run.nodes.get(ref.node);
      if (activation === undefined || node === undefined) return;
      activation.result = result;
      activation.finishedAt = this.now;
      if (node.def.rollback && this.run.onFailure === 'rollback') {
        activation.compensate = true;
        activation.doneSeq = ++this.run.seq;
      }
      this.setActivation(activation, 'succeeded');
      this.record({ type: 'node.succeeded', node: ref.node, attempt: ref.attempt, activation: ref.activation });
      node.held = [...(node.held ?? []), { seq: activation.seq, result }].sort((a, b) => a.seq - b.seq);
      this.touch(node);
      this.releaseHeld(node);
      return;
    }
    const node = this.runningNode(ref);
    if (node === undefined) return;
    this.setStatus(node, 'succeeded');
    node.result = result;
    node.finishedAt = this.now;
    node.doneSeq = ++this.run.seq;
    this.record({ type: 'node.succeeded', node: ref.node, attempt: ref.attempt });
    this.notifyListeners(node);
  }

  private failed(event: ExecutionRef, error: Failure): void {
    const ref = executionRef(event);
    const node = this.run.nodes.get(ref.node);
    const activation = ref.activation === undefined ? undefined : this.liveActivation(ref);
    if (node === undefined || (ref.activation === undefined ? this.runningNode(ref) === undefined : activation === undefined)) return;
    const retry = node.def.retry;
    // A node added in place of a removed one numbers on from it; its retries count from its own first attempt.
    const tried = ref.attempt - (activation === undefined ? (node.attemptBase ?? 0) : 0);
    const willRetry = error.retryable && tried <= retry.limit && this.accepting;
    const detail = { name: error.name, message: error.message } as JsonObject;
    if (willRetry) {
      const dueAt = this.now + backoffDelayMs(retry, tried, `${this.run.id}/${ref.node}/${ref.activation ?? ''}/${ref.attempt}`);
      if (activation !== undefined) {
        this.setActivation(activation, 'retrying');
        activation.error = error;
        activation.retryAt = dueAt;
      } else {
        this.setStatus(node, 'retrying');
        node.error = error;
        node.retryAt = dueAt;
      }
      const next: ExecutionRef = { node: ref.node, attempt: ref.attempt + 1 };
      if (ref.activation !== undefined) next.activation = ref.activation;
      this.out.commands.push({ type: 'schedule', runId: this.run.id, dueAt, ...next });
      this.record({ type: 'node.retrying', ...ref, detail: { ...detail, dueAt } });
      return;
    }
    this.record({ type: 'node.failed', ...ref, detail });
    if (activation !== undefined) {
      activation.error = error;
      activation.finishedAt = this.now;
      this.setActivation(activation, 'failed');
      if (node.def.rollback) startUndo(this, node, activation);
      this.releaseHeld(node);
      return;
    }
    this.setStatus(node, 'failed');
    node.error = error;
    node.finishedAt = this.now;
    if (node.def.rollback) startUndo(this, node);
    if (setAside(this, node)) return; // relinked away: nothing needs it any more
    if (this.run.onFailure === 'rollback') startSaga(this);
  }

  /**
   * A scheduled retry is due: dispatch the next attempt. During a saga a node's
   * retry does not start (no new work): the saga cancels it once nothing runs.
   */
  private retryDue(event: ExecutionRef): void {
    const ref = executionRef(event);
    if (ref.activation !== undefined) {
      const activation = this.run.activations.get(activationKey(ref.node, ref.activation));
      const node = this.run.nodes.get(ref.node);
      if (activation?.status !== 'retrying' || activation.attempt + 1 !== ref.attempt || node === undefined) return;
      this.setActivation(activation, 'running');
      activation.attempt = ref.attempt;
      delete activation.retryAt;
      this.out.commands.push(this.dispatchCommand(node, ref, activation.inputs));
      this.record({ type: 'node.started', ...ref });
      return;
    }
    const node = this.run.nodes.get(ref.node);
    if (node?.status !== 'retrying' || node.attempt + 1 !== ref.attempt || !this.accepting) return;
    if (!sourcesNotified(this.run, node, this.live.index.notifiedSources)) {
      // A source was linked while it waited: the next attempt also waits for it.
      this.setStatus(node, 'waiting');
      delete node.retryAt;
      const waitingFor = node.sources.filter((l) => !hasNotified(this.run.nodes.get(l.from) as NodeState)).map((l) => l.from);
      this.record({ type: 'node.retrying', node: node.def.id, attempt: node.attempt, detail: { waitingFor } });
      return;
    }
    const inputs = resolveInputs(this.run, node) ?? node.inputs ?? {};
    this.setStatus(node, 'waiting');
    this.dispatch(node, inputs);
  }

  // ---- events, resume, status ------------------------------------------

  private notifyEvent(name: string, payload: JsonObject): void {
    for (const node of this.run.nodes.values()) {
      if (node.def.kind !== 'event' || node.def.name !== name || node.status !== 'listening') continue;
      node.result = payload;
      node.emitted = (node.emitted ?? 0) + 1;
      this.touch(node);
      this.record({ type: 'event.notified', node: node.def.id, detail: { event: name } });
      this.notifyListeners(node);
    }
  }

  private resume(): void {
    this.record({ type: 'run.resumed' });
    for (const node of this.run.nodes.values()) {
      const ref = { node: node.def.id, attempt: node.attempt };
      if (node.status === 'running') this.out.commands.push(this.dispatchCommand(node, ref, node.inputs ?? {}));
      if (node.status === 'retrying') this.out.commands.push({ type: 'schedule', runId: this.run.id, dueAt: node.retryAt ?? this.now, node: ref.node, attempt: ref.attempt + 1 });
      if (node.status === 'waiting') this.tryStart(node);
    }
    for (const activation of this.run.activations.values()) {
      const node = this.run.nodes.get(activation.node);
      if (node === undefined) continue;
      const ref = { node: activation.node, attempt: activation.attempt, activation: activation.seq };
      if (activation.status === 'running') this.out.commands.push(this.dispatchCommand(node, ref, activation.inputs));
      if (activation.status === 'retrying') {
        this.out.commands.push({ type: 'schedule', runId: this.run.id, dueAt: activation.retryAt ?? this.now, ...ref, attempt: ref.attempt + 1 });
      }
    }
    resumeUndos(this);
  }

  /** Continues the saga if one is in progress, then re-derives the run status. */
  refresh(): void {
    if (this.run.saga && !this.run.cancelled) continueSaga(this);
    const status = deriveStatus(this.live);
    if (status === this.run.status) return;
    checkTransition(RUN_TRANSITIONS, `run "${this.run.id}"`, this.run.status, status);
    this.run.status = status;
    this.record({ type: 'run.status', status });
    if (SETTLED.has(status)) this.out.commands.push({ type: 'finished', runId: this.run.id, status });
  }
}
