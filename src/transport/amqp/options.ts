/**
 * The options of the AMQP transport, and the checks of those given through
 * the environment or at consume time.
 *
 * @packageDocumentation
 */
import type { Logger } from '../../observability/logger.js';
import { ConfigError } from '../../errors.js';
import type { AnnounceMode } from './announce.js';
import type { BatchOptions } from './batch.js';
import type { SigningOptions } from './signing.js';

/** Options of `connectAmqp`. */
export interface AmqpOptions {
  /** Broker URL, e.g. `amqp://user:password@host:5672/vhost`. Never logged with its password. */
  url: string;
  /** Prefix of every exchange and queue. @default 'taskwire' */
  prefix?: string;
  /**
   * `x-delivery-limit` of work, quarantine and signal queues. Every process sharing a prefix must use the same value.
   * @default the environment variable `TASKWIRE_AMQP_DELIVERY_LIMIT`, else 10
   */
  deliveryLimit?: number;
  /** Where connection problems and rejected messages are logged. @default silentLogger */
  logger?: Logger;
  /**
   * Largest message published or accepted, in bytes.
   * @default the environment variable `TASKWIRE_MAX_MESSAGE_BYTES`, else DEFAULT_MAX_MESSAGE_BYTES (1 MiB)
   */
  maxMessageBytes?: number;
  /** Connection name shown by `rabbitmqctl list_connections client_properties`. @default `taskwire <host>/<pid>` */
  connectionName?: string;
  /** How long `connectAmqp` waits for the first connection, in ms. @default 10000 */
  connectTimeoutMs?: number;
  /**
   * Message signing (HMAC, see docs/security.md): every message published is
   * signed, every message consumed must be signed by an accepted key, else it is
   * dead-lettered (dispatches, signals) or dropped (aborts, announcements) with
   * an error line. `false` turns it off.
   * @default signingFromEnv(): on when `TASKWIRE_SIGNING_KEY` is set
   */
  signing?: SigningOptions | false;
  /**
   * The number of shards of the store (see docs/distributed.md), hence of signal
   * queues: 1 keeps the one queue `<prefix>.signals`; S > 1 declares the quorum
   * queues `<prefix>.signals.0` to `<prefix>.signals.<S-1>`, `AmqpTransport.signal()`
   * sends each signal to the queue of its run's shard (`shardOf(runId, S)`), and
   * `consumeSignals({ shard })` takes one shard's. Every process sharing a prefix
   * must use the same value: `connect()` reads it from the store. An integer >= 1
   * (else ConfigError).
   * @default 1
   */
  shards?: number;
  /**
   * Batching of messages (docs/amqp.md "Batches"): a worker's signals gathered
   * for up to `signalDelayMs` into messages of up to `signals`, and the dispatches
   * of one `dispatch()` call for one work queue in messages of up to `dispatches`;
   * every message persistent and confirmed. 1 turns either off.
   * @default { signals: 64, signalDelayMs: 1, dispatches: 8 }
   */
  batch?: BatchOptions;
  /**
   * Which history entries `announce()` publishes on the topic exchange: `outcomes`
   * (node and rollback outcomes, retries, skips, cancels, run statuses, changes;
   * not `node.started`, `rollback.started` nor `event.notified`) or `all`. What
   * subscribers see depends on the announcing process (the coordinator's).
   * @default the environment variable `TASKWIRE_ANNOUNCE`, else `outcomes`
   */
  announce?: AnnounceMode;
}

/** The delivery limit set by `TASKWIRE_AMQP_DELIVERY_LIMIT`, if any (checked by `createTopology`). */
export function envDeliveryLimit(): number | undefined {
  const text = process.env['TASKWIRE_AMQP_DELIVERY_LIMIT'];
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!Number.isInteger(value)) throw new ConfigError(`invalid TASKWIRE_AMQP_DELIVERY_LIMIT "${text}": expected an integer >= 1`);
  return value;
}

/** `prefetch` if it is an integer from 1 to 65535 (AMQP's `basic.qos`); else throws ConfigError. */
export function checkPrefetch(prefetch: number): number {
  if (!Number.isInteger(prefetch) || prefetch < 1 || prefetch > 65_535) throw new ConfigError(`invalid prefetch ${prefetch}: expected an integer from 1 to 65535`);
  return prefetch;
}
