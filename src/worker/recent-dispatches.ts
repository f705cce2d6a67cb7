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

/** The outcome signals of the last `capacity` finished dispatches, least recently used dropped first. O(1) per operation. */
export class RecentDispatches {
  private readonly signals = new Map<string, SignalMessage>();

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
    if (this.signals.size > this.capacity) this.signals.delete(this.signals.keys().next().value as string);
  }
}
