/**
 * Decoding of untrusted message bodies for the AMQP consumers: the signature
 * (with signing on), then the size and depth limits, then the schema; a body
 * may be a batch (see batch.ts) whose items are checked one by one.
 *
 * @packageDocumentation
 */
import { Buffer } from 'node:buffer';
import type { Json } from '../../codec/json.js';
import { parseJson, stringifyParsed } from '../../codec/parse.js';
import { check, type Schema } from '../../codec/schema.js';
import { DecodeError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { MessageSigner, SignedParts } from './signing.js';

/** What {@link decodeBody} needs to check a body and report a bad one. */
export interface DecodeContext<T> {
  /** The queue the message came from, for the log line. */
  queue: string;
  /** Names the message in errors, e.g. `dispatch message`. */
  what: string;
  /** The schema of the body. */
  schema: Schema<T>;
  /** Largest accepted body, in bytes. */
  maxBytes: number;
  /** Where the rejection is logged. */
  logger: Logger;
  /** What happens to a bad message, for the log line (`dead-lettered`, `dropped`). */
  fate: string;
  /** With signing on: checks the signature first (see signing.ts). */
  signer?: MessageSigner;
}

/** The raw bytes (or text) of a body as rabbitmq-client hands it over. */
export function rawBody(body: unknown): string | Uint8Array {
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return body;
  // rabbitmq-client JSON.parses `application/json` bodies that carry no content
  // encoding (ours carry `utf-8`): re-encode (at any depth) so that the limits still apply.
  return body === undefined ? '' : stringifyParsed(body);
}

/** The first bytes of a body, for a log line. */
export function preview(body: unknown, chars = 64): string {
  try {
    const raw = rawBody(body);
    const text = typeof raw === 'string' ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8');
    return text.length > chars ? `${text.slice(0, chars)}…` : text;
  } catch {
    return '<unprintable>';
  }
}

/**
 * Verifies the signature (with signing on), then parses (size and depth limits)
 * and checks a message body. Returns `undefined` after one `logger.error` line
 * naming the queue, the reason and the message id (or the first bytes) when the
 * signature is refused or the body is malformed.
 */
export function decodeBody<T>(message: SignedParts & { body: unknown }, context: DecodeContext<T>): T | undefined {
  try {
    return check(context.schema, parseBody(message, context), context.what);
  } catch (error) {
    logRefused(message, context, error);
    return undefined;
  }
}

/** One item of a message: its checked body, or (malformed) its parsed value and why it is refused. */
export type Item<T> = { body: T; bad?: undefined } | { bad: Json; reason: string };

/**
 * {@link decodeBody} for a message that may be a batch (a JSON array of items,
 * see batch.ts): its items, each checked alone. Signature, size and depth apply
 * to the whole message; a malformed item is logged (its position named, e.g.
 * `item 2 of 5`) and returned as such, the others are good. `undefined` (after
 * an error line) when the message as a whole is refused.
 */
export function decodeItems<T>(message: SignedParts & { body: unknown }, context: DecodeContext<T>): Item<T>[] | undefined {
  let parsed: Json;
  try {
    parsed = parseBody(message, context);
    if (!Array.isArray(parsed)) return [{ body: check(context.schema, parsed, context.what) }];
    if (parsed.length === 0) throw new DecodeError(`invalid ${context.what}: an empty batch`);
  } catch (error) {
    logRefused(message, context, error);
    return undefined;
  }
  const items = parsed;
  return items.map((item, i) => {
    const what = `${context.what} (item ${i + 1} of ${items.length} of a batch)`;
    try {
      return { body: check(context.schema, item, what) };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      context.logger.error({ queue: context.queue, reason, messageId: message.messageId, item: i + 1, items: items.length }, `AMQP: ${context.fate} item ${i + 1} of ${items.length} of a batch message from queue "${context.queue}" (message id ${message.messageId ?? '?'}): ${reason}`);
      return { bad: item, reason };
    }
  });
}

/** Verifies the signature (with signing on) and parses a body with the context's limits; throws DecodeError. */
function parseBody(message: SignedParts & { body: unknown }, context: DecodeContext<unknown>): Json {
  const raw = rawBody(message.body);
  if (context.signer !== undefined) verifySignature(message, raw, context.signer);
  return parseJson(raw, { maxBytes: context.maxBytes });
}

/** The error line of a message refused as a whole. */
function logRefused(message: SignedParts & { body: unknown }, context: DecodeContext<unknown>, error: unknown): void {
  const reason = error instanceof Error ? error.message : String(error);
  const head = preview(message.body);
  const id = message.messageId !== undefined ? `id ${message.messageId}` : `starting ${JSON.stringify(head)}`;
  context.logger.error(
    { queue: context.queue, reason, messageId: message.messageId, head },
    error instanceof SignatureRefused
      ? `AMQP: ${context.fate} ${/^[aeiou]/.test(context.what) ? 'an' : 'a'} ${context.what} with a refused signature from queue "${context.queue}" (message ${id}), never acted on: ${reason}`
      : `AMQP: ${context.fate} a malformed ${context.what} from queue "${context.queue}" (message ${id}): ${reason}`,
  );
}

/** Throws a DecodeError saying why a message's signature is refused, if it is. */
function verifySignature(message: SignedParts, raw: string | Uint8Array, signer: MessageSigner): void {
  const refused = signer.verify(message, typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw);
  if (refused !== undefined) throw new SignatureRefused(refused);
}

/** A message whose signature is refused (see signing.ts). */
class SignatureRefused extends DecodeError {}
