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
  /** Queue names of the fixed queues. */
  readonly queues: {
    /** Quorum queue of signals, consumed by coordinators (`<prefix>.signals`). */
    readonly signals: string;
    /** Quorum queue holding dead letters (`<prefix>.dead`). */
    readonly dead: string;
    /**
     * Quorum queue with a copy of every dead letter, consumed by the active
     * coordinator: a dispatch dead-lettered at the delivery limit becomes a failed
     * attempt, a signal dead-lettered at the delivery limit is stepped (`<prefix>.dead.recovery`).
     */
    readonly recovery: string;
  };
  /** The fixed part: the four exchanges, the signal and dead-letter queues, their bindings to the dead-letter exchange. */
  readonly base: Declarations;
  /** Declaration of the signal queue (part of {@link Topology.base}). */
  readonly signalQueue: QueueDeclaration;
  /** Name of the quorum queue of work queue `name`: `<prefix>.work.<name>`. */
  workQueueName(name: string): string;
  /** Declaration of work queue `name` and its binding to the work exchange (routing key `name`). */
  workQueue(name: string): { queue: QueueDeclaration; binding: QueueBinding };
  /**
   * Declaration of the quarantine queue of work queue `name`: `<prefix>.quarantine.<name>`, the
   * arguments of a work queue, no binding (dispatches are moved there through the default exchange).
   */
  quarantineQueue(name: string): QueueDeclaration;
  /** An exclusive, auto-delete queue `<prefix>.<kind>.<id>` for one consumer (aborts, subscriptions). */
  privateQueue(kind: 'abort' | 'events', id: string): QueueDeclaration;
}

const NAME = /^[A-Za-z0-9_.:-]+$/;
/** AMQP short strings (names, routing keys) hold at most 255 bytes. */
const MAX_NAME_BYTES = 255;

function checkName(name: string, what: string): void {
  if (name.length === 0 || Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) {
    throw new ConfigError(`${what} "${name.slice(0, 40)}" must be 1 to ${MAX_NAME_BYTES} bytes long`);
  }
}

/** Builds the topology of `options.prefix`. Throws ConfigError for a bad prefix or delivery limit. */
export function createTopology(options: TopologyOptions = {}): Topology {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const deliveryLimit = options.deliveryLimit ?? DEFAULT_DELIVERY_LIMIT;
  if (!NAME.test(prefix) || prefix.length > 100 || prefix.startsWith('amq.')) {
    throw new ConfigError(`invalid AMQP prefix "${prefix}": use 1 to 100 letters, digits, "-", "_", "." or ":" (not starting with "amq.")`);
  }
  if (!Number.isInteger(deliveryLimit) || deliveryLimit < 1) {
    throw new ConfigError(`invalid AMQP delivery limit ${deliveryLimit}: expected an integer >= 1`);
  }
  const exchanges = {
    work: `${prefix}.work`,
    abort: `${prefix}.abort`,
    events: `${prefix}.events`,
    deadLetter: `${prefix}.dlx`,
  };
  const queues = { signals: `${prefix}.signals`, dead: `${prefix}.dead`, recovery: `${prefix}.dead.recovery` };
  /** Arguments shared by work and signal queues; must never change for an existing prefix. */
  const quorumArguments = {
    'x-queue-type': 'quorum',
    'x-delivery-limit': deliveryLimit,
    'x-dead-letter-exchange': exchanges.deadLetter,
    'x-dead-letter-strategy': 'at-least-once',
    'x-overflow': 'reject-publish',
  } as const;
  const durable = (exchange: string, type: 'direct' | 'fanout' | 'topic'): ExchangeDeclaration => ({ exchange, type, durable: true });
  const signalQueue: QueueDeclaration = { queue: queues.signals, durable: true, arguments: { ...quorumArguments } };
  const base: Declarations = {
    exchanges: [
      durable(exchanges.work, 'direct'),
      durable(exchanges.abort, 'fanout'),
      durable(exchanges.events, 'topic'),
      durable(exchanges.deadLetter, 'fanout'),
    ],
    queues: [
      signalQueue,
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
    exchanges,
    queues,
    base,
    signalQueue,
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
