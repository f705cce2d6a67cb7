/**
 * Events whose store calls failed (PostgreSQL restarting, say): parked, and
 * stepped again after a backoff from a fresh load. Signals stay unacknowledged
 * meanwhile: handing them back to the broker at once would burn their delivery
 * limit in a few seconds of outage. Events nobody else holds (client changes)
 * give up after a few tries, with the store's error.
 *
 * @packageDocumentation
 */
import { ClosedError, StoreError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Clock } from './clock.js';
import type { Pending } from './pending.js';

/** Client events give up after this many store failures (signals never do: the broker holds them). */
const MAX_STORE_RETRIES = 6;
/** The longest wait between two tries, and between two tries of a timer's event (see `Coordinator`). */
export const MAX_STORE_RETRY_DELAY_MS = 5000;

/** Parks events while the store is unreachable, and steps them again later (see the module doc). */
export class StoreRetry {
  /** Consecutive store failures, for the backoff. */
  private failures = 0;
  /** Events waiting for the store to come back. */
  private readonly parked = new Set<Pending>();
  private readonly timers = new Set<unknown>();

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** Steps events again (the coordinator's queue). */
    private readonly enqueue: (item: Pending) => void,
  ) {}

  /**
   * A store call succeeded: the backoff starts over. Returns whether the store
   * had failed before (it is back after an outage).
   */
  succeeded(): boolean {
    const wasDown = this.failures > 0;
    this.failures = 0;
    return wasDown;
  }

  /**
   * The store failed: `items` are stepped again after a backoff (100 ms doubling
   * to 5 s), from a fresh load. A client event gives up after a few tries (see
   * {@link StoreRetry.giveUp}).
   */
  later(items: Pending[], error: unknown): void {
    this.failures++;
    const delayMs = Math.min(MAX_STORE_RETRY_DELAY_MS, 100 * 2 ** Math.min(this.failures - 1, 6));
    this.logger.warn({ error: (error as Error).message, events: items.length, retryInMs: delayMs }, 'store unavailable; events will be stepped again');
    const kept: Pending[] = [];
    for (const item of items) {
      if (item.delivery !== undefined || item.settleOnly === true || ++item.storeRetries <= MAX_STORE_RETRIES || giveUp(item, error)) kept.push(item);
    }
    if (kept.length === 0) return;
    for (const item of kept) this.parked.add(item);
    const handle = this.clock.setTimeout(() => {
      this.timers.delete(handle);
      for (const item of kept) {
        this.parked.delete(item);
        this.enqueue(item);
      }
    }, delayMs);
    this.timers.add(handle);
  }

  /**
   * Cancels the timers and fails what is parked: signals go back to the
   * broker; an event whose step's commit was ambiguous may be applied, so its
   * caller is told so (TW_STORE), not TW_CLOSED.
   */
  close(): void {
    for (const handle of this.timers) this.clock.clearTimeout(handle);
    this.timers.clear();
    for (const item of this.parked) {
      item.delivery?.requeue();
      item.reject(closedError(item));
    }
    this.parked.clear();
  }
}

/**
 * An event nobody else holds tried too often: its caller gets the store's
 * error. If its step's commit was ambiguous and is not found out yet, the
 * event is kept, settle-only (returns true): once the store answers, the step's
 * commands are carried out if it was written (the nodes it started must not stay
 * `running` with nothing executing them), and it is dropped otherwise.
 */
function giveUp(item: Pending, error: unknown): boolean {
  item.reject(error);
  if (item.uncertain === undefined || item.uncertain.settled) return false;
  item.settleOnly = true;
  item.resolve = () => undefined;
  item.reject = () => undefined;
  return true;
}

/**
 * What the caller of an event a closed coordinator will not step is told:
 * TW_CLOSED (nothing was done), or TW_STORE when a commit of its step was
 * ambiguous and not found out (it may have been written).
 */
export function closedError(item: Pending): Error {
  return item.uncertain !== undefined && !item.uncertain.settled ? new StoreError('the coordinator closed before it could tell whether the step was written') : new ClosedError('coordinator');
}
