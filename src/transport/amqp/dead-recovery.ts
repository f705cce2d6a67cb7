/**
 * Recovery of dead letters that would leave a node `running` for ever. The
 * dead-letter exchange copies every dead letter into `<prefix>.dead.recovery`,
 * which the active coordinator consumes beside the signals:
 *
 * - a dispatch that reached the delivery limit of its work (or quarantine)
 *   queue, because every worker that took it died or gave it back, becomes a
 *   `task.failed` (or `rollback.failed`) signal with code `TW_DELIVERY_LIMIT`,
 *   retryable, so the node's retry policy applies;
 * - a signal that reached the delivery limit of the signal queue (coordinators
 *   that died holding it, for instance beside a task that kills its process) is
 *   handed to the coordinator as it is: its outcome is not lost, and a
 *   duplicate is ignored by the engine as usual.
 *
 * Every other dead letter (malformed bodies) is only dropped from that copy:
 * `<prefix>.dead` keeps it for diagnostics.
 *
 * @packageDocumentation
 */
import { Buffer } from 'node:buffer';
import type { AsyncMessage } from 'rabbitmq-client';
import { parseJson } from '../../codec/parse.js';
import { check } from '../../codec/schema.js';
import { DeliveryLimitError } from '../../errors.js';
import { toFailure } from '../../model/failure.js';
import type { DispatchMessage, SignalMessage } from '../port.js';
import { rawBody } from './consume.js';
import { DispatchSchema, SignalSchema } from './messages.js';

/** The `worker` field of the signals made from dead letters. */
export const DEAD_LETTER_WORKER = 'rabbitmq/dead-letter';

/** Where a dead letter died and why, from its `x-first-death-*` headers. */
function firstDeath(message: AsyncMessage): { queue?: string; reason?: string } {
  const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : undefined);
  const headers = message.headers ?? {};
  const queue = text(headers['x-first-death-queue']);
  const reason = text(headers['x-first-death-reason']);
  return { ...(queue === undefined ? {} : { queue }), ...(reason === undefined ? {} : { reason }) };
}

/** Which queues a dead letter may come from to be recovered. */
export interface RecoveredQueues {
  /** Whether `queue` is a work or quarantine queue (its dead letters are dispatches). */
  dispatches(queue: string): boolean;
  /** The signal queue. */
  signals: string;
}

/**
 * The signal a dead letter stands for (see above), or `undefined` when it is
 * not one to recover: not dead at a delivery limit, from another queue, or a
 * body that is not valid (which cannot happen for messages we published).
 */
export function recoveredSignal(message: AsyncMessage, queues: RecoveredQueues, maxBytes: number): SignalMessage | undefined {
  const death = firstDeath(message);
  if (death.reason !== 'delivery_limit' || death.queue === undefined) return undefined;
  try {
    const body = parseJson(rawBody(message.body), { maxBytes });
    if (death.queue === queues.signals) return check(SignalSchema, body, 'signal message');
    if (!queues.dispatches(death.queue)) return undefined;
    return failedAttempt(check(DispatchSchema, body, 'dispatch message'), death.queue);
  } catch {
    return undefined;
  }
}

/** The failed signal of a dispatch that died at the delivery limit of `queue`. */
function failedAttempt(dispatch: DispatchMessage, queue: string): SignalMessage {
  const what = dispatch.kind === 'apply' ? `task "${dispatch.task}"` : `the rollback of task "${dispatch.task}"`;
  const error = toFailure(
    new DeliveryLimitError(
      `${what} (run "${dispatch.runId}", node "${dispatch.node}", attempt ${dispatch.attempt}) was dead-lettered from queue "${queue}" ` +
        'at its delivery limit: every worker that took it died or gave it back before it finished',
    ),
  );
  delete error.stack; // a stack of the coordinator's process says nothing about the task
  const ref = { runId: dispatch.runId, node: dispatch.node, attempt: dispatch.attempt, worker: DEAD_LETTER_WORKER, ...(dispatch.activation === undefined ? {} : { activation: dispatch.activation }) };
  return dispatch.kind === 'apply' ? { ...ref, type: 'task.failed', error } : { ...ref, type: 'rollback.failed', error };
}
