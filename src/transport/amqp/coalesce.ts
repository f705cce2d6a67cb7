/**
 * Gathering of outgoing signals: a worker's results are published in batches,
 * up to `maxItems` signals or `delayMs`, whichever first (see batch.ts and
 * `AmqpOptions.batch`), each caller's promise settled with its batch's publish.
 * While no publish of its own is awaiting its confirm, what is gathered goes
 * out at the next turn of the event loop instead: a lone signal (a chain of
 * tasks) does not wait for others that are not coming, and the delay applies
 * under load, when it fills messages.
 *
 * @packageDocumentation
 */

/** One call's items and its promise. */
interface Call<T> {
  items: readonly T[];
  resolve(): void;
  reject(error: unknown): void;
}

/** Calls `publish(items)`, a synchronous throw (an item that cannot be encoded) as a rejection. */
function attempt<T>(publish: (items: T[]) => Promise<void>, items: T[]): Promise<void> {
  try {
    return publish(items);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Gathers items of several calls and publishes them together. */
export class Coalescer<T> {
  private calls: Call<T>[] = [];
  private count = 0;
  /** Publishes awaiting their confirm. */
  private inFlight = 0;
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;

  /** `publish` throws synchronously when an item cannot be encoded, before publishing anything. */
  constructor(
    private readonly maxItems: number,
    private readonly delayMs: number,
    private readonly publish: (items: T[]) => Promise<void>,
  ) {}

  /** Resolves once `items` (with those gathered beside them) are published; rejects if that publish fails. */
  add(items: readonly T[]): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.calls.push({ items, resolve, reject });
      this.count += items.length;
      if (this.count >= this.maxItems) this.flush();
      else this.timer ??= this.delayMs === 0 || this.inFlight === 0 ? setImmediate(() => this.flush()) : setTimeout(() => this.flush(), this.delayMs);
    });
  }

  /** Publishes what is gathered now. */
  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
      this.timer = undefined;
    }
    const calls = this.calls;
    if (calls.length === 0) return;
    this.calls = [];
    this.count = 0;
    let published: Promise<void>;
    try {
      published = this.publish(calls.length === 1 ? [...(calls[0] as Call<T>).items] : calls.flatMap((call) => call.items));
    } catch {
      // An item that cannot be encoded (too large) fails its own call only: the others are published apart.
      for (const call of calls) attempt(this.publish, [...call.items]).then(
          () => call.resolve(),
          (error: unknown) => call.reject(error),
        );
      return;
    }
    this.inFlight++;
    published.then(
      () => {
        this.inFlight--;
        for (const call of calls) call.resolve();
      },
      (error: unknown) => {
        this.inFlight--;
        for (const call of calls) call.reject(error);
      },
    );
  }
}
