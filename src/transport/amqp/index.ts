/**
 * The AMQP (RabbitMQ) transport adapter: `import { connectAmqp } from 'taskwire/amqp'`.
 * See `docs/amqp.md` for the topology and its guarantees.
 *
 * @packageDocumentation
 */
export { AmqpTransport, connectAmqp, deleteAmqpPrefix } from './amqp-transport.js';
export type { AmqpOptions } from './options.js';
export { ANNOUNCE_ENV, type AnnounceMode } from './announce.js';
export { DEFAULT_DISPATCH_BATCH, DEFAULT_SIGNAL_BATCH, DEFAULT_SIGNAL_DELAY_MS, type BatchOptions } from './batch.js';
export type { DeadLetter } from './dead-letters.js';
export { AbortSchema, DispatchSchema, FailureSchema, HistoryEntrySchema, SignalSchema } from './messages.js';
export { AmqpTransportError } from './publish.js';
export { redactAmqpUrl } from './redact.js';
export {
  DEFAULT_SIGNATURE_MAX_AGE_MS,
  DEFAULT_SIGNATURE_MAX_SKEW_MS,
  MessageSigner,
  MIN_SIGNING_KEY_LENGTH,
  SIGNATURE_HEADER,
  signingFromEnv,
  TIMESTAMP_HEADER,
  type SignedParts,
  type SigningOptions,
} from './signing.js';
export {
  announcementRoutingKey,
  createTopology,
  DEFAULT_DELIVERY_LIMIT,
  DEFAULT_PREFIX,
  escapeSegment,
  runPattern,
  type Declarations,
  type ExchangeDeclaration,
  type QueueBinding,
  type QueueDeclaration,
  type Topology,
  type TopologyOptions,
} from './topology.js';
