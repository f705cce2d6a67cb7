/**
 * The AMQP transport: dispatches, signals, aborts and announcements over
 * RabbitMQ, with rabbitmq-client (publisher confirms, automatic reconnection,
 * topology re-declared on every reconnect). See `docs/amqp.md`.
 *
 * @packageDocumentation
 */
import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Connection, type ConnectionOptions } from 'rabbitmq-client';
import type { Schema } from '../../codec/schema.js';
import type { HistoryEntry } from '../../engine/events.js';
import { ClosedError, ConfigError } from '../../errors.js';
import { silentLogger, type Logger } from '../../observability/logger.js';
import { resolveMaxMessageBytes } from '../limits.js';
import { Isolation, Quarantine } from '../quarantine.js';
import { checkShard, signalShard } from '../shards.js';
import type { AbortMessage, ConsumeOptions, Delivery, DispatchMessage, RequestDelivery, RequestOptions, RunReply, RunRequest, SignalMessage, Subscription, Transport } from '../port.js';
import { announced, resolveAnnounce, type AnnounceMode } from './announce.js';
import { Gate, itemsHandler, resolveBatchOptions } from './batch.js';
import { BatchPublisher } from './batch-publish.js';
import { Batcher, callHandler, ManagedConsumer, toDelivery, type ConsumerSpec } from './consume.js';
import { decodeBody } from './decode.js';
import { DeadLetterRecovery } from './dead-recovery.js';
import { deleteTopology, peekQueue, type DeadLetter } from './dead-letters.js';
import { AbortSchema, DispatchSchema, HistoryEntrySchema, SignalSchema } from './messages.js';
import { AmqpTransportError, Publishers } from './publish.js';
import { checkPrefetch, envDeliveryLimit, type AmqpOptions } from './options.js';
import { MessageSigner, signingFromEnv } from './signing.js';
import { describeError, redactAmqpUrl } from './redact.js';
import { announcementRoutingKey, createTopology, type Declarations, type Topology } from './topology.js';
import { consumeRequestQueue, RequestClient, type RequestDeps } from './requests.js';
import { LocalSignals } from './local-signals.js';

/**
 * A {@link Transport} over RabbitMQ. Create it with {@link connectAmqp}.
 * Delivery is at least once: consumers must tolerate duplicates.
 */
export class AmqpTransport implements Transport {
  /** @inheritdoc */
  readonly kind = 'amqp';
  /** @inheritdoc */
  readonly durable = true;
  /** The names and declarations in use. */
  readonly topology: Topology;
  /** @inheritdoc */
  readonly maxMessageBytes: number;
  private readonly logger: Logger;
  private readonly options: ConnectionOptions & { url: string };
  private readonly connection: Connection;
  private readonly publishers: Publishers;
  private readonly signer: MessageSigner | undefined;
  private readonly workQueues = new Map<string, Promise<void>>();
  /** Work queues whose declaration on this connection is done: a dispatch to them is published without a wait. */
  private readonly readyQueues = new Set<string>();
  private readonly declaredQueues = new Set<string>();
  private readonly consumers = new Set<ManagedConsumer>();
  /** Runs quarantined dispatches alone in this process. */
  private readonly isolation = new Isolation();
  /** The consumer of `<prefix>.dead.recovery`, shared by the signal consumers. */
  private readonly recovery: DeadLetterRecovery;
  /** What requests and replies need (see `requests.ts`). */
  private readonly requestDeps: RequestDeps;
  /** This process's requests waiting for their answers. */
  private readonly requests: RequestClient;
  private closing: Promise<void> | undefined;
  private connections = 0;
  /** Publishes dispatches and signals in batch messages. */
  private readonly batches: BatchPublisher;
  /** Signals of the shards this transport consumes, handed over without the broker (see `local-signals.ts`). */
  private readonly localSignals: LocalSignals;
  private readonly announced: AnnounceMode;

