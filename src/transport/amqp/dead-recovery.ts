/**
 * Recovery of dead letters that would leave a node `running` for ever, on
 * RabbitMQ. The dead-letter exchange copies every dead letter into
 * `<prefix>.dead.recovery`, which the active coordinator consumes beside the
 * signals; what each one stands for (a failed attempt with `TW_DELIVERY_LIMIT`
 * for a dispatch, the signal itself for a signal) is decided by the
 * transport-independent `../delivery-limit.ts`, from the queue and reason of
 * its first death (`x-first-death-*` headers).
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
import { recoveredSignal as recover, type DeadLetterOrigin, type RecoveredQueues } from '../delivery-limit.js';
import type { SignalMessage } from '../port.js';
import { rawBody } from './consume.js';
import { DispatchSchema, SignalSchema } from './messages.js';

/** The `worker` field of the signals made from dead letters. */
export const DEAD_LETTER_WORKER = 'rabbitmq/dead-letter';

/** Where a dead letter died and why, from its `x-first-death-*` headers. */
function firstDeath(message: AsyncMessage): DeadLetterOrigin {
  const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : undefined);
  const headers = message.headers ?? {};
  const queue = text(headers['x-first-death-queue']);
  const reason = text(headers['x-first-death-reason']);
  return { ...(queue === undefined ? {} : { queue }), ...(reason === undefined ? {} : { reason }) };
}

/**
 * The signal a dead letter stands for (see `../delivery-limit.ts`), or
 * `undefined` when it is not one to recover: not dead at a delivery limit,
 * from another queue, or a body that is not valid.
 */
export function recoveredSignal(message: AsyncMessage, queues: RecoveredQueues, maxBytes: number): SignalMessage | undefined {
  const parsed = (): unknown => parseJson(rawBody(message.body), { maxBytes });
  const body = { dispatch: () => check(DispatchSchema, parsed(), 'dispatch message'), signal: () => check(SignalSchema, parsed(), 'signal message') };
  return recover(firstDeath(message), body, queues, DEAD_LETTER_WORKER);
}
