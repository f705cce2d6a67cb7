/**
 * Batch messages of the AMQP transport: several dispatches (of one work queue)
 * or signals (of one shard queue) in one persistent, confirmed message, whose
 * body is the JSON array of the items (a single item travels as itself, so a
 * body that is a JSON object is one message as before). A consumer hands each
 * item on as its own `Delivery`; the AMQP message is settled once every item
 * is (see {@link splitSettle}). See docs/amqp.md "Batches".
 *
 * @packageDocumentation
 */
import { Buffer } from 'node:buffer';
import type { Json } from '../../codec/json.js';
import { stringifyJson } from '../../codec/parse.js';
import { ConfigError } from '../../errors.js';
import type { Delivery } from '../port.js';
import type { Outcome, Settle } from './consume.js';
import { decodeItems, type DecodeContext, type Item } from './decode.js';

/** Options of batching (`AmqpOptions.batch`). */
export interface BatchOptions {
  /**
   * Most signals in one message: `signal()` calls are gathered until this many
   * signals wait or {@link BatchOptions.signalDelayMs} has passed, whichever first. 1 turns batching of signals off.
   * @default DEFAULT_SIGNAL_BATCH
   */
  signals?: number;
  /**
   * Longest a signal waits for others before its message is published, in ms,
   * while a publish of the transport awaits its confirm; otherwise (and with 0)
   * until the next turn of the event loop.
   * @default DEFAULT_SIGNAL_DELAY_MS
   */
  signalDelayMs?: number;
  /**
   * Most dispatches of one `dispatch()` call for one work queue in one message.
   * A worker holds up to its prefetch in messages, hence up to prefetch × this
   * many dispatches, and executes at most its concurrency at once: keep it small
   * for long tasks (1 turns batching of dispatches off).
   * @default DEFAULT_DISPATCH_BATCH
   */
  dispatches?: number;
}

/** See {@link BatchOptions.signals}. */
export const DEFAULT_SIGNAL_BATCH = 64;
/** See {@link BatchOptions.signalDelayMs}. */
export const DEFAULT_SIGNAL_DELAY_MS = 1;
/** See {@link BatchOptions.dispatches}. */
export const DEFAULT_DISPATCH_BATCH = 8;

/** The batch options with defaults, checked; throws ConfigError naming a bad one. */
export function resolveBatchOptions(options: BatchOptions = {}): Required<BatchOptions> {
  const count = (value: number | undefined, fallback: number, what: string, min: number): number => {
    const resolved = value ?? fallback;
    if (!Number.isInteger(resolved) || resolved < min || resolved > 65_535) throw new ConfigError(`invalid AMQP option batch.${what} ${String(value)}: expected an integer from ${min} to 65535`);
    return resolved;
  };
  return {
    signals: count(options.signals, DEFAULT_SIGNAL_BATCH, 'signals', 1),
    signalDelayMs: count(options.signalDelayMs, DEFAULT_SIGNAL_DELAY_MS, 'signalDelayMs', 0),
    dispatches: count(options.dispatches, DEFAULT_DISPATCH_BATCH, 'dispatches', 1),
  };
}

/**
 * The bodies carrying `items` (in order): at most `maxItems` items and
 * `maxBytes` bytes each, one item as itself, several as a JSON array. Throws
 * EncodeError for an item that alone exceeds `maxBytes`.
 */
export function pack(items: readonly unknown[], maxItems: number, maxBytes: number): string[] {
  const bodies: string[] = [];
  let group: string[] = [];
  let bytes = 2; // the brackets
  const close = (): void => {
    if (group.length > 0) bodies.push(group.length === 1 ? (group[0] as string) : `[${group.join(',')}]`);
    group = [];
    bytes = 2;
  };
  for (const item of items) {
    const text = stringifyJson(item as Json, { maxBytes });
    const size = Buffer.byteLength(text, 'utf8');
    if (group.length >= maxItems || (group.length > 0 && bytes + size + 1 > maxBytes)) close();
    group.push(text);
    bytes += size + 1;
  }
  close();
  return bodies;
}

/**
 * What to do with the items of a message that were not all acknowledged:
 * `requeued` go back to the queue, `rejected` to the dead letters, each alone;
 * resolves once the broker holds them (then the message is acknowledged).
 */
export type PartialSettle = (requeued: number[], rejected: number[]) => Promise<void>;

