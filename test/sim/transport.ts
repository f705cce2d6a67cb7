/**
 * The simulated bus: a broker that outlives the processes (as RabbitMQ does),
 * and a {@link Transport} view of it per process. Messages wait in queues and
 * are handed out in a random order after random delays; a consumer's
 * unacknowledged deliveries go back to their queue (redelivered) when its
 * process crashes or, as a fault, while its handlers still run; a publish may
 * be delivered twice, and a publish of a signal may be refused. A dispatch
 * left unacknowledged past the consumer timeout closes its consumer's channel
 * (as RabbitMQ's `consumer_timeout` does). A crashed process's calls never return.
 */
import { clonePlain } from '../../src/codec/clone.js';
import { TransportError } from '../../src/errors.js';
import type { HistoryEntry } from '../../src/engine/events.js';
import type { AbortMessage, ConsumeOptions, Delivery, DispatchMessage, SignalMessage, Subscription, Transport } from '../../src/transport/port.js';
import { topicMatcher } from '../../src/transport/topic.js';
import { leaseRef, type RefusedHeartbeat } from './leases.js';
import type { Random } from './random.js';
import type { Scheduler, SimProcess } from './scheduler.js';

/** Fault rates of the bus (0 turns a fault off). */
export interface BusFaults {
  /** Probability that a published message is delivered twice. */
  duplicate: number;
  /** Probability, per pump, that one consumer's unacknowledged deliveries are handed back. */
  redeliver: number;
  /** Probability that the publish of a signal is refused (flow control, a channel closing). */
  publishError: number;
}

interface Message<T> {
  body: T;
  redelivered: boolean;
}

interface Consumer<T> {
  process: SimProcess;
  prefetch: number;
  unacked: Set<InFlight<T>>;
  active: boolean;
  /** Dispatches: one delivery at a time; signals: batches. */
  deliver(deliveries: Delivery<T>[]): void;
}

interface InFlight<T> {
  message: Message<T>;
  settled: boolean;
}

/** One queue: ready messages and consumers. */
class Queue<T> {
  ready: Message<T>[] = [];
  consumers: Consumer<T>[] = [];
  private pumping = false;

  constructor(
    private readonly broker: SimBroker,
    private readonly batch: number,
    /** Unacknowledged this long, a delivery closes its consumer's channel (dispatch queues of a durable broker). */
    private readonly consumerTimeoutMs?: number,
  ) {}

  /** Whether messages are waiting or unacknowledged. */
  get busy(): boolean {
    return this.ready.length > 0 || this.consumers.some((c) => c.unacked.size > 0);
  }

  push(message: Message<T>): void {
    this.ready.push(message);
    this.schedule();
  }

  schedule(): void {
    if (this.pumping) return;
    this.pumping = true;
    this.broker.scheduler.after(this.broker.random.int(0, 20), () => {
      this.pumping = false;
      this.pump();
    });
  }

  /** Hands random ready messages to random consumers with free slots. */
  private pump(): void {
    const random = this.broker.random;
    if (random.chance(this.broker.faults.redeliver)) {
      const busy = this.consumers.filter((c) => c.unacked.size > 0);
      if (busy.length > 0) this.handBack(random.pick(busy), 'a channel reset');
    }
    for (;;) {
      const free = this.consumers.filter((c) => c.active && c.process.alive && c.unacked.size < c.prefetch);
      if (this.ready.length === 0 || free.length === 0) return;
      const consumer = random.pick(free);
      const count = Math.min(this.ready.length, consumer.prefetch - consumer.unacked.size, random.int(1, this.batch));
      const deliveries: Delivery<T>[] = [];
      for (let i = 0; i < count; i++) {
        const [message] = this.ready.splice(random.int(0, this.ready.length - 1), 1) as [Message<T>];
        deliveries.push(this.delivery(consumer, message));
      }
      consumer.deliver(deliveries);
    }
  }

  private delivery(consumer: Consumer<T>, message: Message<T>): Delivery<T> {
    const flight: InFlight<T> = { message, settled: false };
    consumer.unacked.add(flight);
    const settle = (requeue: boolean): void => {
      if (flight.settled || !consumer.process.alive) return;
      flight.settled = true;
      consumer.unacked.delete(flight);
      if (requeue) this.push({ body: message.body, redelivered: true });
      else this.schedule();
    };
    if (this.consumerTimeoutMs !== undefined) {
      const timeoutMs = this.consumerTimeoutMs;
      this.broker.scheduler.after(timeoutMs, () => {
        if (flight.settled || !consumer.process.alive) return;
        this.broker.timedOut(`${consumer.process.name} held ${describe(message.body)} unacknowledged for ${timeoutMs} ms`);
        this.handBack(consumer, 'the consumer timeout closed its channel');
      });
    }
    return { body: clonePlain(message.body), redelivered: message.redelivered, ack: () => settle(false), requeue: () => settle(true), reject: () => settle(false) };
  }

