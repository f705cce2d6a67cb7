/**
 * The in-process transport: dispatches and signals travel through memory, for
 * the embedded runtime. The values that task code receives or produces (a
 * dispatch's inputs, a rollback's result and error, a task's result, which the
 * task may still hold) are copied at the boundary, so that task code never
 * shares objects with the engine's state. The envelopes around them are not
 * copied: neither side changes a message it sent or received, and a signal's
 * failure is made by the worker, not by task code. Not durable: after a crash
 * the engine re-derives pending work from the store (`resume`).
 *
 * Signals are handed to the coordinator in batches, once the work under way
 * has settled: after the current microtasks (`process.nextTick`), not after an
 * event-loop turn per hop (an `epoll_wait` each, 17 % idle in the W1 profile),
 * but with a turn at least every {@link FLUSHES_PER_TURN} batches, so that a
 * long run of hops never starves timers and I/O.
 *
 * @packageDocumentation
 */
import { clonePlain } from '../../codec/clone.js';
import { detachedSignal } from '../detached.js';
import type { HistoryEntry } from '../../engine/events.js';
import type { AbortMessage, ConsumeOptions, Delivery, DispatchMessage, SignalMessage, Subscription, Transport } from '../port.js';
import { silentLogger, type Logger } from '../../observability/logger.js';
import { resolveMaxMessageBytes } from '../limits.js';
import { checkShard } from '../shards.js';
import { topicMatcher, type TopicMatcher } from '../topic.js';

/** A consumer of this queue name takes the dispatches of every queue (the embedded worker does). */
export const ANY_QUEUE = '*';

interface Subscriber {
  matches: TopicMatcher;
  handler: (entry: HistoryEntry) => void;
}

interface Consumer {
  prefetch: number;
  inflight: number;
  handler: (delivery: Delivery<DispatchMessage>) => void;
  active: boolean;
}

/** Dispatches of one priority, in order (`head`: the next to hand out). */
interface Lane {
  ready: DispatchMessage[];
  head: number;
}

/** A work queue: one lane per priority rank (low 0, normal 1, high 2); a higher lane's dispatches go first. */
interface WorkQueue {
  lanes: [Lane, Lane, Lane];
  consumers: Consumer[];
  next: number;
}

/** The lane of a dispatch's priority (normal when it has none). */
function laneOf(queue: WorkQueue, message: DispatchMessage): Lane {
  return queue.lanes[message.priority ?? 1] ?? queue.lanes[1];
}

/** Takes the next dispatch of the highest lane that has one. */
function takeNext(queue: WorkQueue): DispatchMessage | undefined {
  for (let rank = 2; rank >= 0; rank--) {
    const lane = queue.lanes[rank] as Lane;
    if (lane.head >= lane.ready.length) continue;
    const message = lane.ready[lane.head++] as DispatchMessage;
    if (lane.head > 1024 && lane.head * 2 > lane.ready.length) {
      lane.ready = lane.ready.slice(lane.head);
      lane.head = 0;
    }
    return message;
  }
  return undefined;
}

/** Whether a queue holds dispatches not handed out yet. */
function hasReady(queue: WorkQueue): boolean {
  return queue.lanes.some((lane) => lane.head < lane.ready.length);
}

/** Batches of signals handed over without an event-loop turn in between, at most. */
export const FLUSHES_PER_TURN = 64;

/** What a delivery needs of its transport. */
interface Owner {
  pump(queue: WorkQueue): void;
  dropped(what: string, message: { runId: string; node: string; attempt: number }): void;
  resignal(message: SignalMessage): void;
}

/** A dispatch handed to a consumer: settled once (ack, requeue or reject), which frees its consumer's slot. */
class QueuedDelivery implements Delivery<DispatchMessage> {
  readonly redelivered = false;
  private settled = false;

  constructor(
    readonly body: DispatchMessage,
    private readonly queue: WorkQueue,
    private readonly consumer: Consumer,
    private readonly owner: Owner,
  ) {}

  ack(): void {
    this.settle(false);
  }

  requeue(): void {
    this.settle(true);
  }

  reject(): void {
    this.owner.dropped('dispatch', this.body);
    this.settle(false);
  }

  private settle(requeue: boolean): void {
    if (this.settled) return;
    this.settled = true;
    this.consumer.inflight--;
    if (requeue) laneOf(this.queue, this.body).ready.push(this.body);
    this.owner.pump(this.queue);
  }
}

/** A signal handed to the coordinator: nothing to acknowledge in process; given back, it is signalled again. */
class SignalDelivery implements Delivery<SignalMessage> {
  readonly redelivered = false;

  constructor(
    readonly body: SignalMessage,
    private readonly owner: Owner,
  ) {}

  ack(): void {
    // nothing holds it
  }

  requeue(): void {
    this.owner.resignal(this.body);
  }

