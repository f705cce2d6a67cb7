/**
 * The consuming half of the AMQP transport (bodies are decoded by decode.ts): a
 * consumer that re-declares its topology and resumes after every reconnect,
 * explicit settlement of deliveries, and batching of signals.
 *
 * rabbitmq-client's own `Consumer` is not used because its `close()` waits for
 * every handler promise, so a cancelled consumer could not keep acking the
 * messages it holds (a worker finishing its running tasks during shutdown).
 *
 * @packageDocumentation
 */
import { TransportError } from '../../errors.js';
import { AMQPConnectionError, type AsyncMessage, type Channel, type Connection } from 'rabbitmq-client';
import type { Logger } from '../../observability/logger.js';
import type { Delivery } from '../port.js';
import type { PausableConsumer } from '../quarantine.js';
import { describeError } from './redact.js';
import type { ExchangeDeclaration, QueueBinding, QueueDeclaration } from './topology.js';

/** How a message is settled: `reject` dead-letters it (nack without requeue). */
export type Outcome = 'ack' | 'requeue' | 'reject';

/** Settles one message, once; later calls do nothing. */
export type Settle = (outcome: Outcome) => void;

/** A {@link Delivery} whose ack()/requeue()/reject() go through `settle`. */
export function toDelivery<T>(body: T, message: AsyncMessage, settle: Settle): Delivery<T> {
  return { body, redelivered: message.redelivered, ack: () => settle('ack'), requeue: () => settle('requeue'), reject: () => settle('reject') };
}

/** Calls `handler`; a throw is logged and the deliveries it left unsettled are requeued. */
export function callHandler<A>(logger: Logger, queue: string, handler: (arg: A) => void, arg: A, deliveries: Delivery<unknown>[]): void {
  try {
    handler(arg);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    logger.error({ queue, reason }, `AMQP: the handler of queue "${queue}" threw; its messages go back to the queue: ${reason}`);
    for (const delivery of deliveries) delivery.requeue();
  }
}

/** What a {@link ManagedConsumer} declares and consumes. */
export interface ConsumerSpec {
  /** The queue, declared before consuming. */
  queue: QueueDeclaration;
  /** Exchanges declared first. */
  exchanges: ExchangeDeclaration[];
  /** Bindings declared after the queue. */
  bindings: QueueBinding[];
  /** Unacknowledged messages in flight (AMQP prefetch); ignored with `noAck`. */
  prefetch?: number;
  /** Messages are settled by the broker on delivery (best-effort queues). */
  noAck: boolean;
  /** Receives each message; with manual acks, `settle` must be called once. */
  onMessage: (message: AsyncMessage, settle: Settle) => void;
}

/** The connection, logger and URL (to scrub errors) of a {@link ManagedConsumer}. */
export interface ConsumerContext {
  /** The connection to consume on. */
  connection: Connection;
  /** Where consumer problems are logged. */
  logger: Logger;
  /** Broker URL, only to scrub credentials out of error messages. */
  url: string;
  /** Called once the consumer is cancelled and its channel closed. */
  onFinished?: () => void;
}

const noop = (): void => undefined;

/** Setups a consumer's start tries when the connection drops during them. */
const START_ATTEMPTS = 5;

/**
 * A consumer on its own channel. Declares its topology, sets the prefetch and
 * consumes; when the channel or connection drops it does it all again (with
 * backoff). `cancel()` stops deliveries while the messages in hand stay
 * settleable; the channel closes once they are settled, or on `close()`, and
 * the broker then gives back whatever is still unsettled.
 */
export class ManagedConsumer implements PausableConsumer {
  private channel: Channel | undefined;
  private consumerTag = '';
  private unsettled = 0;
  private cancelled = false;
  private paused = false;
  /** Resolved when no message is unsettled (see {@link ManagedConsumer.pause}). */
  private drained: (() => void)[] = [];
  private resuming: Promise<void> | undefined;
  private retries = 0;
  private timer: NodeJS.Timeout | undefined;
  private cancelling: Promise<void> | undefined;