  /** Gives a consumer's unacknowledged deliveries back (its acks become no-ops). */
  handBack(consumer: Consumer<T>, why: string): void {
    if (consumer.unacked.size === 0) return;
    this.broker.log(`${consumer.process.name}: ${consumer.unacked.size} deliveries back to the queue (${why})`);
    for (const flight of consumer.unacked) {
      flight.settled = true;
      this.ready.push({ body: flight.message.body, redelivered: true });
    }
    consumer.unacked.clear();
    this.schedule();
  }
}

/** A message in a trace line: a dispatch's run, node, activation and attempt. */
function describe(body: unknown): string {
  const m = body as Partial<DispatchMessage>;
  return `${m.kind ?? 'message'} of ${m.runId}/${m.node}${m.activation === undefined ? '' : `[${m.activation}]`}#${m.attempt}`;
}

/** The broker: queues of dispatches, the signal queue, abort and announcement fan-out. */
export class SimBroker {
  /** Consumer timeouts that fired on a live worker (see {@link SimBroker.timedOut}). */
  readonly timeouts: string[] = [];
  /** Heartbeats whose publish was refused (`publish-error`), by execution. */
  readonly refusedHeartbeats: RefusedHeartbeat[] = [];
  private readonly queues = new Map<string, Queue<DispatchMessage>>();
  private readonly signals: Queue<SignalMessage>;
  private readonly abortHandlers = new Set<{ process: SimProcess; handler: (message: AbortMessage) => void }>();
  private readonly subscribers = new Set<{ matches: (words: string[]) => boolean; handler: (entry: HistoryEntry) => void }>();

  constructor(
    readonly scheduler: Scheduler,
    readonly random: Random,
    readonly faults: BusFaults,
    readonly log: (line: string) => void,
    /** False for the in-process bus of an embedded process: it dies with its process. */
    readonly durable = true,
    /** The consumer timeout of dispatch queues (durable broker only); undefined: none. */
    private readonly consumerTimeoutMs?: number,
  ) {
    this.signals = new Queue(this, 8);
  }

  /** @internal A consumer timeout fired on a live worker: its channel is closed (a violation: leases exist to prevent it). */
  timedOut(what: string): void {
    this.timeouts.push(what);
    this.log(`consumer timeout: ${what}`);
  }

  /** Whether any message waits or is unacknowledged. */
  get busy(): boolean {
    return this.signals.busy || [...this.queues.values()].some((q) => q.busy);
  }

  /** A process crashed: its consumers go, their deliveries go back to the queues. */
  crashed(process: SimProcess): void {
    for (const queue of [this.signals, ...this.queues.values()] as Queue<unknown>[]) {
      for (const consumer of queue.consumers.filter((c) => c.process === process)) {
        consumer.active = false;
        queue.handBack(consumer, 'its process crashed');
      }
      queue.consumers = queue.consumers.filter((c) => c.process !== process);
    }
    for (const entry of this.abortHandlers) if (entry.process === process) this.abortHandlers.delete(entry);
  }

  /** The transport a process sees. */
  transport(process: SimProcess): Transport {
    return new SimTransport(this, process);
  }

  /** @internal */
  queue(name: string): Queue<DispatchMessage> {
    let queue = this.queues.get(name);
    if (queue === undefined) {
      queue = new Queue<DispatchMessage>(this, 1, this.durable ? this.consumerTimeoutMs : undefined);
      this.queues.set(name, queue);
    }
    return queue;
  }

  /** @internal */
  publish<T>(queue: Queue<T>, body: T): void {
    queue.push({ body: clonePlain(body), redelivered: false });
    if (this.random.chance(this.faults.duplicate)) {
      this.log(`duplicate publish`);
      queue.push({ body: clonePlain(body), redelivered: false });
    }
  }

  /** @internal */
  signalQueue(): Queue<SignalMessage> {
    return this.signals;
  }

  /** @internal */
  broadcastAbort(message: AbortMessage): void {
    for (const { process, handler } of this.abortHandlers) {
      this.scheduler.after(this.random.int(0, 30), () => process.alive && handler(clonePlain(message)));
    }
  }

  /** @internal */
  addAbortHandler(process: SimProcess, handler: (message: AbortMessage) => void): () => void {
    const entry = { process, handler };
    this.abortHandlers.add(entry);
    return () => void this.abortHandlers.delete(entry);
  }

