/**
 * Dead-lettered dispatches as failed attempts. A dispatch that reaches the
 * delivery limit of its work (or quarantine) queue, because every worker that
 * took it died or gave it back, is dead-lettered; the dead-letter exchange also
 * copies it into `<prefix>.dead.dispatches`, which the active coordinator
 * consumes beside the signals. Each such dispatch becomes a `task.failed` (or
 * `rollback.failed`) signal with code `TW_DELIVERY_LIMIT`, retryable, so the
 * node's retry policy applies and no node stays `running` with nothing
 * executing it. Every other dead letter (malformed bodies, dead signals) is
 * only dropped from that copy: `<prefix>.dead` keeps it for diagnostics.
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
import { DispatchSchema } from './messages.js';

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

/**
 * The failed signal a dead letter stands for, or `undefined` when it is not a
 * dispatch that died at the delivery limit of one of `dispatchQueues` (a
 * predicate on the queue name).
 */
export function deadDispatchSignal(message: AsyncMessage, dispatchQueues: (queue: string) => boolean, maxBytes: number): SignalMessage | undefined {
  const death = firstDeath(message);
  if (death.reason !== 'delivery_limit' || death.queue === undefined || !dispatchQueues(death.queue)) return undefined;
  let dispatch: DispatchMessage;
  try {
    dispatch = check(DispatchSchema, parseJson(rawBody(message.body), { maxBytes }), 'dispatch message');
  } catch {
    return undefined; // cannot happen for our own dispatches; nothing to fail without a valid one
  }
  const what = dispatch.kind === 'apply' ? `task "${dispatch.task}"` : `the rollback of task "${dispatch.task}"`;
  const error = toFailure(
    new DeliveryLimitError(
      `${what} (run "${dispatch.runId}", node "${dispatch.node}", attempt ${dispatch.attempt}) was dead-lettered from queue "${death.queue}" ` +
        'at its delivery limit: every worker that took it died or gave it back before it finished',
    ),
  );
  delete error.stack; // a stack of the coordinator's process says nothing about the task
  const ref = { runId: dispatch.runId, node: dispatch.node, attempt: dispatch.attempt, worker: DEAD_LETTER_WORKER, ...(dispatch.activation === undefined ? {} : { activation: dispatch.activation }) };
  return dispatch.kind === 'apply' ? { ...ref, type: 'task.failed', error } : { ...ref, type: 'rollback.failed', error };
}
