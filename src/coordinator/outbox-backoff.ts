/**
 * Backoff of outbox items that keep failing, in one poller's memory: an item
 * whose publish or step failed is tried again after a delay that doubles with
 * each failure (from the claim time up to 5 minutes), not at every claim, so
 * that an item that cannot succeed yet neither floods the log nor the broker.
 * It is never dropped: the outbox keeps it until it succeeds.
 *
 * @packageDocumentation
 */

/** Longest delay between two tries of a failing item. */
const MAX_DELAY_MS = 5 * 60_000;
/** Items remembered at most (the oldest forgotten first: they are then tried at their next claim). */
const MAX_ENTRIES = 10_000;

/** Failing outbox items and when each may be tried again. */
export class OutboxBackoff {
  private readonly entries = new Map<string, { failures: number; nextAt: number }>();

  constructor(
    /** Delay after a first failure (the claim length). */
    private readonly baseMs: number,
  ) {}

  /** Whether an item may be tried at `now`. */
  ready(id: string, now: number): boolean {
    const entry = this.entries.get(id);
    return entry === undefined || entry.nextAt <= now;
  }

  /** Records a failure of an item at `now`; returns the delay before its next try. */
  failed(id: string, now: number): number {
    const failures = (this.entries.get(id)?.failures ?? 0) + 1;
    const delayMs = Math.min(MAX_DELAY_MS, this.baseMs * 2 ** Math.min(failures - 1, 20));
    this.entries.delete(id);
    this.entries.set(id, { failures, nextAt: now + delayMs });
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= MAX_ENTRIES) break;
      this.entries.delete(oldest);
    }
    return delayMs;
  }

  /** An item succeeded (or was dropped): forget it. */
  done(id: string): void {
    this.entries.delete(id);
  }
}
