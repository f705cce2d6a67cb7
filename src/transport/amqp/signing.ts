/**
 * Message signing: an HMAC-SHA256 over every message's body, its destination
 * and its signed headers, with a timestamp, so that a process that can publish
 * to the broker but does not hold the key cannot drive workers or coordinators
 * (as Celery's message signing). See docs/security.md.
 *
 * The signed text is the JSON array
 * `["taskwire-v1", timestamp, messageId, exchange, routingKey, traceparent]`,
 * a newline and the body bytes, so a signed message cannot be re-routed to another queue or exchange, its
 * body or trace header changed, or its timestamp moved.
 *
 * @packageDocumentation
 */
import { Buffer } from 'node:buffer';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../../errors.js';

/** The header holding the signature (`v1=<base64url HMAC-SHA256>`). */
export const SIGNATURE_HEADER = 'x-taskwire-signature';

/** The header holding the signing time (epoch milliseconds, decimal). */
export const TIMESTAMP_HEADER = 'x-taskwire-timestamp';

/** Default oldest accepted message: one day (a message may wait that long in a backlog). */
export const DEFAULT_SIGNATURE_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/** Default tolerated clock skew for timestamps in the future: five minutes. */
export const DEFAULT_SIGNATURE_MAX_SKEW_MS = 5 * 60 * 1000;

/** Shortest accepted key, in characters (e.g. `openssl rand -hex 32` gives 64). */
export const MIN_SIGNING_KEY_LENGTH = 32;

/** Options of message signing (`AmqpOptions.signing`). */
export interface SigningOptions {
  /**
   * Shared secrets. The first one signs; every one is accepted when verifying,
   * so two keys can be live during a rotation (see docs/security.md).
   */
  keys: readonly string[];
  /**
   * Oldest message accepted, in ms: older ones are refused as stale (bounds replay).
   * @default DEFAULT_SIGNATURE_MAX_AGE_MS
   */
  maxAgeMs?: number;
  /**
   * How far in the future a timestamp may be, in ms (clock skew between hosts).
   * @default DEFAULT_SIGNATURE_MAX_SKEW_MS
   */
  maxSkewMs?: number;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

/** What a message carries that the signature covers. */
export interface SignedParts {
  /** Exchange published to (`''`: the default exchange). */
  exchange?: string;
  /** Routing key published with. */
  routingKey?: string;
  /** The publisher's message id. */
  messageId?: string;
  /** AMQP headers; `traceparent` is covered, the signature and timestamp headers are read. */
  headers?: Record<string, unknown>;
}

/**
 * The signing options of the environment: `TASKWIRE_SIGNING_KEY` signs and is
 * accepted, `TASKWIRE_SIGNING_KEY_PREVIOUS` is only accepted (a rotation).
 * Undefined when `TASKWIRE_SIGNING_KEY` is unset or empty.
 */
export function signingFromEnv(env: NodeJS.ProcessEnv = process.env): SigningOptions | undefined {
  const key = env['TASKWIRE_SIGNING_KEY'];
  if (key === undefined || key === '') return undefined;
  const previous = env['TASKWIRE_SIGNING_KEY_PREVIOUS'];
  return { keys: previous === undefined || previous === '' ? [key] : [key, previous] };
}

function headerText(headers: Record<string, unknown> | undefined, name: string): string | undefined {
  const value = headers?.[name];
  if (typeof value === 'string') return value;
  return Buffer.isBuffer(value) ? value.toString('utf8') : undefined;
}

function checkDuration(value: number, what: string): number {
  if (!Number.isFinite(value) || value < 0) throw new ConfigError(`signing: ${what} expected a number of ms from 0 and up, got ${String(value)}`);
  return value;
}

/** Signs outgoing messages and verifies incoming ones with shared keys. */
export class MessageSigner {
  private readonly keys: Buffer[];
  private readonly maxAgeMs: number;
  private readonly maxSkewMs: number;
  private readonly now: () => number;

  /** @throws ConfigError when no key is given or a key is shorter than {@link MIN_SIGNING_KEY_LENGTH}. */
  constructor(options: SigningOptions) {
    if (options.keys.length === 0) throw new ConfigError('signing: expected at least one key');
    options.keys.forEach((key, i) => {
      if (typeof key !== 'string' || key.length < MIN_SIGNING_KEY_LENGTH) {
        throw new ConfigError(`signing: key ${i + 1} is shorter than ${MIN_SIGNING_KEY_LENGTH} characters (generate one with "openssl rand -hex 32")`);
      }
    });
    this.keys = options.keys.map((key) => Buffer.from(key, 'utf8'));
    this.maxAgeMs = checkDuration(options.maxAgeMs ?? DEFAULT_SIGNATURE_MAX_AGE_MS, 'maxAgeMs');
    this.maxSkewMs = checkDuration(options.maxSkewMs ?? DEFAULT_SIGNATURE_MAX_SKEW_MS, 'maxSkewMs');
    this.now = options.now ?? Date.now;
  }

  /** The headers to add to a message about to be published: signature and timestamp. */
  sign(parts: SignedParts, body: Uint8Array): Record<string, string> {
    const timestamp = String(this.now());
    return { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: `v1=${this.mac(this.keys[0] as Buffer, timestamp, parts, body).toString('base64url')}` };
  }

  /**
   * Checks a received message. Returns `undefined` when it is signed by an
   * accepted key within the time window, else why it is refused (unsigned,
   * stale, from the future, or a signature no key matches).
   */
  verify(parts: SignedParts, body: Uint8Array): string | undefined {
    const signature = headerText(parts.headers, SIGNATURE_HEADER);
    const timestamp = headerText(parts.headers, TIMESTAMP_HEADER);
    if (signature === undefined || timestamp === undefined) return `unsigned (no ${SIGNATURE_HEADER} and ${TIMESTAMP_HEADER} headers)`;
    const at = /^\d{1,15}$/.test(timestamp) ? Number(timestamp) : NaN;
    if (Number.isNaN(at)) return `malformed ${TIMESTAMP_HEADER} header`;
    const age = this.now() - at;
    if (age > this.maxAgeMs) return `stale: signed ${Math.round(age / 1000)} s ago, more than the ${Math.round(this.maxAgeMs / 1000)} s accepted`;
    if (-age > this.maxSkewMs) return `signed ${Math.round(-age / 1000)} s in the future, more than the ${Math.round(this.maxSkewMs / 1000)} s of clock skew accepted`;
    const given = signature.startsWith('v1=') ? Buffer.from(signature.slice(3), 'base64url') : Buffer.alloc(0);
    for (const key of this.keys) {
      const expected = this.mac(key, timestamp, parts, body);
      if (given.length === expected.length && timingSafeEqual(given, expected)) return undefined;
    }
    return 'bad signature: no accepted key matches (the message was changed, or signed with another key)';
  }

  private mac(key: Buffer, timestamp: string, parts: SignedParts, body: Uint8Array): Buffer {
    // A JSON array, so that no field can bleed into the next; the body follows after a newline.
    const head = JSON.stringify(['taskwire-v1', timestamp, parts.messageId ?? '', parts.exchange ?? '', parts.routingKey ?? '', headerText(parts.headers, 'traceparent') ?? '']);
    return createHmac('sha256', key).update(`${head}\n`, 'utf8').update(body).digest();
  }
}
