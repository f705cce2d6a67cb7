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
import { activate, dropNotification } from './activations.js';
import { applyChanges } from './changes.js';
import { heartbeat, leaseDue } from './leases.js';
import { admitted, holdAtGate, leaveGate } from './gates.js';
import { priorityRank } from '../model/flow-control.js';
import { failed, retryDue, succeeded } from './outcomes.js';
import { started } from './starts.js';
import { continueSaga, resumeUndos, undone } from './saga.js';
import { continueScopes, inCompensatingScope } from './scopes.js';
import { decide, hasConditions, skipUnfed } from './conditions.js';
import { NO_CONDITIONS, type ConditionLookup } from '../model/condition.js';
import { changesOf, executionRef, type Command, type EngineEvent, type ExecutionRef, type HistoryEntry } from './events.js';
import { resolveInputs, sourcesNotified } from './inputs.js';
import { countUndo, type LiveRun } from './live.js';
import { countMapChild, startMap } from './map.js';
import { deriveStatus } from './status.js';
import {
  activationKey,
  SETTLED,
  type ActivationState,
  type ActivationStatus,
  type NodeState,
  type NodeStatus,
  type RunState,
  type UndoStatus,
} from './state.js';
import { ACTIVATION_TRANSITIONS, checkTransition, NODE_TRANSITIONS, RUN_TRANSITIONS, UNDO_TRANSITIONS } from './transitions.js';
import { emptyOutput, written, type StepContext, type StepOutput } from './step-context.js';

/**
 * Applies one event to a run, in place, appending what it produced to `out`.
 * Signals that do not match the node's current attempt (duplicates, late
 * signals after a cancel) change nothing. Invalid changes throw before
 * changing anything. `conditions` are the predicates that conditional links
 * name (the coordinator's registry).
 */
export function step(live: LiveRun, event: EngineEvent, now: number, out: StepOutput = emptyOutput(), conditions: ConditionLookup = NO_CONDITIONS): StepOutput {
  new Stepper(live, now, out, conditions).apply(event);
  return out;
}

/** The fields {@link Stepper.record} copies: a compile error when {@link HistoryEntry} has another. */
const _ENTRY_FIELDS = {
  type: true,
  node: true,
  attempt: true,
  activation: true,
  actor: true,
  status: true,
  detail: true,
} as const satisfies Record<keyof Omit<HistoryEntry, 'runId' | 'seq' | 'at' | 'graphVersion'>, true>;

/** One step's working context: applies one event (the engine's parts get it as a {@link StepContext}). */
class Stepper implements StepContext {
  /** The run being stepped. */
  readonly run: RunState;
  /** Nodes skipped by conditions whose listeners are still to decide. */
  skipped: NodeState[] | undefined;

  constructor(
    /** The run with its indexes. */
    readonly live: LiveRun,
    /** The step's time (epoch ms). */
    readonly now: number,
    /** Where results accumulate. */
    readonly out: StepOutput,
    /** The registered conditions. */
    readonly conditions: ConditionLookup,
  ) {
    this.run = live.state;
  }

