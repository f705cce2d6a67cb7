/**
 * Time, as a port: the engine never reads the clock itself, the coordinator asks
 * a {@link Clock}, so tests can drive retries with a fake one (`taskwire/testing`).
 *
 * @packageDocumentation
 */

/** A source of time and timers. */
export interface Clock {
  /** Current time, epoch milliseconds. */
  now(): number;
  /** Calls `fn` after `ms` milliseconds; returns a handle for {@link Clock.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer. */
  clearTimeout(handle: unknown): void;
}

/** The system clock. Its timers keep the process alive until they fire or are cleared. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
