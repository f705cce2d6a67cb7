/**
 * The consumers of a coordinator, per shard it steps: the shard's signals and,
 * with a transport that carries them, its clients' requests. A subscription
 * granted once it is no longer wanted (the coordinator closed, or the shard
 * given up while the transport answered) is cancelled at once: a closed
 * coordinator hands every message straight back, so a forgotten consumer
 * would bounce them for ever (issue 8; `test/coordinator/signal-subscription.test.ts`).
 *
 * @packageDocumentation
 */
import type { Delivery, RequestDelivery, SignalMessage, Subscription, Transport } from '../transport/port.js';

/** A shard's consumers: the generation of its latest listen or stop, and the subscriptions it was granted. */
interface Listener {
  generation: number;
  subscriptions: Subscription[];
}

/** Starts and stops the consumers of the signal (and request) queues of the shards a coordinator steps. */
export class SignalListeners {
  private readonly byShard = new Map<number, Listener>();
  private closed = false;

  constructor(
    private readonly transport: Transport,
    private readonly prefetch: number,
    private readonly onSignals: (batch: Delivery<SignalMessage>[]) => void,
    private readonly onRequests: (batch: RequestDelivery[]) => void,
  ) {}

  /** Takes the signals and requests of `shard` (until {@link SignalListeners.stop}). */
  async listen(shard: number): Promise<void> {
    const listener = this.listener(shard);
    const generation = ++listener.generation;
    const options = { prefetch: this.prefetch, shard };
    const granted = await Promise.allSettled([
      this.transport.consumeSignals(options, this.onSignals),
      ...(this.transport.consumeRequests === undefined ? [] : [this.transport.consumeRequests(options, this.onRequests)]),
    ]);
    const subscriptions = granted.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const failed = granted.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed !== undefined || this.closed || generation !== listener.generation) {
      await Promise.all(subscriptions.map((subscription) => subscription.cancel()));
      if (failed !== undefined) throw failed.reason;
    } else listener.subscriptions = subscriptions;
  }

  /** Stops taking the signals and requests of `shard`, including subscriptions still being granted. Idempotent. */
  async stop(shard: number): Promise<void> {
    const listener = this.listener(shard);
    listener.generation++;
    const subscriptions = listener.subscriptions;
    listener.subscriptions = [];
    await Promise.all(subscriptions.map((subscription) => subscription.cancel()));
  }

  /** Stops every consumer; any granted later is cancelled at once. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.byShard.keys()].map((shard) => this.stop(shard)));
  }

  private listener(shard: number): Listener {
    let listener = this.byShard.get(shard);
    if (listener === undefined) {
      listener = { generation: 0, subscriptions: [] };
      this.byShard.set(shard, listener);
    }
    return listener;
  }
}
