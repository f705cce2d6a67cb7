/**
 * A fake clock for tests: time moves only when told to, timers fire in order.
 *
 * @packageDocumentation
 */
import type { Clock } from '../coordinator/clock.js';

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * A {@link Clock} whose time only moves with {@link FakeClock.advance}.
 *
 * @example
 * const clock = new FakeClock();
 * const tw = await connect({ store: 'memory', clock });
 * await clock.advance(1000); // fires retries due within a second
 */
export class FakeClock implements Clock {
  private current: number;
  private timers: Timer[] = [];
  private nextId = 1;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.current = start;
  }

  /** @inheritdoc */
  now(): number {
    return this.current;
  }

  /** @inheritdoc */
  setTimeout(fn: () => void, ms: number): unknown {
    const timer = { id: this.nextId++, at: this.current + Math.max(0, ms), fn };
    this.timers.push(timer);
    return timer.id;
  }

  /** @inheritdoc */
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  /** Timers not fired yet. */
  get pending(): number {
    return this.timers.length;
  }

  /** When the next timer is due, or undefined. */
  get nextDueAt(): number | undefined {
    return this.timers.reduce<number | undefined>((min, t) => (min === undefined || t.at < min ? t.at : min), undefined);
  }

  /**
   * Moves time forward by `ms`, firing due timers in order; between timers it
   * lets pending I/O and promises settle, so that work a timer starts can
   * schedule further timers.
   */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      await settle();
      const due = this.timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.current = Math.max(this.current, due.at);
      due.fn();
    }
    this.current = target;
    await settle();
  }
}

/** Lets promises and immediate callbacks run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
