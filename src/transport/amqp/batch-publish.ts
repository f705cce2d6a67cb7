/**
 * The publishing side of batch messages (see batch.ts): dispatches grouped by
 * work queue, signals gathered and grouped by shard queue, and what is left of
 * a batch message whose items were not all acknowledged.
 *
 * @packageDocumentation
 */
import type { Envelope } from 'rabbitmq-client';
import type { Json } from '../../codec/json.js';
import { stringifyJson } from '../../codec/parse.js';
import type { DispatchMessage, SignalMessage } from '../port.js';
import { signalShard } from '../shards.js';
import { pack, type BatchOptions } from './batch.js';
import { Coalescer } from './coalesce.js';
import type { Publishers } from './publish.js';
import type { Topology } from './topology.js';

/** `items` grouped by `key`, in order. */
function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const name = key(item);
    const group = groups.get(name);
    if (group === undefined) groups.set(name, [item]);
    else group.push(item);
  }
  return groups;
}

/** Publishes dispatches and signals in batch messages, persistent and confirmed. */
export class BatchPublisher {
  /** Gathers the signals of `signal()` calls (see {@link BatchOptions.signals}). */
  readonly signals: Coalescer<SignalMessage>;

  constructor(
    private readonly publishers: Publishers,
    private readonly topology: Topology,
    private readonly maxBytes: number,
    private readonly options: Required<BatchOptions>,
  ) {
    this.signals = new Coalescer(options.signals, options.signalDelayMs, (signals) => this.publishSignals(signals));
  }

  /** The dispatches grouped by work queue (`queue`), as the transport declares them first. */
  byQueue(messages: readonly DispatchMessage[]): Map<string, DispatchMessage[]> {
    return groupBy(messages, (message) => message.queue);
  }

  /**
   * Publishes each queue's dispatches in messages of up to `dispatches`; one
   * alone keeps its trace context in a header too. Resolves once all are confirmed.
   */
  dispatch(byQueue: Map<string, DispatchMessage[]>): Promise<void> {
    const outgoing: [Envelope, string][] = [];
    for (const [queue, group] of byQueue) {
      const envelope = { exchange: this.topology.exchanges.work, routingKey: queue };
      if (group.length === 1 || this.options.dispatches === 1) {
        for (const body of group) {
          const text = stringifyJson(body as unknown as Json, { maxBytes: this.maxBytes });
          outgoing.push([body.traceparent === undefined ? envelope : { ...envelope, headers: { traceparent: body.traceparent } }, text]);
        }
      } else {
        for (const text of pack(group, this.options.dispatches, this.maxBytes)) outgoing.push([envelope, text]);
      }
    }
    return this.publishers.publishConfirmedText(outgoing);
  }

  /** Publishes gathered signals in messages of up to `signals`, per shard queue. */
  private publishSignals(signals: SignalMessage[]): Promise<void> {
    const { shards } = this.topology;
    const byQueue = groupBy(signals, (signal) => this.topology.signalQueueName(signalShard(signal.runId, shards)));
    const outgoing: [Envelope, string][] = [];
    for (const [queue, group] of byQueue) for (const text of pack(group, this.options.signals, this.maxBytes)) outgoing.push([{ exchange: '', routingKey: queue }, text]);
    return this.publishers.publishConfirmedText(outgoing);
  }

  /**
   * What is left of a batch message of `queue` some of whose items were not
   * acknowledged: the requeued items go back to `queue` in one message, each
   * rejected one to the dead-letter exchange alone (as the broker would
   * dead-letter it: `x-first-death-queue`, `x-first-death-reason: rejected`);
   * resolves once the broker holds them all.
   */
  rest(queue: string): (requeued: unknown[], rejected: unknown[]) => Promise<void> {
    const headers = { 'x-first-death-queue': queue, 'x-first-death-reason': 'rejected', 'x-first-death-exchange': '' };
    const dead = { exchange: this.topology.exchanges.deadLetter, routingKey: queue, headers };
    return async (requeued, rejected) => {
      await Promise.all([
        this.publishers.publishConfirmedText(pack(requeued, requeued.length, this.maxBytes).map((text) => [{ exchange: '', routingKey: queue }, text])),
        this.publishers.publishConfirmed(rejected.map((body) => [dead, body])),
      ]);
    };
  }
}