  /** Applies an event, then re-derives the run's status. */
  apply(event: EngineEvent): void {
    const before = this.out.history.length;
    switch (event.type) {
      case 'start':
        if (this.run.startAt !== undefined && this.run.startAt > this.now) {
          this.record({ type: 'run.scheduled', detail: { startAt: this.run.startAt } });
          this.startTimer();
        } else this.start();
        break;
      case 'start.due':
        if (this.run.startAt === undefined || this.run.cancelled) break;
        if (this.run.startAt <= this.now) this.start();
        else {
          // Early (a timer on a clock ahead of this one): scheduled again for its time.
          this.record({ type: 'run.scheduled', detail: { startAt: this.run.startAt, early: true } });
          this.startTimer();
        }
        break;
      case 'resume':
        this.resume();
        break;
      case 'task.started':
        started(this, event, event.startedAt);
        break;
      case 'task.succeeded':
        succeeded(this, event, event.result, event.startedAt);
        break;
      case 'task.failed':
        failed(this, event, event.error, event.startedAt);
        break;
      case 'retry.due':
        retryDue(this, event);
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
      case 'gate.admitted':
        admitted(this, event);
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
  setStatus(node: NodeState, to: NodeStatus, table = NODE_TRANSITIONS): void {
    checkTransition(table, `node "${node.def.id}"`, node.status, to);
    if (node.gate !== undefined || node.throttled !== undefined) leaveGate(this, node, node.status, to);
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
    else written(this.out, 'activations').set(activationKey(holder.node, holder.seq), holder);
  }

  /** Moves an activation to a new status, checking the transition table. */
  setActivation(activation: ActivationState, to: ActivationStatus): void {
    checkTransition(ACTIVATION_TRANSITIONS, `activation ${activation.seq} of node "${activation.node}"`, activation.status, to);
    const wasLive = activation.status === 'running' || activation.status === 'retrying';
    const isLive = to === 'running' || to === 'retrying';
    this.live.index.liveActivations += Number(isLive) - Number(wasLive);
    if (this.live.index.maps !== undefined) countMapChild(this, activation, wasLive, isLive);
    activation.status = to;
    const key = activationKey(activation.node, activation.seq);
    // Finished activations leave the live state (the store keeps them); failed
    // ones stay so that they can be retried, succeeded ones the saga owes a
    // compensation so that it can run.
    if ((to === 'succeeded' && activation.compensate !== true) || to === 'cancelled') this.run.activations.delete(key);
    else this.run.activations.set(key, activation);
    written(this.out, 'activations').set(key, activation);
  }

  /**
   * Appends a history entry. Built field by field: a literal with a spread
   * after its own fields takes V8's slow path (~160 ns against ~65 ns an
   * entry, node 20 micro-benchmark), and every step records some.
   */
  record(entry: Omit<HistoryEntry, 'runId' | 'seq' | 'at' | 'graphVersion'>): void {
    const full: HistoryEntry = { runId: this.run.id, seq: ++this.run.seq, at: this.now, graphVersion: this.run.graphVersion, type: entry.type };
    if (entry.node !== undefined) full.node = entry.node;
    if (entry.attempt !== undefined) full.attempt = entry.attempt;
    if (entry.activation !== undefined) full.activation = entry.activation;
    if (entry.actor !== undefined) full.actor = entry.actor;
    if (entry.status !== undefined) full.status = entry.status;
    if (entry.detail !== undefined) full.detail = entry.detail;
    this.out.history.push(full);
  }

  // ---- starting work ----------------------------------------------------

  /** Whether new work may start: started, not cancelled and no saga in progress. */
  get accepting(): boolean {
    return !this.run.cancelled && !this.run.saga && this.run.startAt === undefined;
  }

  /** Starts the run: every waiting node that can start is dispatched. */
  private start(): void {
    delete this.run.startAt;
    this.record({ type: 'run.started' });
    for (const node of this.run.nodes.values()) if (node.status === 'waiting') this.tryStart(node);
  }

  /** A timer for a delayed start at `startAt` (set at the `start` event, and again at every resume until it is due). */
  private startTimer(): void {
    this.out.commands.push({ type: 'schedule', runId: this.run.id, dueAt: this.run.startAt as number, node: '', attempt: 0, start: true });
  }

  /** Dispatches a waiting node if all its sources have notified and its inputs resolve. */
  tryStart(node: NodeState): void {
    if (!this.accepting || node.status !== 'waiting' || !sourcesNotified(this.run, node, this.live.index.notifiedSources)) return;
    if (this.run.scopes !== undefined && inCompensatingScope(this, node)) return;
    const conditions = hasConditions(this);
    if (conditions && !decide(this, node)) return;
    const inputs = resolveInputs(this.run, node);
    if (inputs !== undefined) this.dispatch(node, inputs);
    else if (conditions) skipUnfed(this, node);
  }

  /** Starts a new attempt of a waiting node with `inputs`. */
  dispatch(node: NodeState, inputs: JsonObject): void {
    // A task with a limit or a rate waits at its gate until admitted (a map's children are not gated).
    if (node.def.each === undefined && (node.def.limit !== undefined || node.def.rate !== undefined) && holdAtGate(this, node, inputs)) return;
    // A new attempt (a retry or replace by hand) has not been rolled back yet.
    if (node.undo !== undefined) this.setUndo(node, 'none');
    this.setStatus(node, 'running');
    node.attempt++;
    node.inputs = inputs;
    delete node.error;
    delete node.retryAt;
    if (node.def.each !== undefined) return startMap(this, node);
    this.enqueue(node, node, { node: node.def.id, attempt: node.attempt }, inputs);
  }

  enqueue(node: NodeState, holder: NodeState | ActivationState, ref: ExecutionRef, inputs: JsonObject, detail?: JsonObject): void {
    holder.queuedAt = this.now;
    delete holder.startedAt;
    this.out.commands.push(this.dispatchCommand(node, ref, inputs));
    const entry: Omit<HistoryEntry, 'runId' | 'seq' | 'at' | 'graphVersion'> = { type: 'node.queued', node: ref.node, attempt: ref.attempt };
    if (ref.activation !== undefined) entry.activation = ref.activation;
    if (detail !== undefined) entry.detail = detail;
    this.record(entry);
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
    if (def.priority !== undefined && def.priority !== 'normal') command.priority = priorityRank(def.priority);
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
    // Not a copy: only changes edit the outgoing index, and none runs from here.
    for (const link of links) {
      const target = this.run.nodes.get(link.to);
      if (target === undefined) continue;
      if (!target.def.persistent) this.tryStart(target);
      else if (target.status === 'succeeded') dropNotification(this, target, source, value ?? source.result, 'stopped');
      else activate(this, target, source.def.id, value);
    }
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
    if (this.run.startAt !== undefined) {
      if (this.run.cancelled) return;
      if (this.run.startAt > this.now) return this.startTimer();
      return this.start();
    }
    for (const node of this.run.nodes.values()) {
      const ref = { node: node.def.id, attempt: node.attempt };
      // A running map node is its children (activations, below).
      if (node.status === 'running' && node.def.each === undefined) this.out.commands.push(this.dispatchCommand(node, ref, node.inputs ?? {}));
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
    if (this.run.scopes !== undefined) continueScopes(this);
    if (this.run.saga && !this.run.cancelled) continueSaga(this);
    const status = deriveStatus(this.live);
    if (status === this.run.status) return;
    checkTransition(RUN_TRANSITIONS, `run "${this.run.id}"`, this.run.status, status);
    this.run.status = status;
    this.record({ type: 'run.status', status });
    if (SETTLED.has(status)) this.out.commands.push({ type: 'finished', runId: this.run.id, status });
  }
}
