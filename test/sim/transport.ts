/**
 * The simulated bus: a broker that outlives the processes (as RabbitMQ does),
 * and a {@link Transport} view of it per process. Messages wait in queues and
 * are handed out in a random order after random delays; a consumer's
 * unacknowledged deliveries go back to their queue (redelivered) when its
 * process crashes or, as a fault, while its handlers still run; a publish may
 * be delivered twice. Under flow control, the broker withholds a dispatch or
 * abort publish (neither taken nor confirmed) for a long while, then takes and
 * confirms it. A crashed process's calls never return.
 */
import { clonePlain } from '../../src/codec/clone.js';
import type { HistoryEntry } from '../../src/engine/events.js';
import type { AbortMessage, ConsumeOptions, Delivery, DispatchMessage, SignalMessage, Subscription, Transport } from '../../src/transport/port.js';
import { topicMatcher } from '../../src/transport/topic.js';
import type { Random } from './random.js';
import type { Scheduler, SimProcess } from './scheduler.js';

/** Fault rates of the bus (0 turns a fault off). */
export interface BusFaults {
  /** Probability that a published message is delivered twice. */
  duplicate: number;
  /** Probability, per pump, that one consumer's unacknowledged deliveries are handed back. */
  redeliver: number;
  /** Probability that a dispatch publish is withheld (flow control), for {@link WITHHELD_MS}. */
  withhold: number;
  /** The same for an abort publish (rarer than dispatches: withheld more often, so that seeds meet the case). */
  withholdAbort: number;
}

/**
 * How long a withheld publish waits (simulated ms), min and max: longer than
 * any publish timeout, and for some longer than the settle budget (a confirm
 * that comes only after the checks: a publisher waiting for it is wedged).
 */
export const WITHHELD_MS = [2000, 400_000] as const;

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

/** The broker: queues of dispatches, the signal queue, abort and announcement fan-out. */
export class SimBroker {
  private readonly queues = new Map<string, Queue<DispatchMessage>>();
  private readonly signals: Queue<SignalMessage>;
  private readonly abortHandlers = new Set<{ process: SimProcess; handler: (message: AbortMessage) => void }>();
  private readonly subscribers = new Set<{ matches: (words: string[]) => boolean; handler: (entry: HistoryEntry) => void }>();
  /** Told of every abort the broker takes. */
  onAbort: ((message: AbortMessage) => void) | undefined;

  constructor(
    readonly scheduler: Scheduler,
    readonly random: Random,
    readonly faults: BusFaults,
    readonly log: (line: string) => void,
    /** False for the in-process bus of an embedded process: it dies with its process. */
    readonly durable = true,
  ) {
    this.signals = new Queue(this, 8);
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
      queue = new Queue<DispatchMessage>(this, 1);
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
    this.onAbort?.(message);
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

  constructor(
    private readonly broker: SimBroker,
    private readonly process: SimProcess,
  ) {
    this.durable = broker.durable;
  }

  /** Publishes after a delay; a crash before the confirm leaves the caller waiting for ever (it is gone). */
  private async publish(publish: () => void): Promise<void> {
    const { scheduler, random } = this.broker;
    await scheduler.hold(this.process, random.int(0, 10));
    publish();
    await scheduler.hold(this.process, random.int(0, 10));
  }

  /** Flow control: the publish may wait a long while before the broker takes it (lost if its process dies meanwhile). */
  private async withheld(what: string, p: number): Promise<void> {
    const { scheduler, random } = this.broker;
    if (!random.chance(p)) return;
    const ms = random.int(...WITHHELD_MS);
    this.broker.log(`${this.process.name}: publish of ${what} withheld for ${ms} ms (flow control)`);
    await scheduler.hold(this.process, ms);
  }

  async dispatch(messages: DispatchMessage[]): Promise<void> {
    await this.withheld(`${messages.length} dispatch(es)`, this.broker.faults.withhold);
    await this.publish(() => {
      for (const message of messages) this.broker.publish(this.broker.queue(message.queue), message);
    });
  }

  async signal(messages: SignalMessage[]): Promise<void> {
    await this.publish(() => {
      for (const message of messages) this.broker.publish(this.broker.signalQueue(), message);
    });
  }

  async abort(messages: AbortMessage[]): Promise<void> {
    await this.withheld(`${messages.length} abort(s)`, this.broker.faults.withholdAbort);
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
