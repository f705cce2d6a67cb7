/**
 * What a worker remembers of the dispatches it finished, to recognise a
 * duplicate delivery (at-least-once): a bounded LRU of outcome signals keyed by
 * {@link dispatchKey}.
 *
 * @packageDocumentation
 */
import type { DispatchMessage, SignalMessage } from '../transport/port.js';

/** See `WorkerOptions.recentDispatches`. */
export const DEFAULT_RECENT_DISPATCHES = 10_000;

/** The identity of a dispatch: two deliveries with the same key are the same execution. */
export function dispatchKey(message: DispatchMessage): string {
  return `${message.kind}\u0000${message.attempt}\u0000${message.activation ?? ''}\u0000${message.node}\u0000${message.runId}`;
}

/**
 * The outcome signals of the last `capacity` finished dispatches, least recently
 * used dropped first. O(1) per operation (amortised): a `Map` keeps its keys in
 * insertion order, and a refreshed key is deleted and set again, so the oldest
 * key is the first one. Finding it with `keys().next()` on each eviction would
 * scan from the table's start over the holes that earlier deletions left (V8
 * compacts them only on rehash): thousands per call at the default capacity,
 * 7 % of the CPU of the embedded W3 benchmark. One iterator is kept instead: it
 * visits keys in order, skips deleted ones and sees keys set after it was made,
 * so its next key is always the oldest one left.
 */
export class RecentDispatches {
  private readonly signals = new Map<string, SignalMessage>();
  private oldest: Iterator<string> = this.signals.keys();

  /** `capacity` 0 remembers nothing. */
  constructor(private readonly capacity: number) {}

  /** The signal kept for `key`, if that dispatch finished recently (it becomes the most recently used). */
  get(key: string): SignalMessage | undefined {
    const signal = this.signals.get(key);
    if (signal !== undefined) {
      this.signals.delete(key);
      this.signals.set(key, signal);
    }
    return signal;
  }

  /** Remembers the outcome of a finished dispatch, forgetting the least recently used one past the capacity. */
  remember(key: string, signal: SignalMessage): void {
    if (this.capacity <= 0) return;
    this.signals.delete(key);
    this.signals.set(key, signal);
    if (this.signals.size > this.capacity) this.signals.delete(this.nextOldest());
  }

  /** The least recently used key (the map is not empty). An iterator that has finished stays finished: a new one starts over. */
  private nextOldest(): string {
    let next = this.oldest.next();
    if (next.done === true) {
      this.oldest = this.signals.keys();
      next = this.oldest.next();
    }
    return next.value as string;
  }
}
