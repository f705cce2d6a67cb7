/**
 * Every exchange, queue and binding of the AMQP transport, declared as data in
 * one place. The transport hands these declarations to rabbitmq-client, which
 * re-declares them on every reconnect. See `docs/amqp.md` for the reasons
 * behind each argument.
 *
 * @packageDocumentation
 */
import { Buffer } from 'node:buffer';
import type { Cmd, MethodParams } from 'rabbitmq-client';
import type { HistoryEntry } from '../../engine/events.js';
import { ConfigError } from '../../errors.js';
import { announcementKey } from '../port.js';
import { checkShard } from '../shards.js';

/** Parameters of an AMQP `exchange.declare`. */
export type ExchangeDeclaration = MethodParams[Cmd.ExchangeDeclare];
/** Parameters of an AMQP `queue.declare`, with the queue named. */
export type QueueDeclaration = MethodParams[Cmd.QueueDeclare] & { queue: string };
/** Parameters of an AMQP `queue.bind`. */
export type QueueBinding = MethodParams[Cmd.QueueBind];

/** Default name prefix of every exchange and queue. */
export const DEFAULT_PREFIX = 'taskwire';

/** Default number of deliveries after which a work or signal message is dead-lettered. */
export const DEFAULT_DELIVERY_LIMIT = 10;

/** Options of {@link createTopology}. */
export interface TopologyOptions {
  /**
   * Prefix of every name (letters, digits, `-`, `_`, `.`, `:`); tests use a random one to isolate themselves.
   * @default DEFAULT_PREFIX
   */
  prefix?: string;
  /**
   * `x-delivery-limit` of work and signal queues. Every process sharing a prefix must use the same value
   * (RabbitMQ refuses to re-declare a queue with different arguments).
   * @default DEFAULT_DELIVERY_LIMIT
   */
  deliveryLimit?: number;
  /**
   * Number of signal queues, one per shard of the store (see docs/distributed.md): 1 keeps the one
   * queue `<prefix>.signals`; S > 1 declares `<prefix>.signals.0` to `<prefix>.signals.<S-1>`.
   * Every process sharing a prefix must use the same value (the store's).
   * @default 1
   */
  shards?: number;
}

/** Declarations of a set of queues, exchanges and bindings. */
export interface Declarations {
  /** Exchanges to declare first. */
  exchanges: ExchangeDeclaration[];
  /** Queues to declare next. */
  queues: QueueDeclaration[];
  /** Bindings to declare last. */
  queueBindings: QueueBinding[];
}

