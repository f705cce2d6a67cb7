/**
 * The simulated bus: a broker that outlives the processes (as RabbitMQ does),
 * and a {@link Transport} view of it per process. Messages wait in queues and
 * are handed out in a random order after random delays; a consumer's
 * unacknowledged deliveries go back to their queue (redelivered) when its
 * process crashes or, as a fault, while its handlers still run; a publish may
 * be delivered twice, and a publish of a signal may be refused. Under flow
 * control, the broker withholds a dispatch or abort publish (neither taken nor
 * confirmed) for a long while, then takes and confirms it. A dispatch left
 * unacknowledged past the consumer timeout closes its consumer's channel (as
 * RabbitMQ's `consumer_timeout` does). A crashed process's calls never return.
 *
 * Signals go to one queue per shard, each to its run's (`shardOf`), as the
 * AMQP adapter sends them; a coordinator consumes those of the shards it owns.
 *
 * The durable broker also counts the returns of each message, as RabbitMQ's
 * quorum queues do: one returned more than its delivery limit is dead-lettered
 * (see `dead-letters.ts`), and the transport uses the runtime's own quarantine
 * of redelivered dispatches and recovery of dead letters
 * (`src/transport/quarantine.ts`, `src/transport/delivery-limit.ts`).
 */
import { Buffer } from 'node:buffer';
import { clonePlain } from '../../src/codec/clone.js';
import type { Json } from '../../src/codec/json.js';
import { stringifyJson } from '../../src/codec/parse.js';
import type { HistoryEntry } from '../../src/engine/events.js';
import { TransportError } from '../../src/errors.js';
import type { Logger } from '../../src/observability/logger.js';
import { logRecovered, recoveredSignal } from '../../src/transport/delivery-limit.js';
import type { AbortMessage, ConsumeOptions, Delivery, DispatchMessage, SignalMessage, Subscription, Transport } from '../../src/transport/port.js';
import { Isolation, Quarantine, type PausableConsumer } from '../../src/transport/quarantine.js';
import { shardOf } from '../../src/model/shard.js';
import { checkShard } from '../../src/transport/shards.js';
import { topicMatcher } from '../../src/transport/topic.js';
import { DEAD_LETTER_WORKER, DeadLetters, describeMessage, QUARANTINE_PREFIX, type DeadLetter } from './dead-letters.js';
import { leaseRef, type RefusedHeartbeat } from './leases.js';
import type { Random } from './random.js';
import type { Scheduler, SimProcess } from './scheduler.js';

/**
 * The largest encoded message of the simulated bus: small, so that the
 * workload's oversized values (test/sim/sizes.ts) stay small too.
 */
export const SIM_MAX_MESSAGE_BYTES = 4096;

/** AMQP short strings (queue names, routing keys) hold at most 255 bytes. */
const MAX_QUEUE_NAME_BYTES = 255;

/** Fault rates of the bus (0 turns a fault off). */
export interface BusFaults {
  /** Probability that a published message is delivered twice. */
  duplicate: number;
  /** Probability, per pump, that one consumer's unacknowledged deliveries are handed back. */
  redeliver: number;
  /** Probability that the publish of a signal is refused (flow control, a channel closing). */
  publishError: number;
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
  /** Times it went back to its queue after a delivery (the broker's delivery count). */
  returns: number;
}

interface Consumer<T> {
  process: SimProcess;
  prefetch: number;
  unacked: Set<InFlight<T>>;
  active: boolean;
  /** Paused by a quarantined dispatch (see `src/transport/quarantine.ts`). */
  paused: boolean;
  /** Subscribed after its process's coordinator began closing (see {@link SimBroker.coordinatorClosing}). */
  late?: boolean;
  /** Called whenever `unacked` shrinks. */
  onSettled?: () => void;
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
    /** The queue's name, where its dead letters died. */
    readonly name: string,
    /** Whether the broker's delivery limit applies (not to the recovery queue). */
    private readonly limited = true,
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

