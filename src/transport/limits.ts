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

/**
 * Whether `message` surely encodes within `maxBytes`, found without encoding
 * it: an upper bound of its JSON size is summed over its plain objects, arrays
 * and scalars, and the walk stops as soon as the bound exceeds `maxBytes`.
 * False means "maybe not": measure it ({@link encodedBytes}). Producers check
 * every message they make, and the JSON string that measuring builds was a
 * measurable share of the embedded runtime's allocations.
 */
export function surelyFits(message: unknown, maxBytes: number): boolean {
  return boundLeft(message, maxBytes) >= 0;
}

/**
 * The most bytes of JSON one UTF-16 code unit of a string can take: 6 (a
 * control character escaped as \u00XX; any other unit takes at most 3 bytes
 * of UTF-8, a surrogate pair 4 for two units).
 */
const MAX_BYTES_PER_UNIT = 6;
/** The longest JSON number (`-1.7976931348623157e+308`). */
const MAX_NUMBER_BYTES = 24;

/** `budget` minus an upper bound of the JSON size of `value`; negative when it may not fit (or is not plain data). */
function boundLeft(value: unknown, budget: number): number {
  switch (typeof value) {
    case 'string':
      return budget - (value.length * MAX_BYTES_PER_UNIT + 2);
    case 'number':
      return budget - MAX_NUMBER_BYTES;
    case 'boolean':
    case 'undefined':
      return budget - 5;
    case 'object':
      break;
    default:
      return -1; // a function, symbol or bigint: let the exact measure say
  }
  if (value === null) return budget - 4;
  let left = budget - 2;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      left = boundLeft(value[i], left - 1);
      if (left < 0) return left;
    }
    return left;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return -1; // may have a toJSON
  for (const key in value) {
    left = boundLeft((value as Record<string, unknown>)[key], left - (key.length * MAX_BYTES_PER_UNIT + 4));
    if (left < 0) return left;
  }
  return left;
}
