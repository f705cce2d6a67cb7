/**
 * Reading the dead-letter queue and deleting a prefix's topology (tests and
 * diagnostics).
 *
 * @packageDocumentation
 */
import { Buffer } from 'node:buffer';
import type { Connection, SyncMessage } from 'rabbitmq-client';
import { stringifyParsed } from '../../codec/parse.js';

/** A message found in the dead-letter queue. */
export interface DeadLetter {
  /**
   * The body as text (UTF-8), exactly as published; a JSON body without content
   * encoding (which rabbitmq-client parses on receipt) is its JSON text again,
   * whatever its depth (whitespace may differ).
   */
  body: string;
  /** The publisher's message id, if any. */
  messageId?: string;
  /** The queue the message died in (`x-first-death-queue`). */
  queue?: string;
  /** Why it died (`x-first-death-reason`): `rejected` (malformed, or nacked without requeue), `delivery_limit`, ... */
  reason?: string;
  /** The routing key it was published with. */
  routingKey: string;
  /** All AMQP headers (`x-death`, `x-delivery-count`, `traceparent`, ...). */
  headers: Record<string, unknown>;
}

/** The body as text; a body the client parsed itself is serialised again, at any depth (never a RangeError). */
function text(body: unknown): string {
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  if (typeof body === 'string') return body;
  return body === undefined ? '' : stringifyParsed(body);
}

function header(headers: Record<string, unknown>, name: string): string | undefined {
  const value = headers[name];
  if (typeof value === 'string') return value;
  return Buffer.isBuffer(value) ? value.toString('utf8') : undefined;
}

function toDeadLetter(message: SyncMessage): DeadLetter {
  const headers: Record<string, unknown> = { ...message.headers };
  const letter: DeadLetter = { body: text(message.body), routingKey: message.routingKey, headers };
  if (message.messageId !== undefined) letter.messageId = message.messageId;
  const queue = header(headers, 'x-first-death-queue');
  if (queue !== undefined) letter.queue = queue;
  const reason = header(headers, 'x-first-death-reason');
  if (reason !== undefined) letter.reason = reason;
  return letter;
}

/**
 * Fetches up to `limit` messages of `queue` without acknowledging them, then
 * closes the channel, which gives them back to the queue.
 */
export async function peekQueue(connection: Connection, queue: string, limit: number): Promise<DeadLetter[]> {
  const channel = await connection.acquire();
  const letters: DeadLetter[] = [];
  try {
    while (letters.length < limit) {
      const message = await channel.basicGet({ queue, noAck: false });
      if (message === undefined) break;
      letters.push(toDeadLetter(message));
    }
  } finally {
    await channel.close();
  }
  return letters;
}

/** Deletes `queues` (with their messages) and `exchanges`; names that do not exist are skipped. */
export async function deleteTopology(connection: Connection, queues: string[], exchanges: string[]): Promise<void> {
  for (const queue of queues) await connection.queueDelete({ queue });
  for (const exchange of exchanges) await connection.exchangeDelete({ exchange });
}
