/**
 * Real I/O in the simulated world (the PostgreSQL mode): every call to the
 * real database is counted here while in flight, and store calls are run one
 * at a time. The scheduler awaits every call in flight before it runs the next
 * callback, so simulated time never moves while the database works and calls
 * never race each other: a seed replays identically, however slow the server.
 */

/** How long real I/O may stay in flight before the seed is given up (a hung call is a bug of the simulator). */
const STUCK_MS = 60_000;

/** The real calls in flight. */
export class RealIO {
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  private tail: Promise<unknown> = Promise.resolve();

  /** Whether a real call is in flight. */
  get busy(): boolean {
    return this.inFlight > 0;
  }

  /** Counts `operation` as in flight until it settles; returns it. */
  track<T>(operation: Promise<T>): Promise<T> {
    this.inFlight++;
    const done = (): void => {
      if (--this.inFlight === 0) for (const wake of this.waiters.splice(0)) wake();
    };
    operation.then(done, done);
    return operation;
  }

  /** Runs `call` once every earlier serial call has settled; in flight from now (waiting included). */
  serial<T>(call: () => Promise<T>): Promise<T> {
    const result = this.tail.then(call);
    this.tail = result.catch(() => undefined);
    return this.track(result);
  }

  /** Resolves once nothing is in flight; rejects if that takes longer than a minute of real time. */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve, reject) => {
      // A watchdog only: it never fires in a healthy run, so it cannot change one.
      const stuck = setTimeout(() => reject(new Error(`simulator: real I/O still in flight after ${STUCK_MS} ms`)), STUCK_MS);
      this.waiters.push(() => {
        clearTimeout(stuck);
        resolve();
      });
    });
  }
}
