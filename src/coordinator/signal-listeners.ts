/**
 * The signal consumers of a coordinator, one per shard it steps. A
 * subscription granted once it is no longer wanted (the coordinator closed, or
 * the shard given up while the transport answered) is cancelled at once: a
 * closed coordinator hands every signal straight back, so a forgotten consumer
 * would bounce them for ever (issue 8; `test/coordinator/signal-subscription.test.ts`).
 *
 * @packageDocumentation
 */
import type { Delivery, SignalMessage, Subscription, Transport } from '../transport/port.js';

/** A shard's consumer: the generation of its latest listen or stop, and the subscription it was granted. */
interface Listener {
  generation: number;
  subscription?: Subscription;
}

/** Starts and stops the consumers of the signal queues of the shards a coordinator steps. */
export class SignalListeners {
  private readonly byShard = new Map<number, Listener>();
  private closed = false;

  constructor(
    private readonly transport: Transport,
    private readonly prefetch: number,
    private readonly onSignals: (batch: Delivery<SignalMessage>[]) => void,
  ) {}

  /** Takes the signals of `shard` (until {@link SignalListeners.stop}). */
  async listen(shard: number): Promise<void> {
    const listener = this.listener(shard);
    const generation = ++listener.generation;
    const subscription = await this.transport.consumeSignals({ prefetch: this.prefetch, shard }, this.onSignals);
    if (this.closed || generation !== listener.generation) await subscription.cancel();
    else listener.subscription = subscription;
  }

  /** Stops taking the signals of `shard`, including a subscription still being granted. Idempotent. */
  async stop(shard: number): Promise<void> {
    const listener = this.listener(shard);
    listener.generation++;
    const subscription = listener.subscription;
    delete listener.subscription;
    await subscription?.cancel();
  }

  /** Stops every consumer; any granted later is cancelled at once. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.byShard.keys()].map((shard) => this.stop(shard)));
  }

  private listener(shard: number): Listener {
    let listener = this.byShard.get(shard);
    if (listener === undefined) {
      listener = { generation: 0 };
      this.byShard.set(shard, listener);
    }
    return listener;
  }
}