  private constructor(options: AmqpOptions) {
    this.topology = createTopology({ ...options, deliveryLimit: options.deliveryLimit ?? envDeliveryLimit() });
    this.logger = options.logger ?? silentLogger;
    this.maxMessageBytes = resolveMaxMessageBytes(options.maxMessageBytes);
    const signing = options.signing ?? signingFromEnv();
    this.signer = signing === false || signing === undefined ? undefined : new MessageSigner(signing);
    this.announced = resolveAnnounce(options.announce);
    this.options = {
      url: options.url,
      connectionName: options.connectionName ?? `taskwire ${hostname()}/${process.pid}`,
      noDelay: true, // without it Nagle's algorithm adds ~40 ms to every round trip
      frameMax: 131_072,
      retryLow: 200,
      retryHigh: 15_000,
    };
    const url = redactAmqpUrl(options.url);
    this.connection = new Connection(this.options);
    this.connection.on('error', (error: unknown) => this.logger.warn({ url, reason: this.describe(error) }, `AMQP: connection to ${url}: ${this.describe(error)}`));
    this.connection.on('connection.blocked', (reason: string) => this.logger.warn({ url, reason }, `AMQP: the broker at ${url} blocked publishing: ${reason}`));
    this.connection.on('connection.unblocked', () => this.logger.info({ url }, `AMQP: the broker at ${url} accepts messages again`));
    this.connection.on('connection', () => this.onConnection(url));
    this.publishers = new Publishers(this.connection, this.topology.base, this.maxMessageBytes, this.logger, options.url, this.signer);
    this.batches = new BatchPublisher(this.publishers, this.topology, this.maxMessageBytes, resolveBatchOptions(options.batch));
    this.localSignals = new LocalSignals({
      shardOf: (runId) => signalShard(runId, this.topology.shards),
      publish: (signals) => this.batches.signals.add(signals),
      deadLetter: (shard, signal) => this.batches.rest(this.topology.signalQueueName(shard))([], [signal]),
    });
    this.recovery = new DeadLetterRecovery({
      topology: this.topology,
      maxBytes: this.maxMessageBytes,
      logger: this.logger,
      consume: (spec) => this.consume(spec),
      publish: async (queue, signal) => {
        this.checkOpen();
        await this.publishers.publishConfirmed([[{ exchange: '', routingKey: queue }, signal]]);
      },
      describe: (error) => this.describe(error),
      ...(this.signer === undefined ? {} : { signer: this.signer }),
    });
    this.requestDeps = {
      topology: this.topology,
      maxBytes: this.maxMessageBytes,
      logger: this.logger,
      signer: this.signer,
      publishConfirmed: async (items) => {
        this.checkOpen();
        await this.publishers.publishConfirmed(items);
      },
      publishBestEffort: async (what, items) => {
        if (this.closing === undefined) await this.publishers.publishBestEffort(what, items);
      },
      consume: (spec) => this.consume(spec),
    };
    this.requests = new RequestClient(this.requestDeps);
  }

  /** Connects and declares the fixed topology; see {@link connectAmqp}. */
  static async connect(options: AmqpOptions): Promise<AmqpTransport> {
    const url = redactAmqpUrl(options.url);
    let transport: AmqpTransport;
    try {
      transport = new AmqpTransport(options);
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      // Node's URL errors carry the whole URL (password included) in `input`: do not pass them on.
      throw new AmqpTransportError(`invalid AMQP URL ${url}: ${describeError(error, options.url)}`);
    }
    try {
      await transport.connection.onConnect(options.connectTimeoutMs ?? 10_000);
      await transport.declare(transport.topology.base);
    } catch (error) {
      // Not awaited: after onConnect's timeout, Connection.close() may wait for a socket that is already gone.
      transport.close().catch(() => undefined);
      const cause = error instanceof Error && error.cause !== undefined ? ` (${transport.describe(error.cause).replace(/^undefined: /, '')})` : '';
      throw new AmqpTransportError(`cannot connect to RabbitMQ at ${url}: ${transport.describe(error)}${cause}`);
    }
    return transport;
  }