  /**
   * Hands random ready messages to random consumers with free slots: those
   * ready when the pump began, so that a consumer that hands its deliveries
   * straight back gets them again at a later pump, not in a zero-time loop.
   */
  private pump(): void {
    const random = this.broker.random;
    if (random.chance(this.broker.faults.redeliver)) {
      const busy = this.consumers.filter((c) => c.unacked.size > 0);
      if (busy.length > 0) this.handBack(random.pick(busy), 'a channel reset');
    }
    for (let left = this.ready.length; left > 0; ) {
      const free = this.consumers.filter((c) => c.active && !c.paused && c.process.alive && c.unacked.size < c.prefetch);
      if (this.ready.length === 0 || free.length === 0) return;
      const consumer = random.pick(free);
      const count = Math.min(this.ready.length, left, consumer.prefetch - consumer.unacked.size, random.int(1, this.batch));
      left -= count;
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
    const settle = (outcome: 'ack' | 'requeue' | 'reject'): void => {
      if (flight.settled || !consumer.process.alive) return;
      flight.settled = true;
      consumer.unacked.delete(flight);
      consumer.onSettled?.();
      if (outcome === 'requeue') this.giveBack(message);
      else if (outcome === 'reject') this.broker.deadLetter(this.name, message.body, 'rejected');
      this.schedule();
    };
    if (this.consumerTimeoutMs !== undefined) {
      const timeoutMs = this.consumerTimeoutMs;
      this.broker.scheduler.after(timeoutMs, () => {
        if (flight.settled || !consumer.process.alive) return;
        this.broker.timedOut(`${consumer.process.name} held ${describeMessage(message.body)} unacknowledged for ${timeoutMs} ms`);
        this.handBack(consumer, 'the consumer timeout closed its channel');
      });
    }
    return { body: clonePlain(message.body), redelivered: message.redelivered, ack: () => settle('ack'), requeue: () => settle('requeue'), reject: () => settle('reject') };
  }

  /** A delivered message goes back to the queue, or is dead-lettered past the delivery limit. */
  private giveBack(message: Message<T>): void {
    const returns = message.returns + 1;
    if (this.limited && this.broker.deliveryLimit !== undefined && returns > this.broker.deliveryLimit) this.broker.deadLetter(this.name, message.body, 'delivery_limit');
    else this.ready.push({ body: message.body, redelivered: true, returns });
  }

  /** Gives a consumer's unacknowledged deliveries back (its acks become no-ops). */
  handBack(consumer: Consumer<T>, why: string): void {
    if (consumer.unacked.size === 0) return;
    const what = [...consumer.unacked].map((f) => `${describeMessage(f.message.body)} (returns ${f.message.returns + 1})`);
    this.broker.log(`${consumer.process.name}: ${consumer.unacked.size} deliveries back to ${this.name} (${why}): ${what.join(', ')}`);
    for (const flight of consumer.unacked) {
      flight.settled = true;
      this.giveBack(flight.message);
    }
    consumer.unacked.clear();
    consumer.onSettled?.();
    this.schedule();
  }
}

/** The broker: queues of dispatches, the signal queue, dead letters, abort and announcement fan-out. */
export class SimBroker {
  /** Consumer timeouts that fired on a live worker (see {@link SimBroker.timedOut}). */
  readonly timeouts: string[] = [];
  /** Processes whose coordinator began closing. */
  readonly closing = new Set<SimProcess>();
  /** Late consumers found when their process ended (see {@link SimBroker.lateConsumers}). */
  readonly late: string[] = [];
  /** Heartbeats whose publish was refused (`publish-error`), by execution. */
  readonly refusedHeartbeats: RefusedHeartbeat[] = [];
  private readonly queues = new Map<string, Queue<DispatchMessage>>();
  /** One signal queue per shard (`signals` with one shard, `signals.<s>` with more), as the AMQP adapter's. */
  private readonly signals: Queue<SignalMessage>[];
  /** Durable: every dead letter, and the recovery queue the coordinators consume. */
  readonly deadLetters: DeadLetters;
  private readonly recovery: Queue<DeadLetter>;
  private readonly abortHandlers = new Set<{ process: SimProcess; handler: (message: AbortMessage) => void }>();
  private readonly subscribers = new Set<{ matches: (words: string[]) => boolean; handler: (entry: HistoryEntry) => void }>();
  /** Told of every abort the broker takes. */
  onAbort: ((message: AbortMessage) => void) | undefined;

  constructor(
    readonly scheduler: Scheduler,
    readonly random: Random,
    readonly faults: BusFaults,
    readonly log: (line: string) => void,
    /**
     * False for the in-process bus of an embedded process: it dies with its
     * process, and carries messages of any size and to any queue name, as
     * `InProcessTransport` does. A durable bus refuses a publish as RabbitMQ
     * does (see {@link SimBroker.refused}).
     */
    readonly durable = true,
    /** Durable: returns after which a message is dead-lettered (RabbitMQ's `x-delivery-limit`). */
    readonly deliveryLimit?: number,
    /** The consumer timeout of dispatch queues (durable broker only); undefined: none. */
    private readonly consumerTimeoutMs?: number,
    /** The size producers check against (`Transport.maxMessageBytes`), and a durable bus enforces. */
    readonly maxMessageBytes = SIM_MAX_MESSAGE_BYTES,
    /** The deployment's number of shards: signal queues, each signal to its run's (`shardOf`). */
    readonly shards = 1,
  ) {
    this.signals = Array.from({ length: shards }, (_, shard) => new Queue<SignalMessage>(this, 8, shards === 1 ? 'signals' : `signals.${shard}`));
    this.recovery = new Queue(this, 8, 'dead.recovery', false);
    this.deadLetters = new DeadLetters(new Set(this.signals.map((queue) => queue.name)));
  }

