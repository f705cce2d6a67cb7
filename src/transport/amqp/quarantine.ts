/**
 * Quarantine of redelivered dispatches. When a worker process dies (a task that
 * calls `process.exit`, an out-of-memory kill, kill -9), the broker hands back
 * every dispatch it held, the innocent ones with the poison, and raises their
 * delivery counts alike: without isolation they reach the delivery limit
 * together. So a dispatch that comes back redelivered is not executed beside
 * others: the worker moves it to `<prefix>.quarantine.<queue>` (consumed with
 * prefetch 1), and runs what it takes from there alone in its process, every
 * dispatch consumer of the process paused and drained first. An innocent
 * dispatch then succeeds on its next delivery; only the poison keeps dying, and
 * reaches the quarantine queue's delivery limit alone.
 *
 * @packageDocumentation
 */
import type { ManagedConsumer } from './consume.js';

/**
 * One process's isolation gate: {@link Isolation.acquire} waits for the other
 * quarantined executions to end, pauses every registered dispatch consumer and
 * waits until none holds an unsettled message.
 */
export class Isolation {
  private readonly consumers = new Set<ManagedConsumer>();
  private tail: Promise<void> = Promise.resolve();

  /** Registers a dispatch consumer to pause while a quarantined dispatch runs. */
  add(consumer: ManagedConsumer): void {
    this.consumers.add(consumer);
  }

  /** Forgets a dispatch consumer (cancelled). */
  delete(consumer: ManagedConsumer): void {
    this.consumers.delete(consumer);
  }

  /**
   * Resolves once this process executes no other dispatch, with the function
   * that ends the isolation (idempotent): it resumes the paused consumers.
   */
  async acquire(): Promise<() => void> {
    const previous = this.tail;
    let done!: () => void;
    this.tail = new Promise<void>((resolve) => (done = resolve));
    await previous;
    const paused = [...this.consumers];
    await Promise.all(paused.map((consumer) => consumer.pause()));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const consumer of paused) consumer.resume();
      done();
    };
  }
}
