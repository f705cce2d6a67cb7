/**
 * Gathering of outgoing signals: a worker's results are published in batches,
 * up to `maxItems` signals or `delayMs`, whichever first (see batch.ts and
 * `AmqpOptions.batch`), each caller's promise settled with its batch's publish.
 *
 * @packageDocumentation
 */

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

/** Gathers items of several calls and publishes them together. */
export class Coalescer<T> {
  private items: T[] = [];
  private waiters: Waiter[] = [];
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;

  constructor(
    private readonly maxItems: number,
    private readonly delayMs: number,
    private readonly publish: (items: T[]) => Promise<void>,
  ) {}

  /** Resolves once `items` (with those gathered beside them) are published; rejects if that publish fails. */
  add(items: readonly T[]): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      for (const item of items) this.items.push(item);
      this.waiters.push({ resolve, reject });
      if (this.items.length >= this.maxItems) this.flush();
      else this.timer ??= this.delayMs === 0 ? setImmediate(() => this.flush()) : setTimeout(() => this.flush(), this.delayMs);
    });
  }

  /** Publishes what is gathered now. */
  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
      this.timer = undefined;
    }
    if (this.items.length === 0) return;
    const { items, waiters } = this;
    this.items = [];
    this.waiters = [];
    let published: Promise<void>;
    try {
      published = this.publish(items);
    } catch (error) {
      published = Promise.reject(error);
    }
    published.then(
      () => {
        for (const waiter of waiters) waiter.resolve();
      },
      (error: unknown) => {
        for (const waiter of waiters) waiter.reject(error);
      },
    );
  }
}
