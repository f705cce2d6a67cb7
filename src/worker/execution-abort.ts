/**
 * An execution's abort (run cancelled, worker shutting down), made lazily. Most
 * tasks never read `ctx.signal`, and an `AbortController` with its `AbortSignal`
 * (an EventTarget) per execution was ~5 % of the CPU of the embedded W3
 * benchmark. The controller is created when the signal is first read, already
 * aborted if the abort came before; the executor's own reaction to an abort
 * (settling the outcome of a task that ignores its signal) is a plain callback,
 * not an event listener.
 *
 * @packageDocumentation
 */

/** Aborts one execution; its `AbortSignal` exists only once someone asks for it. */
export class ExecutionAbort {
  private controller: AbortController | undefined;
  private abortedWith: { reason: unknown } | undefined;
  private listener: ((reason: unknown) => void) | undefined;

  /** Whether it was aborted. */
  get aborted(): boolean {
    return this.abortedWith !== undefined;
  }

  /** Why it was aborted (undefined while it is not). */
  get reason(): unknown {
    return this.abortedWith?.reason;
  }

  /** The signal handed to task code, created on first use (already aborted if {@link abort} came first). */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortedWith !== undefined) this.controller.abort(this.abortedWith.reason);
    }
    return this.controller.signal;
  }

  /**
   * Calls `listener` once when aborted (one listener at a time: the executor's).
   * Returns a function that removes it.
   */
  onAbort(listener: (reason: unknown) => void): () => void {
    this.listener = listener;
    return () => {
      if (this.listener === listener) this.listener = undefined;
    };
  }

  /** Aborts with `reason`; only the first call counts. */
  abort(reason: unknown): void {
    if (this.abortedWith !== undefined) return;
    this.abortedWith = { reason };
    this.controller?.abort(reason);
    const listener = this.listener;
    this.listener = undefined;
    listener?.(reason);
  }
}