  reject(): void {
    this.owner.dropped('signal', this.body);
  }
}

/** A dispatch with its own copies of the values task code receives (inputs; a rollback's result and error). */
function detachedDispatch(message: DispatchMessage): DispatchMessage {
  const copy = { ...message, inputs: clonePlain(message.inputs) };
  if (message.result !== undefined) copy.result = clonePlain(message.result);
  if (message.error !== undefined) copy.error = clonePlain(message.error);
  return copy;
}

/** A {@link Transport} within one process. */
export class InProcessTransport implements Transport {
  /** @inheritdoc */
  readonly kind = 'inprocess';
  /** @inheritdoc */
  readonly durable = false;
  private readonly queues = new Map<string, WorkQueue>();
  private signals: SignalMessage[] = [];
  private signalHandler: ((batch: Delivery<SignalMessage>[]) => void) | undefined;
  private flushScheduled = false;
  /** Batches handed over since the event loop last turned (see {@link FLUSHES_PER_TURN}). */
  private flushesThisTurn = 0;
  private readonly owner: Owner = {
    pump: (queue) => this.pump(queue),
    dropped: (what, message) => this.dropped(what, message),
    resignal: (message) => void this.signal([message]),
  };
  private readonly abortHandlers = new Set<(message: AbortMessage) => void>();
  /** Subscribers to one run (`run.<id>.…`, as `wait()` makes), by run id; the others apart. */
  private readonly byRun = new Map<string, Set<Subscriber>>();
  /** The other subscribers; replaced, never changed, so that announcing iterates it without an iterator object. */
  private subscribers: readonly Subscriber[] = [];
  /** The words of the routing key being matched, reused from entry to entry (see {@link keyWords}). */
  private readonly words: string[] = [];
  /** Whether {@link words} is in use (a handler that announces again gets words of its own). */
  private matching = false;
  private readonly typeWords = new Map<string, string[]>();
  private readonly logger: Logger;
  /** @inheritdoc */
  readonly maxMessageBytes: number;

  /**
   * `logger` reports handlers that throw (an abort or announcement handler's throw never reaches the publisher);
   * `maxMessageBytes` is the size producers check against, as distributed (see `src/transport/limits.ts`).
   */
  constructor(options: { logger?: Logger; maxMessageBytes?: number } = {}) {
    this.logger = options.logger ?? silentLogger;
    this.maxMessageBytes = resolveMaxMessageBytes(options.maxMessageBytes);
  }

  /** @inheritdoc */
  async dispatch(messages: DispatchMessage[]): Promise<void> {
    for (const message of messages) {
      const queue = this.queue(this.queues.has(ANY_QUEUE) ? ANY_QUEUE : message.queue);
      laneOf(queue, message).ready.push(detachedDispatch(message));
      this.pump(queue);
    }
  }

  /** @inheritdoc */
  async signal(messages: SignalMessage[]): Promise<void> {
    for (const message of messages) this.signals.push(detachedSignal(message));
    this.scheduleFlush();
  }

  /** @inheritdoc */
  async abort(messages: AbortMessage[]): Promise<void> {
    for (const message of messages) for (const handler of this.abortHandlers) this.call('abort', handler, message);
  }

  /** @inheritdoc */
  async announce(entries: HistoryEntry[]): Promise<void> {
    if (this.subscribers.length === 0 && this.byRun.size === 0) return;
    const reentered = this.matching;
    this.matching = true;
    try {
      for (const entry of entries) {
        const ofRun = this.byRun.get(entry.runId);
        if (this.subscribers.length === 0 && ofRun === undefined) continue;
        const key = this.keyWords(entry, reentered ? [] : this.words);
        const subscribers = this.subscribers;
        for (let i = 0; i < subscribers.length; i++) {
          const subscriber = subscribers[i] as Subscriber;
          if (subscriber.matches(key)) this.call('announcement', subscriber.handler, entry);
        }
        if (ofRun !== undefined) for (const subscriber of ofRun) if (subscriber.matches(key)) this.call('announcement', subscriber.handler, entry);
      }
    } finally {
      this.matching = reentered;
    }
  }

  /**
   * The words of an announcement's routing key (`announcementKey`), written
   * into `words`: without building and splitting the string, and without an
   * array per entry (announcing is on every step's path).
   */
  private keyWords(entry: HistoryEntry, words: string[]): string[] {
    let typeWords = this.typeWords.get(entry.type);
    if (typeWords === undefined) {
      typeWords = entry.type.split('.');
      this.typeWords.set(entry.type, typeWords);
    }
    words.length = 3 + typeWords.length;
    words[0] = 'run';
    words[1] = entry.runId;
    words[2] = entry.node ?? '$run';
    for (let i = 0; i < typeWords.length; i++) words[3 + i] = typeWords[i] as string;
    return words;
  }

