/**
 * The one maximum encoded size of a message: every transport is given it
 * (option `maxMessageBytes`, else the environment variable
 * `TASKWIRE_MAX_MESSAGE_BYTES`, else 1 MiB), consumers refuse larger bodies,
 * and producers check what they make against it, so that a value too large to
 * travel fails where it was made (`TW_TOO_LARGE`) instead of being refused by
 * the broker and tried again.
 *
 * @packageDocumentation
 */
import { Buffer } from 'node:buffer';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../codec/parse.js';
import { ConfigError } from '../errors.js';

/** Environment variable giving the maximum encoded message size in bytes. */
export const MAX_MESSAGE_BYTES_ENV = 'TASKWIRE_MAX_MESSAGE_BYTES';

/** The smallest maximum accepted: a signal's envelope must fit. */
const MIN_MAX_MESSAGE_BYTES = 1024;

/**
 * The maximum encoded message size: `option`, else `TASKWIRE_MAX_MESSAGE_BYTES`,
 * else {@link DEFAULT_MAX_MESSAGE_BYTES}. Throws ConfigError for a value that is
 * not an integer of at least 1024.
 */
export function resolveMaxMessageBytes(option?: number): number {
  const text = process.env[MAX_MESSAGE_BYTES_ENV];
  const value = option ?? (text === undefined || text === '' ? DEFAULT_MAX_MESSAGE_BYTES : Number(text));
  if (!Number.isInteger(value) || value < MIN_MAX_MESSAGE_BYTES) {
    const source = option === undefined ? `${MAX_MESSAGE_BYTES_ENV} "${text ?? ''}"` : `maxMessageBytes ${option}`;
    throw new ConfigError(`invalid ${source}: expected an integer number of bytes >= ${MIN_MAX_MESSAGE_BYTES}`);
  }
  return value;
}

/**
 * Room a producer leaves in a dispatch for what transports add to it on its
 * way: its send time (`"sentAt":` and 13 digits, stamped by the AMQP transport)
 * and a trace context (`"traceparent":` and 55 characters, with tracing on),
 * 95 bytes with their commas and quotes, rounded up. A dispatch that passes a
 * producer's check is never refused by the broker for its size.
 */
export const DISPATCH_ENVELOPE_BYTES = 128;

/** The size in bytes of `message` encoded as JSON (UTF-8), as a transport publishes it. */
export function encodedBytes(message: unknown): number {
  return Buffer.byteLength(JSON.stringify(message) ?? '', 'utf8');
}
