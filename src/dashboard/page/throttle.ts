/**
 * Calling a function less often than asked: live updates come in bursts, and a
 * list or a run is fetched again once per burst, not once per entry.
 *
 * @packageDocumentation
 */

/** A throttled `fn`: called at once, then at most once per `ms`; `cancel` drops a pending call. */
export function throttle(fn: () => void, ms: number): { (): void; cancel(): void } {
  let last = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const call = (): void => {
    const wait = last + ms - Date.now();
    if (wait <= 0) {
      last = Date.now();
      fn();
    } else timer ??= setTimeout(() => {
      timer = undefined;
      call();
    }, wait);
  };
  call.cancel = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  return call;
}

/** An async `fn` that runs once at a time: calls while it runs make it run once more after it (fetching again coalesces). */
export function coalesce(fn: () => Promise<void>): () => void {
  let running = false;
  let again = false;
  const call = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    fn()
      .catch(() => undefined)
      .finally(() => {
        running = false;
        if (again) {
          again = false;
          call();
        }
      });
  };
  return call;
}