  /** @internal */
  announce(entry: HistoryEntry): void {
    const words = ['run', entry.runId, entry.node ?? '$run', ...entry.type.split('.')];
    for (const subscriber of this.subscribers) if (subscriber.matches(words)) subscriber.handler(clonePlain(entry));
  }

  /** @internal */
  subscribe(pattern: string, handler: (entry: HistoryEntry) => void): () => void {
    const subscriber = { matches: topicMatcher(pattern), handler };
    this.subscribers.add(subscriber);
    return () => void this.subscribers.delete(subscriber);
  }
}

/** One process's view of the broker. */
class SimTransport implements Transport {
  readonly kind = 'sim';
  readonly durable: boolean;
  /** The in-process bus defers signals as the in-process transport does: it implements `flush`. */
  readonly flush?: () => Promise<void>;

  constructor(
    private readonly broker: SimBroker,
    private readonly process: SimProcess,
  ) {
    this.durable = broker.durable;
    if (!broker.durable) this.flush = () => this.flushSignals();
  }

  /** Resolves once the signals published so far have been handed to a live consumer (none left ready while one takes them). */
  private async flushSignals(): Promise<void> {
    const queue = this.broker.signalQueue();
    while (queue.ready.length > 0 && queue.consumers.some((c) => c.active && c.process.alive)) await this.broker.scheduler.hold(this.process, 1);
  }

  /** Publishes after a delay; a crash before the confirm leaves the caller waiting for ever (it is gone). */
  private async publish(publish: () => void): Promise<void> {
    const { scheduler, random } = this.broker;
    await scheduler.hold(this.process, random.int(0, 10));
    publish();
    await scheduler.hold(this.process, random.int(0, 10));
  }

  async dispatch(messages: DispatchMessage[]): Promise<void> {
    await this.publish(() => {
      for (const message of messages) this.broker.publish(this.broker.queue(message.queue), message);
    });
  }

  async signal(messages: SignalMessage[]): Promise<void> {
    if (this.broker.random.chance(this.broker.faults.publishError)) {
      await this.broker.scheduler.hold(this.process, this.broker.random.int(0, 10));
      this.broker.log(`${this.process.name}: publish of ${messages.length} signal(s) refused`);
      for (const m of messages) if (m.type === 'task.heartbeat') this.broker.refusedHeartbeats.push({ at: this.broker.scheduler.now, ref: leaseRef(m) });
      throw new TransportError('simulated: publish refused (flow control)');
    }
    await this.publish(() => {
      for (const message of messages) this.broker.publish(this.broker.signalQueue(), message);
    });
  }

  async abort(messages: AbortMessage[]): Promise<void> {
    if (!this.process.alive) return;
    for (const message of messages) this.broker.broadcastAbort(message);
  }

  async announce(entries: HistoryEntry[]): Promise<void> {
    if (!this.process.alive) return;
    for (const entry of entries) this.broker.announce(entry);
  }

  async consumeDispatches(queue: string, options: ConsumeOptions, handler: (delivery: Delivery<DispatchMessage>) => void): Promise<Subscription> {
    return this.consume(this.broker.queue(queue), options, (deliveries) => {
      for (const delivery of deliveries) handler(delivery);
    });
  }

  async consumeSignals(options: ConsumeOptions, handler: (batch: Delivery<SignalMessage>[]) => void): Promise<Subscription> {
    return this.consume(this.broker.signalQueue(), options, handler);
  }

  private consume<T>(queue: Queue<T>, options: ConsumeOptions, deliver: (deliveries: Delivery<T>[]) => void): Subscription {
    const consumer: Consumer<T> = { process: this.process, prefetch: options.prefetch, unacked: new Set(), active: true, deliver };
    queue.consumers.push(consumer);
    queue.schedule();
    return {
      cancel: async () => {
        // As AMQP: a cancelled consumer takes nothing new; its unacknowledged deliveries are still settled by it.
        consumer.active = false;
      },
    };
  }

  async consumeAborts(handler: (message: AbortMessage) => void): Promise<Subscription> {
    const remove = this.broker.addAbortHandler(this.process, handler);
    return { cancel: async () => remove() };
  }

  async subscribe(pattern: string, handler: (entry: HistoryEntry) => void): Promise<Subscription> {
    const remove = this.broker.subscribe(pattern, handler);
    return { cancel: async () => remove() };
  }

  async close(): Promise<void> {
    // The broker outlives the process; consumers are cancelled by their owners.
  }
}
