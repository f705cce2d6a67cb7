/**
 * The listening event nodes of the notifications a client makes in one turn
 * of the event loop, read in one store query: 10,000 `notify` calls fired at
 * once cost one `Store.listeners` call, not 10,000 queries and run loads.
 *
 * @packageDocumentation
 */
import type { EventListener, Store } from '../store/port.js';

/** Most event names in one store query (a turn with more asks again per this many). */
const MAX_EVENTS_PER_QUERY = 500;

interface Waiter {
  resolve: (listeners: EventListener[]) => void;
  reject: (error: unknown) => void;
}

/** Gathers the events asked for in one turn and asks the store once for all of them. */
export class ListenerLookup {
  private asked = new Map<string, Waiter[]>();

  constructor(private readonly store: Pick<Store, 'listeners'>) {}

  /** The listening event nodes named `event` of live runs, oldest run first (read with the other events asked in this turn). */
  of(event: string): Promise<EventListener[]> {
    return new Promise((resolve, reject) => {
      if (this.asked.size === 0) setImmediate(() => this.flush());
      const waiters = this.asked.get(event);
      if (waiters === undefined) this.asked.set(event, [{ resolve, reject }]);
      else waiters.push({ resolve, reject });
    });
  }

  private flush(): void {
    const asked = [...this.asked];
    this.asked = new Map();
    for (let at = 0; at < asked.length; at += MAX_EVENTS_PER_QUERY) void this.answer(asked.slice(at, at + MAX_EVENTS_PER_QUERY));
  }

  private async answer(asked: [string, Waiter[]][]): Promise<void> {
    let found: EventListener[];
    try {
      found = await this.store.listeners(asked.map(([event]) => event));
    } catch (error) {
      for (const [, waiters] of asked) for (const waiter of waiters) waiter.reject(error);
      return;
    }
    const byEvent = new Map<string, EventListener[]>();
    for (const listener of found) {
      const list = byEvent.get(listener.event);
      if (list === undefined) byEvent.set(listener.event, [listener]);
      else list.push(listener);
    }
    for (const [event, waiters] of asked) for (const waiter of waiters) waiter.resolve(byEvent.get(event) ?? []);
  }
}