  /** Calls a best-effort handler: a throw is logged, and the other handlers still run (as on AMQP). */
  private call<T>(what: string, handler: (arg: T) => void, arg: T): void {
    try {
      handler(arg);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.logger.error({ reason }, `in-process transport: an ${what} handler threw: ${reason}`);
    }
  }

  /** @inheritdoc */
  async consumeDispatches(name: string, options: ConsumeOptions, handler: (delivery: Delivery<DispatchMessage>) => void): Promise<Subscription> {
    const queue = this.queue(name);
    const consumer: Consumer = { prefetch: options.prefetch, inflight: 0, handler, active: true };
    queue.consumers.push(consumer);
    this.pump(queue);
    return {
      cancel: async () => {
        consumer.active = false;
        queue.consumers = queue.consumers.filter((c) => c !== consumer);
      },
    };
  }

  /**
   * @inheritdoc
   *
   * One shard: `options.shard` must be 0 or undefined (else ConfigError).
   */
  async consumeSignals(options: ConsumeOptions, handler: (batch: Delivery<SignalMessage>[]) => void): Promise<Subscription> {
    checkShard(options.shard, 1);
    this.signalHandler = handler;
    this.scheduleFlush();
    return {
      cancel: async () => {
        if (this.signalHandler === handler) this.signalHandler = undefined;
      },
    };
  }

  /** @inheritdoc */
  async consumeAborts(handler: (message: AbortMessage) => void): Promise<Subscription> {
    this.abortHandlers.add(handler);
    return { cancel: async () => void this.abortHandlers.delete(handler) };
  }

  /** @inheritdoc */
  async subscribe(pattern: string, handler: (entry: HistoryEntry) => void): Promise<Subscription> {
    const subscriber: Subscriber = { matches: topicMatcher(pattern), handler };
    const [first, runId] = pattern.split('.');
    if (first !== 'run' || runId === undefined || runId === '*' || runId === '#') {
      this.subscribers = [...this.subscribers, subscriber];
      return { cancel: async () => void (this.subscribers = this.subscribers.filter((s) => s !== subscriber)) };
    }
    const set = this.byRun.get(runId) ?? new Set<Subscriber>();
    this.byRun.set(runId, set.add(subscriber));
    return {
      cancel: async () => {
        set.delete(subscriber);
        if (set.size === 0) this.byRun.delete(runId);
      },
    };
  }

  /** @inheritdoc */
  async flush(): Promise<void> {
    while (this.flushScheduled) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** @inheritdoc */
  async close(): Promise<void> {
    this.queues.clear();
    this.signals = [];
    this.signalHandler = undefined;
    this.abortHandlers.clear();
    this.subscribers = [];
    this.byRun.clear();
  }

  /** A rejected message: there is no dead-letter queue in process, so it is logged and dropped. */
  private dropped(what: string, message: { runId: string; node: string; attempt: number }): void {
    this.logger.error({ runId: message.runId, node: message.node, attempt: message.attempt }, `in-process transport: a ${what} was rejected and dropped (no dead-letter queue in process)`);
  }

  private queue(name: string): WorkQueue {
    let queue = this.queues.get(name);
    if (queue === undefined) {
      queue = { lanes: [{ ready: [], head: 0 }, { ready: [], head: 0 }, { ready: [], head: 0 }], consumers: [], next: 0 };
      this.queues.set(name, queue);
    }
    return queue;
  }

  /** Hands ready messages to consumers with free prefetch slots, round robin, higher priorities first. */
  private pump(queue: WorkQueue): void {
    while (hasReady(queue)) {
      const consumer = this.freeConsumer(queue);
      if (consumer === undefined) break;
      const message = takeNext(queue) as DispatchMessage;
      consumer.inflight++;
      consumer.handler(new QueuedDelivery(message, queue, consumer, this.owner));
    }
  }

  private freeConsumer(queue: WorkQueue): Consumer | undefined {
    const count = queue.consumers.length;
    for (let i = 0; i < count; i++) {
      const consumer = queue.consumers[(queue.next + i) % count] as Consumer;
      if (consumer.active && consumer.inflight < consumer.prefetch) {
        queue.next = (queue.next + i + 1) % count;
        return consumer;
      }
    }
    return undefined;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.signalHandler === undefined || this.signals.length === 0) return;
    this.flushScheduled = true;
    if (this.flushesThisTurn++ === 0) setImmediate(() => (this.flushesThisTurn = 0));
    if (this.flushesThisTurn <= FLUSHES_PER_TURN) process.nextTick(() => this.flushSignals());
    else setImmediate(() => this.flushSignals());
  }

  private flushSignals(): void {
    this.flushScheduled = false;
    const handler = this.signalHandler;
    if (handler === undefined) return;
    const batch = this.signals;
    this.signals = [];
    handler(batch.map((body) => new SignalDelivery(body, this.owner)));
  }
}