  /** Whether messages are signed and verified (see {@link AmqpOptions.signing}). */
  get signing(): boolean {
    return this.signer !== undefined;
  }

  /** The options given to rabbitmq-client's `Connection` (password redacted); `noDelay` is always true. */
  get connectionOptions(): Readonly<ConnectionOptions> {
    return Object.freeze({ ...this.options, url: redactAmqpUrl(this.options.url) });
  }

  /**
   * @inheritdoc
   *
   * The dispatches of one work queue travel in batch messages of up to
   * `batch.dispatches` (see batch.ts), all confirmed.
   */
  async dispatch(messages: DispatchMessage[]): Promise<void> {
    this.checkOpen();
    const now = Date.now();
    const byQueue = this.batches.byQueue(messages.map((message) => ({ ...message, sentAt: message.sentAt ?? now })));
    // Declared queues are not awaited: the publish is written in this call (a lone hop waits for it).
    const undeclared = [...byQueue.keys()].filter((queue) => !this.readyQueues.has(queue));
    if (undeclared.length > 0) await Promise.all(undeclared.map((queue) => this.ensureWorkQueue(queue)));
    await this.batches.dispatch(byQueue);
  }

  /**
   * @inheritdoc
   *
   * Each goes to the queue of its run's shard (see {@link AmqpOptions.shards}),
   * all confirmed, gathered with those of other calls into batch messages (see
   * {@link AmqpOptions.batch}): the promise resolves once its batch is confirmed.
   * A signal of a shard this transport consumes is handed to that consumer
   * without the broker, and resolves once acknowledged (see `local-signals.ts`).
   */
  async signal(messages: SignalMessage[]): Promise<void> {
    this.checkOpen();
    await this.localSignals.send(messages);
  }

  /** @inheritdoc */
  async abort(messages: AbortMessage[]): Promise<void> {
    if (this.closing === undefined) await this.publishers.publishBestEffort('abort', messages.map((message) => [{ exchange: this.topology.exchanges.abort, routingKey: '' }, message]));
  }

  /** @inheritdoc */
  async announce(entries: HistoryEntry[]): Promise<void> {
    if (this.closing !== undefined) return;
    await this.publishers.publishBestEffort(
      'announcement',
      announced(entries, this.announced).map((entry) => [{ exchange: this.topology.exchanges.events, routingKey: announcementRoutingKey(entry) }, entry]),
    );
  }

  /**
   * @inheritdoc
   *
   * A dispatch delivered again (its worker died, or gave it back) is moved to
   * the queue's quarantine queue and executed from there alone in its process:
   * see `../quarantine.ts`.
   */
  async consumeDispatches(queue: string, options: ConsumeOptions, handler: (delivery: Delivery<DispatchMessage>) => void): Promise<Subscription> {
    const { queue: declaration, binding } = this.topology.workQueue(queue);
    const quarantineQueue = this.topology.quarantineQueue(queue);
    this.declaredQueues.add(declaration.queue).add(quarantineQueue.queue);
    const decode = { queue: declaration.queue, what: 'dispatch message', schema: DispatchSchema, maxBytes: this.maxMessageBytes, logger: this.logger, fate: 'dead-lettered', signer: this.signer };
    const quarantine = new Quarantine({
      isolation: this.isolation,
      handler: (delivery) => callHandler(this.logger, declaration.queue, handler, delivery, [delivery]),
      logger: this.logger,
      queue: quarantineQueue.queue,
      logPrefix: 'AMQP: ',
      describe: (error) => this.describe(error),
    });
    const isolated = await this.consume({
      queue: quarantineQueue,
      exchanges: this.topology.base.exchanges,
      bindings: [],
      prefetch: 1,
      noAck: false,
      onMessage: (message, settle) => {
        const body = decodeBody(message, { ...decode, queue: quarantineQueue.queue });
        if (body === undefined) settle('reject');
        else quarantine.fromQuarantine(toDelivery(body, message, settle));
      },
    });
    const prefetch = checkPrefetch(options.prefetch);
    // A batch message counts once against the prefetch: at most `prefetch` of its dispatches are handled at once.
    const gate = new Gate<DispatchMessage>(prefetch, (delivery) => quarantine.fromWorkQueue(delivery, () => this.publishToQuarantine(quarantineQueue.queue, delivery.body, delivery.body.traceparent)));
    const rest = this.batches.rest(declaration.queue);
    let main: ManagedConsumer;
    try {
      main = await this.consume({
        queue: declaration,
        exchanges: this.topology.base.exchanges,
        bindings: [binding],
        prefetch,
        noAck: false,
        onMessage: itemsHandler(decode, rest, (delivery) => gate.admit(delivery)),
      });
    } catch (error) {
      quarantine.cancel();
      gate.cancel();
      await isolated.cancel();
      throw error;
    }
    this.isolation.add(main);
    return {
      cancel: async () => {
        this.isolation.delete(main);
        quarantine.cancel();
        gate.cancel();
        await Promise.all([main.cancel(), isolated.cancel()]);
      },
    };
  }