/** The names and declarations of one prefix's topology. */
export interface Topology {
  /** The name prefix. */
  readonly prefix: string;
  /** The delivery limit of work and signal queues. */
  readonly deliveryLimit: number;
  /** The number of shards, hence of signal queues (see {@link TopologyOptions.shards}). */
  readonly shards: number;
  /** Exchange names. */
  readonly exchanges: {
    /** Direct exchange routing dispatches by work queue name (`<prefix>.work`). */
    readonly work: string;
    /** Fanout exchange broadcasting aborts to every worker (`<prefix>.abort`). */
    readonly abort: string;
    /** Topic exchange of announcements (`<prefix>.events`). */
    readonly events: string;
    /** Fanout dead-letter exchange (`<prefix>.dlx`). */
    readonly deadLetter: string;
  };
  /** Queue names of the fixed queues (the signal queues: {@link Topology.signalQueueName}). */
  readonly queues: {
    /** Quorum queue holding dead letters (`<prefix>.dead`). */
    readonly dead: string;
    /**
     * Quorum queue with a copy of every dead letter, consumed by the coordinator
     * processes: a dispatch dead-lettered at the delivery limit becomes a failed
     * attempt, a signal dead-lettered at the delivery limit is taken back, each
     * published to its run's signal queue (`<prefix>.dead.recovery`).
     */
    readonly recovery: string;
  };
  /** The fixed part: the four exchanges, the signal and dead-letter queues, their bindings to the dead-letter exchange. */
  readonly base: Declarations;
  /** Declarations of the signal queues, the one of shard s at index s (part of {@link Topology.base}). */
  readonly signalQueues: readonly QueueDeclaration[];
  /**
   * Declarations of the request queues, the one of shard s at index s (part of {@link Topology.base}):
   * `<prefix>.requests` with one shard, else `<prefix>.requests.<s>`; durable classic queues without a
   * dead-letter exchange (a request expires when its client stops waiting: nobody would read its answer).
   */
  readonly requestQueues: readonly QueueDeclaration[];
  /**
   * Name of the quorum queue of shard `shard`'s signals, consumed by that shard's coordinator:
   * `<prefix>.signals` with one shard, else `<prefix>.signals.<shard>`. Throws ConfigError for a
   * shard that is not an integer from 0 to `shards - 1`.
   */
  signalQueueName(shard: number): string;
  /**
   * Whether `name` is a signal queue of the prefix: `<prefix>.signals` or `<prefix>.signals.<digits>`,
   * whatever the number of shards (a dead letter may come from a queue of another shard count).
   */
  isSignalQueue(name: string): boolean;
  /** Name of the quorum queue of work queue `name`: `<prefix>.work.<name>`. */
  workQueueName(name: string): string;
  /** Declaration of work queue `name` and its binding to the work exchange (routing key `name`). */
  workQueue(name: string): { queue: QueueDeclaration; binding: QueueBinding };
  /**
   * Declaration of the quarantine queue of work queue `name`: `<prefix>.quarantine.<name>`, the
   * arguments of a work queue, no binding (dispatches are moved there through the default exchange).
   */
  quarantineQueue(name: string): QueueDeclaration;
  /** An exclusive, auto-delete queue `<prefix>.<kind>.<id>` for one consumer (aborts, subscriptions, a client's replies). */
  privateQueue(kind: 'abort' | 'events' | 'replies', id: string): QueueDeclaration;
}

const NAME = /^[A-Za-z0-9_.:-]+$/;
/** AMQP short strings (names, routing keys) hold at most 255 bytes. */
const MAX_NAME_BYTES = 255;

function checkName(name: string, what: string): void {
  if (name.length === 0 || Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) {
    throw new ConfigError(`${what} "${name.slice(0, 40)}" must be 1 to ${MAX_NAME_BYTES} bytes long`);
  }
}

/** `shards` if it is an integer >= 1; else throws a ConfigError naming the option. */
function checkShards(shards: number): number {
  if (!Number.isInteger(shards) || shards < 1) throw new ConfigError(`invalid AMQP option shards ${String(shards)}: expected an integer >= 1 (the number of shards of the store)`);
  return shards;
}

