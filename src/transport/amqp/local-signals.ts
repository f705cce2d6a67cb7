/**
 * Local signals: a worker's signal of a run whose shard this very transport
 * consumes (the worker and the shard's coordinator share the process) is
 * handed to that consumer in memory instead of going through the broker. The
 * worker's `signal()` resolves once the coordinator acknowledges it, that is
 * once its step is committed to the store (or found to change nothing): only
 * then does the worker acknowledge its dispatch, as it does once a published
 * signal is confirmed. Nothing is held in memory alone: until that commit the
 * dispatch is unacknowledged, so a crash redelivers it.
 *
 * What the coordinator does not acknowledge goes through the broker as a
 * published signal would: given back (a shard given up, a refused commit, the
 * coordinator closing), it is published, confirmed, to its shard's queue;
 * dead-lettered, it is published to the dead-letter exchange as the broker
 * would have put it there. `signal()` then resolves once the broker holds it.
 * A lone hop of a chain saves the signal's publish, its confirm (a quorum-queue
 * write) and its delivery; under load, its encoding and decoding.
 *
 * @packageDocumentation
 */
import { detachedSignal } from '../detached.js';
import type { Delivery, SignalMessage } from '../port.js';

/** Where the signals that are not handed over locally go. */
export interface SignalRoutes {
  /** The shard of a run's signals. */
  shardOf(runId: string): number;
  /** Publishes signals to their shards' queues, confirmed. */
  publish(signals: SignalMessage[]): Promise<void>;
  /** Publishes a signal of `shard` to the dead-letter exchange as the broker dead-letters a rejected one. */
  deadLetter(shard: number, signal: SignalMessage): Promise<void>;
}

/** A signal handed to a local consumer: its settlement settles the worker's `signal()` (see the module doc). */
class LocalSignal implements Delivery<SignalMessage> {
  readonly redelivered = false;
  private settled = false;

  constructor(
    readonly body: SignalMessage,
    private readonly shard: number,
    private readonly routes: SignalRoutes,
    private readonly resolve: () => void,
    private readonly fail: (error: unknown) => void,
  ) {}

  ack(): void {
    if (this.settle()) this.resolve();
  }

  requeue(): void {
    if (this.settle()) this.routes.publish([this.body]).then(this.resolve, this.fail);
  }

  reject(): void {
    if (this.settle()) this.routes.deadLetter(this.shard, this.body).then(this.resolve, this.fail);
  }

  /** True the first time: a delivery is settled once. */
  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    return true;
  }
}

/** The local consumers of signals, by shard, and the sending of signals to them or through the broker. */
export class LocalSignals {
  private readonly sinks = new Map<number, (delivery: Delivery<SignalMessage>) => void>();

  constructor(private readonly routes: SignalRoutes) {}

  /** Hands the signals of `shard` to `sink` from now on; returns what stops that (idempotent). */
  attach(shard: number, sink: (delivery: Delivery<SignalMessage>) => void): () => void {
    this.sinks.set(shard, sink);
    return () => {
      if (this.sinks.get(shard) === sink) this.sinks.delete(shard);
    };
  }

  /**
   * Sends `messages`: each to the local consumer of its shard, if there is one,
   * the others published. Resolves once every one is acknowledged locally or
   * held by the broker; rejects if one could be neither.
   */
  send(messages: SignalMessage[]): Promise<void> {
    if (this.sinks.size === 0) return this.routes.publish(messages);
    const published: SignalMessage[] = [];
    const handed: Promise<void>[] = [];
    for (const message of messages) {
      const shard = this.routes.shardOf(message.runId);
      const sink = this.sinks.get(shard);
      if (sink === undefined) published.push(message);
      else handed.push(new Promise((resolve, reject) => sink(new LocalSignal(detachedSignal(message), shard, this.routes, resolve, reject))));
    }
    if (published.length > 0) handed.push(this.routes.publish(published));
    return handed.length === 1 ? (handed[0] as Promise<void>) : Promise.all(handed).then(() => undefined);
  }
}