  /** Republishes a redelivered dispatch to its quarantine queue, with its trace header; resolves once the broker holds it. */
  private publishToQuarantine(queue: string, body: DispatchMessage, traceparent: string | undefined): Promise<void> {
    const headers = traceparent === undefined ? {} : { headers: { traceparent } };
    return this.publishers.publishConfirmed([[{ exchange: '', routingKey: queue, ...headers }, body]]);
  }

  /**
   * @inheritdoc
   *
   * Consumes `<prefix>.signals` (one shard) or `<prefix>.signals.<shard>`, and
   * keeps the transport's consumer of `<prefix>.dead.recovery` running while any
   * signal consumer does: it publishes each signal recovered from a dead letter
   * to its run's shard queue (see `dead-recovery.ts`).
   */
  async consumeSignals(options: ConsumeOptions, handler: (batch: Delivery<SignalMessage>[]) => void): Promise<Subscription> {
    const prefetch = checkPrefetch(options.prefetch);
    const shard = checkShard(options.shard, this.topology.shards);
    const declaration = this.topology.signalQueues[shard] as ConsumerSpec['queue'];
    const queue = declaration.queue;
    const decode = { queue, what: 'signal message', schema: SignalSchema, maxBytes: this.maxMessageBytes, logger: this.logger, fate: 'dead-lettered', signer: this.signer };
    let cancelled = false;
    const batcher = new Batcher<SignalMessage>(prefetch, (batch) => {
      if (cancelled) for (const delivery of batch) delivery.requeue();
      else callHandler(this.logger, queue, handler, batch, batch);
    });
    const rest = this.batches.rest(queue);
    const release = await this.recovery.acquire(prefetch);
    let subscription: Subscription;
    try {
      subscription = await this.consume({
        queue: declaration,
        exchanges: this.topology.base.exchanges,
        bindings: [],
        prefetch,
        noAck: false,
        onMessage: itemsHandler(decode, rest, (delivery) => batcher.add(delivery)),
      });
    } catch (error) {
      await release();
      throw error;
    }
    // This process's own workers' signals of the shard come straight to the batcher from now on.
    const detach = this.localSignals.attach(shard, (delivery) => batcher.add(delivery));
    return { cancel: () => ((cancelled = true), detach(), Promise.all([subscription.cancel(), release()]).then(() => undefined)) };
  }

  /**
   * @inheritdoc
   *
   * To `<prefix>.requests.<shard>` (persistent, confirmed, expiring after
   * `timeoutMs`); the answer comes on this transport's exclusive reply queue.
   */
  async request(shard: number, request: RunRequest, options: RequestOptions): Promise<RunReply> {
    this.checkOpen();
    return this.requests.request(checkShard(shard, this.topology.shards), request, options);
  }