/** Builds the topology of `options.prefix`. Throws ConfigError for a bad prefix, delivery limit or number of shards. */
export function createTopology(options: TopologyOptions = {}): Topology {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const deliveryLimit = options.deliveryLimit ?? DEFAULT_DELIVERY_LIMIT;
  if (!NAME.test(prefix) || prefix.length > 100 || prefix.startsWith('amq.')) {
    throw new ConfigError(`invalid AMQP prefix "${prefix}": use 1 to 100 letters, digits, "-", "_", "." or ":" (not starting with "amq.")`);
  }
  if (!Number.isInteger(deliveryLimit) || deliveryLimit < 1) {
    throw new ConfigError(`invalid AMQP delivery limit ${deliveryLimit}: expected an integer >= 1`);
  }
  const shards = checkShards(options.shards ?? 1);
  const exchanges = {
    work: `${prefix}.work`,
    abort: `${prefix}.abort`,
    events: `${prefix}.events`,
    deadLetter: `${prefix}.dlx`,
  };
  const queues = { dead: `${prefix}.dead`, recovery: `${prefix}.dead.recovery` };
  /** Arguments shared by work and signal queues; must never change for an existing prefix. */
  const quorumArguments = {
    'x-queue-type': 'quorum',
    'x-delivery-limit': deliveryLimit,
    'x-dead-letter-exchange': exchanges.deadLetter,
    'x-dead-letter-strategy': 'at-least-once',
    'x-overflow': 'reject-publish',
  } as const;
  const durable = (exchange: string, type: 'direct' | 'fanout' | 'topic'): ExchangeDeclaration => ({ exchange, type, durable: true });
  const signalStem = `${prefix}.signals`;
  const signalQueues: QueueDeclaration[] = Array.from({ length: shards }, (_, shard) => {
    const queue = shards === 1 ? signalStem : `${signalStem}.${shard}`;
    checkName(queue, 'signal queue');
    return { queue, durable: true, arguments: { ...quorumArguments } };
  });
  const requestStem = `${prefix}.requests`;
  const requestQueues: QueueDeclaration[] = Array.from({ length: shards }, (_, shard) => {
    const queue = shards === 1 ? requestStem : `${requestStem}.${shard}`;
    checkName(queue, 'request queue');
    return { queue, durable: true, arguments: { 'x-queue-type': 'classic' } };
  });
  const base: Declarations = {
    exchanges: [
      durable(exchanges.work, 'direct'),
      durable(exchanges.abort, 'fanout'),
      durable(exchanges.events, 'topic'),
      durable(exchanges.deadLetter, 'fanout'),
    ],
    queues: [
      ...signalQueues,
      ...requestQueues,
      // No delivery limit and no dead-letter exchange: dead letters stop here.
      { queue: queues.dead, durable: true, arguments: { 'x-queue-type': 'quorum' } },
      { queue: queues.recovery, durable: true, arguments: { 'x-queue-type': 'quorum' } },
    ],
    queueBindings: [
      { exchange: exchanges.deadLetter, queue: queues.dead, routingKey: '' },
      { exchange: exchanges.deadLetter, queue: queues.recovery, routingKey: '' },
    ],
  };
  const workQueueName = (name: string): string => {
    checkName(name, 'work queue name');
    const queue = `${prefix}.work.${name}`;
    checkName(queue, 'work queue');
    return queue;
  };
  return {
    prefix,
    deliveryLimit,
    shards,
    exchanges,
    queues,
    base,
    signalQueues,
    requestQueues,
    signalQueueName: (shard) => (signalQueues[checkShard(shard, shards)] as QueueDeclaration).queue,
    isSignalQueue: (name) => name === signalStem || (name.startsWith(`${signalStem}.`) && /^\d+$/.test(name.slice(signalStem.length + 1))),
    workQueueName,
    workQueue(name) {
      const queue = workQueueName(name);
      return {
        queue: { queue, durable: true, arguments: { ...quorumArguments } },
        binding: { exchange: exchanges.work, queue, routingKey: name },
      };
    },
    quarantineQueue(name) {
      const queue = `${prefix}.quarantine.${name}`;
      checkName(queue, 'quarantine queue');
      return { queue, durable: true, arguments: { ...quorumArguments } };
    },
    privateQueue(kind, id) {
      return { queue: `${prefix}.${kind}.${id}`, exclusive: true, autoDelete: true, durable: false, arguments: { 'x-queue-type': 'classic' } };
    },
  };
}

/**
 * Escapes an id for use as one segment of a topic routing key: `.` (the segment
 * separator) becomes `~`. Ids containing `~` thus share keys with ids containing
 * `.` in the same places; subscribers check the decoded entry when that matters.
 */
export function escapeSegment(id: string): string {
  return id.replaceAll('.', '~');
}

/**
 * The routing key of an announcement: {@link announcementKey} with the run and
 * node ids escaped by {@link escapeSegment}, so that the key is always
 * `run.<runId>.<nodeId or $run>.<type>` segment for segment.
 */
export function announcementRoutingKey(entry: HistoryEntry): string {
  const escaped: HistoryEntry = { ...entry, runId: escapeSegment(entry.runId) };
  if (entry.node !== undefined) escaped.node = escapeSegment(entry.node);
  return announcementKey(escaped);
}

/**
 * A subscription pattern for the announcements of one run (or of one node of
 * it), with the ids escaped: `run.<runId>.#` or `run.<runId>.<nodeId>.#`.
 */
export function runPattern(runId: string, node?: string): string {
  return node === undefined ? `run.${escapeSegment(runId)}.#` : `run.${escapeSegment(runId)}.${escapeSegment(node)}.#`;
}
