/**
 * The delivery limit, transport-independent. A durable broker counts the
 * deliveries of each message and dead-letters one that keeps coming back (every
 * consumer that took it died or gave it back); nothing would then execute a
 * dead dispatch again, and its node would stay `running` for ever. A
 * transport's dead-letter recovery hands the coordinators (the AMQP adapter:
 * on the signal queue of the run's shard):
 *
 * - for a dispatch dead at the delivery limit of a work (or quarantine) queue,
 *   a `task.failed` (or `rollback.failed`) signal with code `TW_DELIVERY_LIMIT`,
 *   retryable, so that the node's retry policy applies: a task that kills its
 *   worker process at every delivery ends `failed` after its retries;
 * - a signal dead at the delivery limit of a signal queue (coordinators that
 *   died holding it), as it is: its outcome is not lost, and a duplicate is
 *   ignored by the engine as usual.
 *
 * Used by the AMQP adapter (`amqp/dead-recovery.ts`) and the simulated bus.
 *
 * @packageDocumentation
 */
import { DeliveryLimitError } from '../errors.js';
import { toFailure } from '../model/failure.js';
import type { Logger } from '../observability/logger.js';
import type { DispatchMessage, SignalMessage } from './port.js';

/** Where a dead letter died and why (AMQP: its `x-first-death-queue` and `x-first-death-reason` headers). */
export interface DeadLetterOrigin {
  /** The queue it died in. */
  queue?: string;
  /** Why: `delivery_limit` (the only reason recovered), `rejected`, ... */
  reason?: string;
}

/** Which queues a dead letter may come from to be recovered. */
export interface RecoveredQueues {
  /** Whether `queue` is a work or quarantine queue (its dead letters are dispatches). */
  dispatches(queue: string): boolean;
  /** Whether `queue` is a signal queue (its dead letters are signals; one per shard). */
  signals(queue: string): boolean;
}

/** Decodes a dead letter's body as what its queue carried; throws on a body that is not one. */
export interface DeadLetterBody {
  /** The body as a dispatch. */
  dispatch(): DispatchMessage;
  /** The body as a signal. */
  signal(): SignalMessage;
}

/**
 * The signal a dead letter stands for (see above), or `undefined` when it is
 * not one to recover: not dead at a delivery limit, from another queue, or a
 * body that is not valid (which cannot happen for messages taskwire published).
 * `worker` is the signal's `worker` field for a dead dispatch (who failed it).
 */
export function recoveredSignal(origin: DeadLetterOrigin, body: DeadLetterBody, queues: RecoveredQueues, worker: string): SignalMessage | undefined {
  if (origin.reason !== 'delivery_limit' || origin.queue === undefined) return undefined;
  try {
    if (queues.signals(origin.queue)) return body.signal();
    if (!queues.dispatches(origin.queue)) return undefined;
    return deadDispatchSignal(body.dispatch(), origin.queue, worker);
  } catch {
    return undefined;
  }
}

/** The failed signal of a dispatch that died at the delivery limit of `queue`: a failed attempt, `TW_DELIVERY_LIMIT`, retryable. */
export function deadDispatchSignal(dispatch: DispatchMessage, queue: string, worker: string): SignalMessage {
  const what = dispatch.kind === 'apply' ? `task "${dispatch.task}"` : `the rollback of task "${dispatch.task}"`;
  const error = toFailure(
    new DeliveryLimitError(
      `${what} (run "${dispatch.runId}", node "${dispatch.node}", attempt ${dispatch.attempt}) was dead-lettered from queue "${queue}" ` +
        'at its delivery limit: every worker that took it died or gave it back before it finished',
    ),
  );
  delete error.stack; // a stack of the coordinator's process says nothing about the task
  const ref = { runId: dispatch.runId, node: dispatch.node, attempt: dispatch.attempt, worker, ...(dispatch.activation === undefined ? {} : { activation: dispatch.activation }) };
  return dispatch.kind === 'apply' ? { ...ref, type: 'task.failed', error } : { ...ref, type: 'rollback.failed', error };
}

/**
 * Logs a recovered signal once, as a warning (`prefix` names the transport, e.g.
 * `AMQP: `): a failed attempt made of a dead dispatch (its signal's `worker` is
 * `worker`), or a signal taken back from the dead letters.
 */
export function logRecovered(logger: Logger, signal: SignalMessage, worker: string, prefix: string): void {
  const fields = { runId: signal.runId, node: signal.node, attempt: signal.attempt };
  if (signal.worker === worker && 'error' in signal) {
    logger.warn({ ...fields, code: signal.error.code }, `${prefix}${signal.error.message}; recording a failed attempt`);
  } else {
    logger.warn({ ...fields, type: signal.type }, `${prefix}a ${signal.type} signal (run "${signal.runId}", node "${signal.node}") was dead-lettered at its delivery limit; taking it from the dead letters`);
  }
}