/**
 * The settle functions of the `count` items of one message, and `settle` of
 * the message called once all are settled: acknowledged if every item was,
 * requeued (or dead-lettered) whole if every item was; otherwise `partial`
 * republishes the requeued and rejected items, and the message is acknowledged
 * once they are held (requeued whole if that fails: the items already handled
 * are duplicates then, which coordinators and workers recognise).
 */
export function splitSettle(count: number, settle: Settle, partial: PartialSettle): Settle[] {
  const outcomes: (Outcome | undefined)[] = new Array<Outcome | undefined>(count);
  let left = count;
  const done = (): void => {
    const requeued: number[] = [];
    const rejected: number[] = [];
    outcomes.forEach((outcome, i) => (outcome === 'requeue' ? requeued.push(i) : outcome === 'reject' ? rejected.push(i) : undefined));
    if (requeued.length === count) return settle('requeue');
    if (rejected.length === count) return settle('reject');
    if (requeued.length === 0 && rejected.length === 0) return settle('ack');
    partial(requeued, rejected).then(
      () => settle('ack'),
      () => settle('requeue'),
    );
  };
  return Array.from({ length: count }, (_, i) => (outcome: Outcome) => {
    if (outcomes[i] !== undefined) return;
    outcomes[i] = outcome;
    if (--left === 0) done();
  });
}

/**
 * Hands deliveries to a handler with at most `limit` of them unsettled at once
 * (a worker's concurrency: a batch message brings several dispatches but
 * counts once against the prefetch); the others wait in order.
 */
export class Gate<T> {
  private active = 0;
  private waiting: Delivery<T>[] = [];
  private next = 0;

  constructor(
    private readonly limit: number,
    private readonly handler: (delivery: Delivery<T>) => void,
  ) {}

  /** Hands `delivery` on now, or once a slot is free. */
  admit(delivery: Delivery<T>): void {
    if (this.active >= this.limit) {
      this.waiting.push(delivery);
      return;
    }
    this.active++;
    let held = true;
    const release = (): void => {
      if (!held) return;
      held = false;
      this.active--;
      this.admitWaiting();
    };
    this.handler({
      body: delivery.body,
      redelivered: delivery.redelivered,
      ack: () => (delivery.ack(), release()),
      requeue: () => (delivery.requeue(), release()),
      reject: () => (delivery.reject(), release()),
    });
  }

  private admitWaiting(): void {
    if (this.next >= this.waiting.length) return;
    const delivery = this.waiting[this.next++] as Delivery<T>;
    if (this.next === this.waiting.length) {
      this.waiting = [];
      this.next = 0;
    }
    this.admit(delivery);
  }

  /** Gives back every delivery still waiting (the consumer is cancelled). */
  cancel(): void {
    const waiting = this.waiting.slice(this.next);
    this.waiting = [];
    this.next = 0;
    for (const delivery of waiting) delivery.requeue();
  }
}

/**
 * Hands each item of a message on as its own {@link Delivery} (see
 * {@link splitSettle}); a malformed item is rejected at once, so it is
 * dead-lettered alone. `partial` gets the bodies to requeue and to dead-letter.
 */
function deliverItems<T>(
  items: Item<T>[],
  redelivered: boolean,
  settle: Settle,
  partial: (requeued: unknown[], rejected: unknown[]) => Promise<void>,
  each: (delivery: Delivery<T>) => void,
): void {
  const bodyOf = (i: number): unknown => {
    const item = items[i] as Item<T>;
    return item.bad === undefined ? item.body : item.bad;
  };
  const settles = items.length === 1 ? [settle] : splitSettle(items.length, settle, (requeued, rejected) => partial(requeued.map(bodyOf), rejected.map(bodyOf)));
  items.forEach((item, i) => {
    const once = settles[i] as Settle;
    if (item.bad !== undefined) once('reject');
    else each({ body: item.body, redelivered, ack: () => once('ack'), requeue: () => once('requeue'), reject: () => once('reject') });
  });
}

/**
 * A consumer's message handler for batch-capable bodies: decodes the items
 * (a body that is not even a message or a list of them is rejected whole) and
 * hands each on to `sink` as its own delivery (see {@link deliverItems}).
 */
export function itemsHandler<T>(
  decode: DecodeContext<T>,
  partial: (requeued: unknown[], rejected: unknown[]) => Promise<void>,
  sink: (delivery: Delivery<T>) => void,
): (message: Parameters<typeof decodeItems>[0] & { redelivered: boolean }, settle: Settle) => void {
  return (message, settle) => {
    const items = decodeItems(message, decode);
    if (items === undefined) settle('reject');
    else deliverItems(items, message.redelivered, settle, partial, sink);
  };
}