  /** @inheritdoc */
  async consumeRequests(options: ConsumeOptions, handler: (batch: RequestDelivery[]) => void): Promise<Subscription> {
    this.checkOpen();
    return consumeRequestQueue(this.requestDeps, checkShard(options.shard, this.topology.shards), checkPrefetch(options.prefetch), handler);
  }

  /** @inheritdoc */
  async consumeAborts(handler: (message: AbortMessage) => void): Promise<Subscription> {
    const declaration = this.topology.privateQueue('abort', randomUUID());
    return this.consumeBestEffort(declaration, { exchange: this.topology.exchanges.abort, routingKey: '' }, 'abort message', AbortSchema, handler);
  }

  /** @inheritdoc */
  async subscribe(pattern: string, handler: (entry: HistoryEntry) => void): Promise<Subscription> {
    if (pattern.length === 0 || Buffer.byteLength(pattern) > 255) throw new ConfigError(`invalid topic pattern "${pattern.slice(0, 40)}": 1 to 255 bytes expected`);
    const declaration = this.topology.privateQueue('events', randomUUID());
    return this.consumeBestEffort(declaration, { exchange: this.topology.exchanges.events, routingKey: pattern }, 'announcement', HistoryEntrySchema, handler);
  }

  /**
   * Reads up to `limit` messages of the dead-letter queue without removing them
   * (they are fetched unacknowledged, then given back). For tests and diagnostics.
   */
  async peekDeadLetters(limit = 100): Promise<DeadLetter[]> {
    this.checkOpen();
    return peekQueue(this.connection, this.topology.queues.dead, limit);
  }

  /**
   * Test cleanup: closes the transport, then deletes (with their messages) every
   * exchange of the prefix, its signal and request (every shard's) and dead queues, every work (and
   * quarantine) queue this transport declared or consumed, and the work (and
   * quarantine) queues named in `workQueues`
   * (those that only other processes declared are not known here). Idempotent.
   */
  async purgeAndDelete(workQueues: string[] = []): Promise<void> {
    await this.close();
    await deleteTopologyOf(this.topology, this.options, workQueues, this.declaredQueues);
  }

  /** @inheritdoc */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.batches.signals.flush();
      this.requests.close();
      await Promise.all([...this.consumers].map((consumer) => consumer.close()));
      await this.publishers.close();
      await this.connection.close();
    })();
    return this.closing;
  }

  private onConnection(url: string): void {
    if (this.connections++ === 0) return this.logger.info({ url, signing: this.signing }, `AMQP: connected to ${url}${this.signing ? ' (messages signed and verified)' : ''}`);
    this.logger.warn({ url }, `AMQP: reconnected to ${url}`);
    // Declarations may have been lost with the broker: declare again before the next use.
    this.workQueues.clear();
    this.readyQueues.clear();
    this.declare(this.topology.base).catch((error: unknown) => this.logger.warn({ url, reason: this.describe(error) }, 'AMQP: cannot re-declare the topology'));
  }

  private async declare(declarations: Declarations): Promise<void> {
    for (const exchange of declarations.exchanges) await this.connection.exchangeDeclare(exchange);
    for (const queue of declarations.queues) await this.connection.queueDeclare(queue);
    for (const binding of declarations.queueBindings) await this.connection.queueBind(binding);
  }

  /** Declares work queue `name` once per connection, so that no dispatch is ever unroutable. */
  private ensureWorkQueue(name: string): Promise<void> {
    let declared = this.workQueues.get(name);
    if (declared === undefined) {
      const { queue, binding } = this.topology.workQueue(name);
      this.declaredQueues.add(queue.queue);
      declared = this.declare({ exchanges: [], queues: [queue], queueBindings: [binding] });
      const current = declared;
      declared.then(
        () => {
          if (this.workQueues.get(name) === current) this.readyQueues.add(name);
        },
        () => this.workQueues.delete(name),
      );
      this.workQueues.set(name, declared);
    }
    return declared;
  }

  private async consume(spec: ConsumerSpec): Promise<ManagedConsumer> {
    this.checkOpen();
    const context = { connection: this.connection, logger: this.logger, url: this.options.url, onFinished: () => this.consumers.delete(consumer) };
    const consumer: ManagedConsumer = new ManagedConsumer(context, spec);
    this.consumers.add(consumer);
    try {
      await consumer.start();
    } catch (error) {
      this.consumers.delete(consumer);
      throw error;
    }
    return consumer;
  }

  private consumeBestEffort<T>(queue: ConsumerSpec['queue'], binding: ConsumerSpec['bindings'][number], what: string, schema: Schema<T>, handler: (body: T) => void): Promise<Subscription> {
    const decode = { queue: queue.queue, what, schema, maxBytes: this.maxMessageBytes, logger: this.logger, fate: 'dropped', signer: this.signer };
    return this.consume({
      queue,
      exchanges: this.topology.base.exchanges,
      bindings: [{ ...binding, queue: queue.queue }],
      noAck: true,
      onMessage: (message) => {
        const body = decodeBody(message, decode);
        if (body !== undefined) callHandler(this.logger, queue.queue, handler, body, []);
      },
    });
  }

  private checkOpen(): void {
    if (this.closing !== undefined) throw new ClosedError('AMQP transport');
  }

  private describe(error: unknown): string {
    return describeError(error, this.options.url);
  }
}

