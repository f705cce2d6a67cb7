/**
 * The engine's last resort: an event that makes the step throw (a bug, an
 * illegal transition) even on a fresh load of the run. The coordinator records
 * it with {@link recordInternalError} instead of dropping it, so that no node
 * stays `running` with nothing executing it and nothing that will: what the
 * event names fails with code `TW_INTERNAL` (not retryable), the error goes into
 * the history, and the run's status is derived as usual (`wait()` returns).
 *
 * Unlike a step, this writes states directly, without the transition tables: it
 * must not throw on the very tables that may be what failed.
 *
 * @packageDocumentation
 */
import type { JsonObject } from '../codec/json.js';
import type { Failure } from '../model/failure.js';
import type { EngineEvent, ExecutionRef } from './events.js';
import type { LiveRun } from './live.js';
import { releasePermit } from './gates.js';
import { activationKey, SETTLED, type ActivationState, type NodeState } from './state.js';
import { deriveStatus } from './status.js';
import { written, type StepOutput } from './step-context.js';

/** The failure recorded for an event the engine could not step. */
export function internalFailure(event: EngineEvent, error: unknown): Failure {
  const cause = error instanceof Error ? error : new Error(String(error));
  const failure: Failure = {
    name: 'InternalError',
    message: `taskwire could not step the event ${event.type} (an engine error, recorded instead): ${cause.name}: ${cause.message}`,
    code: 'TW_INTERNAL',
    retryable: false,
  };
  if (cause.stack !== undefined) failure.stack = cause.stack;
  return failure;
}

/**
 * Fails, in place, the executions `event` names (a signal's node attempt or
 * activation, a rollback, every live execution for `resume`), records them in
 * the history, derives the run's status and appends what that implies to
 * `out` (aborts for the failed executions, `finished` for a settled run).
 * Client events (start, notify, change) name no execution: their callers get
 * the error instead. Returns whether anything was failed.
 */
export function recordInternalError(live: LiveRun, event: EngineEvent, error: unknown, now: number, out: StepOutput): boolean {
  const failure = internalFailure(event, error);
  const recorder = new Recorder(live, now, out, failure);
  switch (event.type) {
    case 'task.started':
    case 'task.succeeded':
    case 'task.failed':
    case 'task.heartbeat':
    case 'lease.due':
      recorder.failExecution(event, event.attempt);
      break;
    case 'retry.due':
      // The attempt it would start: the node still holds the one before.
      recorder.failExecution(event, event.attempt - 1);
      break;
    case 'rollback.succeeded':
    case 'rollback.failed':
      recorder.failUndo(live.state.nodes.get(event.node));
      break;
    case 'resume':
      recorder.failEverythingLive();
      break;
    case 'start':
    case 'start.due':
    case 'gate.admitted':
    case 'notify':
    case 'change':
      break;
  }
  if (!recorder.changed) return false;
  recorder.deriveStatus();
  return true;
}

/** Writes the failures of one {@link recordInternalError}. */
class Recorder {
  changed = false;

  constructor(
    private readonly live: LiveRun,
    private readonly now: number,
    private readonly out: StepOutput,
    private readonly failure: Failure,
  ) {}

  /** Fails the execution `ref` names when it is live at `attempt`. */
  failExecution(ref: ExecutionRef, attempt: number): void {
    const run = this.live.state;
    if (ref.activation !== undefined) {
      const activation = run.activations.get(activationKey(ref.node, ref.activation));
      if (activation !== undefined && activation.attempt === attempt) this.failActivation(activation);
      return;
    }
    const node = run.nodes.get(ref.node);
    if (node !== undefined && node.attempt === attempt) this.failNode(node);
  }

  /** `resume` itself failed: nothing would drive the run's live executions, so they all fail. */
  failEverythingLive(): void {
    const run = this.live.state;
    for (const node of run.nodes.values()) {
      this.failNode(node);
      this.failUndo(node);
    }
    for (const activation of [...run.activations.values()]) this.failActivation(activation);
  }

  /** Fails a node that is running or waiting for a retry. */
  private failNode(node: NodeState): void {
    if (node.status !== 'running' && node.status !== 'retrying') return;
    const counts = this.live.index.counts;
    counts[node.status]--;
    counts.failed++;
    node.status = 'failed';
    node.error = this.failure;
    node.finishedAt = this.now;
    delete node.retryAt;
    delete node.leaseUntil;
    const release = releasePermit(this.live.state.id, node); // a running node admitted at a limit gives its permit back
    if (release !== undefined) this.out.commands.push(release);
    this.out.nodes.add(node.def.id);
    this.abort({ node: node.def.id, attempt: node.attempt });
    this.record('node.failed', { node: node.def.id, attempt: node.attempt });
  }

  /** Fails an activation that is running or waiting for a retry. */
  private failActivation(activation: ActivationState): void {
    if (activation.status !== 'running' && activation.status !== 'retrying') return;
    this.live.index.liveActivations--;
    activation.status = 'failed';
    activation.error = this.failure;
    activation.finishedAt = this.now;
    delete activation.retryAt;
    delete activation.leaseUntil;
    const key = activationKey(activation.node, activation.seq);
    this.live.state.activations.set(key, activation); // failed activations stay, to be retried
    written(this.out, 'activations').set(key, activation);
    this.abort({ node: activation.node, attempt: activation.attempt, activation: activation.seq });
    this.record('node.failed', { node: activation.node, attempt: activation.attempt, activation: activation.seq });
  }

  /** Fails a node's running rollback. */
  failUndo(node: NodeState | undefined): void {
    if (node?.undo !== 'running') return;
    this.live.index.undoing--;
    node.undo = 'failed';
    node.undoError = this.failure;
    this.out.nodes.add(node.def.id);
    this.record('rollback.failed', { node: node.def.id });
  }

  /** Derives the run's status as a step does, without checking the transition. */
  deriveStatus(): void {
    const run = this.live.state;
    run.updatedAt = this.now;
    const status = deriveStatus(this.live);
    if (status === run.status) return;
    run.status = status;
    this.out.history.push({ runId: run.id, seq: ++run.seq, at: this.now, type: 'run.status', graphVersion: run.graphVersion, status });
    if (SETTLED.has(status)) this.out.commands.push({ type: 'finished', runId: run.id, status });
  }

  /** Tells workers to stop an execution that may still run (a heartbeat or a lease that failed). */
  private abort(ref: ExecutionRef): void {
    this.out.commands.push({ type: 'abort', runId: this.live.state.id, ...ref });
  }

  private record(type: 'node.failed' | 'rollback.failed', ref: { node: string; attempt?: number; activation?: number }): void {
    this.changed = true;
    const run = this.live.state;
    const detail: JsonObject = { name: this.failure.name, message: this.failure.message, code: 'TW_INTERNAL' };
    this.out.history.push({ runId: run.id, seq: ++run.seq, at: this.now, type, graphVersion: run.graphVersion, ...ref, detail });
  }
}