  /** Every queue: the signal queues, the recovery queue, the work and quarantine queues. */
  private get all(): Queue<unknown>[] {
    return [...this.signals, this.recovery, ...this.queues.values()] as Queue<unknown>[];
  }

  /** @internal A consumer timeout fired on a live worker: its channel is closed (a violation: leases exist to prevent it). */
  timedOut(what: string): void {
    this.timeouts.push(what);
    this.log(`consumer timeout: ${what}`);
  }

  /** Whether any message waits or is unacknowledged. */
  get busy(): boolean {
    return this.all.some((q) => q.busy);
  }

  /** @internal A message dies in `queue`: recorded, and copied to the recovery queue. */
  deadLetter(queue: string, body: unknown, reason: string): void {
    const letter: DeadLetter = { queue, reason, body: clonePlain(body) };
    this.deadLetters.add(letter);
    this.log(`dead letter from ${queue} (${reason}): ${describeMessage(body)}`);
    this.recovery.push({ body: letter, redelivered: false, returns: 0 });
  }

  /** @internal Whether `name` is a work or quarantine queue. */
  isDispatchQueue(name: string): boolean {
    return this.queues.has(name);
  }

  /** @internal */
  recoveryQueue(): Queue<DeadLetter> {
    return this.recovery;
  }

  /** The queues that `process` still consumes (one entry per consumer). */
  consumedBy(process: SimProcess): string[] {
    return this.all.flatMap((queue) => queue.consumers.filter((c) => c.process === process && c.active).map(() => queue.name));
  }

  /** `process`'s coordinator began closing: a consumer it subscribes from now on must be cancelled at once. */
  coordinatorClosing(process: SimProcess): void {
    this.closing.add(process);
  }

  /**
   * `no-consumer-after-close`: consumers of `processes` subscribed after their
   * coordinator began closing and still active (a closed coordinator hands every
   * signal straight back: it would bounce them until its process ends).
   */
  lateConsumers(processes: Iterable<SimProcess>): string[] {
    const found: string[] = [];
    for (const process of processes) {
      for (const queue of this.all) {
        for (const consumer of queue.consumers) {
          if (consumer.process === process && consumer.active && consumer.late === true) {
            found.push(`no-consumer-after-close: ${process.name} consumes ${queue.name} from a subscription granted after its coordinator began closing`);
          }
        }
      }
    }
    return found;
  }

  /** A process crashed: its consumers go, their deliveries go back to the queues. */
  crashed(process: SimProcess): void {
    this.late.push(...this.lateConsumers([process]));
    for (const queue of this.all) {
      for (const consumer of queue.consumers.filter((c) => c.process === process)) {
        consumer.active = false;
        queue.handBack(consumer, 'its process crashed');
      }
      queue.consumers = queue.consumers.filter((c) => c.process !== process);
    }
    for (const entry of this.abortHandlers) if (entry.process === process) this.abortHandlers.delete(entry);
  }

  /** The transport a process sees; `logger` gets its quarantine and dead-letter lines. */
  transport(process: SimProcess, logger: Logger): Transport {
    return new SimTransport(this, process, logger);
  }

  /** @internal */
  queue(name: string): Queue<DispatchMessage> {
    let queue = this.queues.get(name);
    if (queue === undefined) {
      queue = new Queue<DispatchMessage>(this, 1, name, true, this.durable ? this.consumerTimeoutMs : undefined);
      this.queues.set(name, queue);
    }
    return queue;
  }

  /**
   * @internal
   * Throws as the AMQP transport and RabbitMQ refuse a publish, for a durable
   * bus: a body over {@link SimBroker.maxMessageBytes} (the same encoder and
   * error as the AMQP publisher), a queue name over 255 bytes. Nothing of the
   * batch is published then.
   */
  refused(messages: readonly object[], queueOf?: (message: object) => string): void {
    if (!this.durable) return;
    for (const message of messages) {
      const queue = queueOf?.(message);
      if (queue !== undefined && Buffer.byteLength(queue, 'utf8') > MAX_QUEUE_NAME_BYTES) {
        throw new TransportError(`queue name of ${Buffer.byteLength(queue, 'utf8')} bytes refused by the broker (at most ${MAX_QUEUE_NAME_BYTES})`);
      }
      stringifyJson(message as Json, { maxBytes: this.maxMessageBytes });
    }
  }