  constructor(
    private readonly context: ConsumerContext,
    private readonly spec: ConsumerSpec,
  ) {}

  /** The queue consumed. */
  get queue(): string {
    return this.spec.queue.queue;
  }

  /**
   * Declares and starts consuming; rejects (with a scrubbed message) when the
   * first setup fails. A connection lost during the setup is transient (the
   * broker restarting; RabbitMQ 3.10 also closes the connection with
   * INTERNAL_ERROR when a client consumes from a quorum queue another client
   * is still declaring), so it is tried again, as after any drop, up to
   * {@link START_ATTEMPTS} times; a channel error (a queue declared with other
   * arguments, access refused) is not.
   */
  async start(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.setup();
        return;
      } catch (error) {
        const reason = describeError(error, this.context.url);
        if (!(error instanceof AMQPConnectionError) || attempt >= START_ATTEMPTS || this.cancelled) {
          throw new TransportError(`cannot consume from AMQP queue "${this.queue}": ${reason}`, { cause: error });
        }
        this.context.logger.warn({ queue: this.queue, reason, attempt }, `AMQP: the connection dropped while setting up the consumer of queue "${this.queue}"; retrying`);
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
      }
    }
  }

  private async setup(): Promise<void> {
    const { spec } = this;
    const ch = await this.context.connection.acquire();
    let consumerTag: string;
    try {
      for (const exchange of spec.exchanges) await ch.exchangeDeclare(exchange);
      await ch.queueDeclare(spec.queue);
      for (const binding of spec.bindings) await ch.queueBind(binding);
      if (!spec.noAck && spec.prefetch !== undefined) await ch.basicQos({ prefetchCount: spec.prefetch });
      consumerTag = this.paused ? '' : await this.basicConsume(ch);
    } catch (error) {
      ch.close().catch(noop);
      throw error;
    }
    ch.once('close', () => this.onChannelClosed(ch));
    ch.once('basic.cancel', () => {
      // The broker cancelled us (the queue was deleted): start over, which re-declares it.
      this.context.logger.warn({ queue: this.queue }, `AMQP: the broker cancelled the consumer of queue "${this.queue}"; re-declaring it`);
      ch.close().catch(noop);
    });
    this.channel = ch;
    this.consumerTag = consumerTag;
    this.unsettled = 0;
    this.retries = 0;
    this.notifyDrained();
    if (this.cancelled) await this.cancelNow();
  }

  private async basicConsume(ch: Channel): Promise<string> {
    const { consumerTag } = await ch.basicConsume({ queue: this.spec.queue.queue, noAck: this.spec.noAck }, (message) => this.deliver(ch, message));
    return consumerTag;
  }

  private notifyDrained(): void {
    if (this.unsettled !== 0 && this.channel !== undefined) return;
    for (const resolve of this.drained.splice(0)) resolve();
  }

  /**
   * Stops deliveries for a while (`basic.cancel`), keeping the channel: the
   * messages in hand stay settleable. Resolves once none is left unsettled.
   * Messages the broker sent before the cancel arrive and are handled as usual.
   */
  async pause(): Promise<void> {
    this.paused = true;
    await this.resuming;
    const ch = this.channel;
    if (ch !== undefined && ch.active && this.consumerTag !== '') {
      const consumerTag = this.consumerTag;
      this.consumerTag = '';
      await ch.basicCancel({ consumerTag }).catch(noop);
    }
    if (this.unsettled === 0 || this.channel === undefined) return;
    await new Promise<void>((resolve) => this.drained.push(resolve));
  }

  /** Takes deliveries again after {@link ManagedConsumer.pause} (a no-op once cancelled). */
  resume(): void {
    this.paused = false;
    const ch = this.channel;
    if (this.cancelled || ch === undefined || !ch.active || this.consumerTag !== '' || this.resuming !== undefined) return;
    this.resuming = this.basicConsume(ch)
      .then(
        async (consumerTag) => {
          if (this.cancelled || this.paused || ch !== this.channel) await ch.basicCancel({ consumerTag }).catch(noop);
          else this.consumerTag = consumerTag;
        },
        // The channel is closing: setup() consumes again on the next one.
        (error: unknown) => this.context.logger.warn({ queue: this.queue, reason: describeError(error, this.context.url) }, `AMQP: cannot resume consuming from queue "${this.queue}"`),
      )
      .finally(() => (this.resuming = undefined));
  }

  private deliver(ch: Channel, message: AsyncMessage): void {
    if (this.spec.noAck) {
      if (!this.cancelled) this.spec.onMessage(message, noop);
      return;
    }
    if (this.cancelled) {
      // basic.cancel went out before this nack, so the broker will not hand it back to us.
      if (ch.active) ch.basicNack({ deliveryTag: message.deliveryTag, requeue: true });
      return;
    }
    let settled = false;
    this.unsettled++;
    this.spec.onMessage(message, (outcome) => {
      if (settled) return;
      settled = true;
      if (!ch.active) return; // the broker already took it back when the channel closed
      try {
        if (outcome === 'ack') ch.basicAck({ deliveryTag: message.deliveryTag });
        else ch.basicNack({ deliveryTag: message.deliveryTag, requeue: outcome === 'requeue' });
      } catch (error) {
        this.context.logger.warn({ queue: this.queue, reason: describeError(error, this.context.url) }, `AMQP: cannot ${outcome} a message of queue "${this.queue}"`);
      }
      if (ch !== this.channel) return;
      this.unsettled--;
      if (this.cancelled && this.unsettled === 0) ch.close().catch(noop);
      this.notifyDrained();
    });
  }

  private onChannelClosed(ch: Channel): void {
    if (ch !== this.channel) return;
    this.channel = undefined;
    this.consumerTag = '';
    this.notifyDrained(); // the broker took back whatever was unsettled
    if (this.cancelled) this.context.onFinished?.();
    else this.scheduleSetup();
  }

  private scheduleSetup(): void {
    const delay = Math.min(10_000, 100 * 2 ** this.retries++) * (0.5 + Math.random() / 2);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.cancelled) return;
      this.setup().then(
        () => this.context.logger.info({ queue: this.queue }, `AMQP: consuming from queue "${this.queue}" again`),
        (error: unknown) => {
          this.context.logger.warn({ queue: this.queue, reason: describeError(error, this.context.url) }, `AMQP: cannot resume consuming from queue "${this.queue}"; retrying`);
          if (!this.cancelled) this.scheduleSetup();
        },
      );
    }, delay);
  }

  private async cancelNow(): Promise<void> {
    const ch = this.channel;
    if (ch === undefined || !ch.active) return this.context.onFinished?.();
    if (this.consumerTag !== '') {
      const consumerTag = this.consumerTag;
      this.consumerTag = '';
      await ch.basicCancel({ consumerTag }).catch(noop);
    }
    if (this.spec.noAck || this.unsettled === 0) await ch.close().catch(noop);
  }

  /** Stops deliveries; messages in hand can still be settled. Idempotent. */
  cancel(): Promise<void> {
    this.cancelled = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    return (this.cancelling ??= this.cancelNow());
  }

  /** Cancels and closes the channel: the broker takes back every unsettled message. */
  async close(): Promise<void> {
    await this.cancel();
    await this.channel?.close().catch(noop);
  }
}

/**
 * Groups deliveries into batches: whatever arrives before the next turn of the
 * event loop, at most `max` at a time.
 */
export class Batcher<T, D extends Delivery<T> = Delivery<T>> {
  private batch: D[] = [];
  private scheduled = false;

  constructor(
    private readonly max: number,
    private readonly flush: (batch: D[]) => void,
  ) {}

  /** Adds a delivery; flushes at once when the batch is full. */
  add(delivery: D): void {
    this.batch.push(delivery);
    if (this.batch.length >= this.max) this.emit();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.emit();
      });
    }
  }

  private emit(): void {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    this.flush(batch);
  }
}