/**
 * Deletes the queues and exchanges of `topology` (its signal and request queues, the dead-letter
 * queues, the work and quarantine queues of `workQueues` and `more`) on a connection of its own,
 * declaring nothing: queues that do not exist are skipped by the broker.
 */
async function deleteTopologyOf(topology: Topology, options: AmqpOptions, workQueues: readonly string[], more: Iterable<string> = []): Promise<void> {
  const named = workQueues.flatMap((name) => [topology.workQueueName(name), topology.quarantineQueue(name).queue]);
  const { signalQueues, requestQueues, queues: fixed } = topology;
  const queues = [...new Set([...more, ...named]), ...[...signalQueues, ...requestQueues].map((q) => q.queue), fixed.dead, fixed.recovery];
  const connection = new Connection({ ...options, connectionName: `${options.connectionName ?? 'taskwire'} (cleanup)` });
  connection.on('error', () => undefined);
  try {
    await connection.onConnect(10_000);
    await deleteTopology(connection, queues, Object.values(topology.exchanges));
  } catch (error) {
    throw new AmqpTransportError(`cannot delete the AMQP topology of prefix "${topology.prefix}": ${describeError(error, options.url)}`);
  } finally {
    // A connection that never opened is closed already (awaiting would wait for a socket long gone).
    if (connection.ready) await connection.close().catch(() => undefined);
    else connection.close().catch(() => undefined);
  }
}

/**
 * Deletes a prefix's queues and exchanges without connecting a transport (which would declare
 * them first): the signal and request queues of one shard and of `options.shards` shards (so that
 * a prefix is cleaned whatever number of shards its processes used, up to that one), the
 * dead-letter queues, and the work and quarantine queues of `workQueues`. Messages in them are lost.
 */
export async function deleteAmqpPrefix(options: AmqpOptions, workQueues: readonly string[] = ['default']): Promise<void> {
  const sharded = createTopology({ ...options, shards: options.shards ?? 1 });
  const single = createTopology({ ...options, shards: 1 });
  await deleteTopologyOf(sharded, options, workQueues, [...single.signalQueues, ...single.requestQueues].map((q) => q.queue));
}

/**
 * Connects to RabbitMQ, declares the fixed topology and returns the transport.
 * Rejects with {@link AmqpTransportError} (password redacted) when the broker
 * cannot be reached within `connectTimeoutMs` or refuses the declarations.
 */
export function connectAmqp(options: AmqpOptions): Promise<AmqpTransport> {
  return AmqpTransport.connect(options);
}