  /** @internal */
  publish<T>(queue: Queue<T>, body: T): void {
    queue.push({ body: clonePlain(body), redelivered: false, returns: 0 });
    if (this.random.chance(this.faults.duplicate)) {
      this.log(`duplicate publish`);
      queue.push({ body: clonePlain(body), redelivered: false, returns: 0 });
    }
  }

  /** @internal The signal queue of `shard`. */
  signalQueue(shard: number): Queue<SignalMessage> {
    return this.signals[shard] as Queue<SignalMessage>;
  }

  /** @internal The signal queue of `runId`'s shard. */
  signalQueueOf(runId: string): Queue<SignalMessage> {
    return this.signalQueue(shardOf(runId, this.shards));
  }

  /** @internal Whether `name` is a signal queue. */
  isSignalQueue(name: string): boolean {
    return this.signals.some((queue) => queue.name === name);
  }

  /** @internal Whether signals wait in a queue while a live consumer takes them. */
  signalsWaiting(): boolean {
    return this.signals.some((queue) => queue.ready.length > 0 && queue.consumers.some((c) => c.active && c.process.alive));
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
  readonly maxMessageBytes: number;
  /** Runs quarantined dispatches alone in this process. */
  private readonly isolation = new Isolation();
  /** The in-process bus defers signals as the in-process transport does: it implements `flush`. */
  readonly flush?: () => Promise<void>;

  /** Rejects once the transport is closed: publishes still on their way are refused. */
  private readonly closed: Promise<never>;
  private readonly refuseWithheld: (error: Error) => void;
  /** The signal consumers running, and the recovery consumer they share. */
  private recoveryUsers = 0;
  private recovery: Subscription | undefined;

  constructor(
    private readonly broker: SimBroker,
    private readonly process: SimProcess,
    private readonly logger: Logger,
  ) {
    let reject!: (error: Error) => void;
    this.closed = new Promise<never>((_, no) => (reject = no));
    this.closed.catch(() => undefined);
    this.refuseWithheld = reject;
    this.durable = broker.durable;
    this.maxMessageBytes = broker.maxMessageBytes;
    if (!broker.durable) this.flush = () => this.flushSignals();
  }

  /** Resolves once the signals published so far have been handed to a live consumer (none left ready while one takes them). */
  private async flushSignals(): Promise<void> {
    while (this.broker.signalsWaiting()) await this.broker.scheduler.hold(this.process, 1);
  }

  /**
   * Publishes after a delay; a crash before the confirm leaves the caller
   * waiting for ever (it is gone). A publish the broker refuses throws, and
   * nothing of it is published.
   */
  private async publish(publish: () => void): Promise<void> {
    const { random } = this.broker;
    await this.hold(random.int(0, 10));
    try {
      publish();
    } catch (error) {
      this.broker.log(`${this.process.name}: publish refused (${(error as Error).message})`);
      throw error;
    }
    await this.hold(random.int(0, 10));
  }

  /** Waits `ms` of the publish's way; a close of the transport meanwhile refuses it, as a closing channel rejects the confirms it owes. */
  private hold(ms: number): Promise<void> {
    return Promise.race([this.broker.scheduler.hold(this.process, ms), this.closed]);
  }

  /** Flow control: the publish may wait a long while before the broker takes it (lost if its process dies meanwhile, refused if its transport closes). */
  private async withheld(what: string, p: number): Promise<void> {
    const { random } = this.broker;
    if (!random.chance(p)) return;
    const ms = random.int(...WITHHELD_MS);
    this.broker.log(`${this.process.name}: publish of ${what} withheld for ${ms} ms (flow control)`);
    await this.hold(ms);
  }

  async dispatch(messages: DispatchMessage[]): Promise<void> {
    await this.withheld(`${messages.length} dispatch(es)`, this.broker.faults.withhold);
    await this.publish(() => {
      // As the AMQP transport, a dispatch travels stamped with its send time.
      const bodies = messages.map((message) => (this.broker.durable ? { ...message, sentAt: message.sentAt ?? this.broker.scheduler.now } : message));
      this.broker.refused(bodies, (message) => (message as DispatchMessage).queue);
      for (const body of bodies) this.broker.publish(this.broker.queue(body.queue), body);
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
      this.broker.refused(messages);
      for (const message of messages) this.broker.publish(this.broker.signalQueueOf(message.runId), message);
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

  /**
   * Durable, as the AMQP adapter: a redelivered dispatch is moved to the
   * queue's quarantine queue and runs alone in its process (the runtime's
   * {@link Quarantine}). The in-process bus of an embedded process hands
   * dispatches straight to the handler.
   */
  async consumeDispatches(queue: string, options: ConsumeOptions, handler: (delivery: Delivery<DispatchMessage>) => void): Promise<Subscription> {
    const work = this.broker.queue(queue);
    if (!this.durable) return this.consume(work, options, (deliveries) => deliveries.forEach(handler));
    const name = `${QUARANTINE_PREFIX}${queue}`;
    const isolated = this.broker.queue(name);
    const quarantine = new Quarantine({ isolation: this.isolation, handler, logger: this.logger, queue: name, logPrefix: 'sim: ' });
    const fromQuarantine = this.consume(isolated, { prefetch: 1 }, (deliveries) => deliveries.forEach((d) => quarantine.fromQuarantine(d)));
    const main = this.consume(work, options, (deliveries) => {
      for (const delivery of deliveries) quarantine.fromWorkQueue(delivery, () => this.publish(() => this.broker.publish(isolated, delivery.body)));
    });
    this.isolation.add(main);
    return {
      cancel: async () => {
        this.isolation.delete(main);
        quarantine.cancel();
        await Promise.all([main.cancel(), fromQuarantine.cancel()]);
      },
    };
  }

  /**
   * Signals of one shard, and (durable) the recovery of dead letters, as the
   * AMQP adapter's (`src/transport/amqp/dead-recovery.ts`): one recovery
   * consumer per transport while any signal consumer runs; the signal a letter
   * stands for (the runtime's `recoveredSignal`) is published to its run's
   * shard queue, and the letter acknowledged once that publish is confirmed
   * (given back if it is refused).
   */
  async consumeSignals(options: ConsumeOptions, handler: (batch: Delivery<SignalMessage>[]) => void): Promise<Subscription> {
    const shard = checkShard(options.shard, this.broker.shards);
    const signals = this.consume(this.broker.signalQueue(shard), options, handler);
    if (!this.durable) return signals;
    if (this.recoveryUsers++ === 0) this.recovery = this.consumeRecovery(options);
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      if (--this.recoveryUsers === 0) await this.recovery?.cancel();
    };
    return { cancel: () => Promise.all([signals.cancel(), release()]).then(() => undefined) };
  }

  /** The consumer of the dead letters' recovery queue (see {@link SimTransport.consumeSignals}). */
  private consumeRecovery(options: ConsumeOptions): Subscription {
    const queues = { dispatches: (name: string) => this.broker.isDispatchQueue(name), signals: (name: string) => this.broker.isSignalQueue(name) };
    return this.consume(this.broker.recoveryQueue(), options, (letters) => {
      for (const letter of letters) {
        const { body } = letter.body;
        const signal = recoveredSignal(letter.body, { dispatch: () => body as DispatchMessage, signal: () => body as SignalMessage }, queues, DEAD_LETTER_WORKER);
        if (signal === undefined) {
          letter.ack();
          continue;
        }
        this.publish(() => this.broker.publish(this.broker.signalQueueOf(signal.runId), signal)).then(
          () => {
            logRecovered(this.logger, signal, DEAD_LETTER_WORKER, 'sim: ');
            letter.ack();
          },
          () => letter.requeue(),
        );
      }
    });
  }

  private consume<T>(queue: Queue<T>, options: ConsumeOptions, deliver: (deliveries: Delivery<T>[]) => void): Subscription & PausableConsumer {
    const consumer: Consumer<T> = { process: this.process, prefetch: options.prefetch, unacked: new Set(), active: true, paused: false, deliver, late: this.broker.closing.has(this.process) };
    queue.consumers.push(consumer);
    queue.schedule();
    return {
      cancel: async () => {
        // As AMQP: a cancelled consumer takes nothing new; its unacknowledged deliveries are still settled by it.
        consumer.active = false;
      },
      pause: () => {
        consumer.paused = true;
        return new Promise<void>((resolve) => {
          const check = (): void => {
            if (consumer.unacked.size > 0) return;
            consumer.onSettled = undefined;
            resolve();
          };
          consumer.onSettled = check;
          check();
        });
      },
      resume: () => {
        consumer.paused = false;
        queue.schedule();
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
    this.refuseWithheld(new TransportError('simulated: transport closed'));
  }
}
