/**
 * Following a run's history in the store: how `taskwire run` shows the progress
 * of a run it handed to the `taskwire serve` of the file, whose events are not
 * announced to other processes.
 *
 * @packageDocumentation
 */
import type { HistoryEntry } from '../engine/events.js';
import type { Store } from '../store/port.js';

/** A history being followed: {@link HistoryFollower.stop} reads the last entries. */
export class HistoryFollower {
  private after = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private reading: Promise<void> = Promise.resolve();
  private stopped = false;

  /** Reads run `runId`'s history every `intervalMs` and hands each new entry to `listener`, in order. */
  constructor(
    private readonly store: Store,
    private readonly runId: string,
    private readonly listener: (entry: HistoryEntry) => void,
    private readonly intervalMs = 250,
  ) {
    this.schedule();
  }

  /** Stops reading, after handing on the entries written until now. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.read();
  }

  private schedule(): void {
    if (!this.stopped) this.timer = setTimeout(() => void this.read().then(() => this.schedule()), this.intervalMs);
  }

  /** Hands on the entries not seen yet (serialised); a failed read is tried again at the next one. */
  private read(): Promise<void> {
    this.reading = this.reading.then(async () => {
      try {
        for (let page = await this.next(); page.length > 0; page = await this.next()) for (const entry of page) this.listener(entry);
      } catch {
        // The store is busy or briefly unreachable: the next read catches up.
      }
    });
    return this.reading;
  }

  private async next(): Promise<HistoryEntry[]> {
    const page = await this.store.history(this.runId, { after: this.after });
    const last = page.at(-1);
    if (last !== undefined) this.after = last.seq;
    return page;
  }
}
