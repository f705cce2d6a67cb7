import { afterEach, describe, expect, it, vi } from 'vitest';
import { coalesce, throttle } from '../../src/dashboard/page/throttle.js';

describe('live update pacing', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('throttle: calls at once, then once per interval for a burst', () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const paced = throttle(fn, 1_000);
    paced();
    paced();
    paced();
    expect(fn).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1_000);
    expect(fn).toHaveBeenCalledTimes(2);
    paced();
    paced.cancel();
    vi.advanceTimersByTime(5_000);
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it('coalesce: one call at a time, and one more after it for the calls made meanwhile', async () => {
    const finish: Array<() => void> = [];
    let calls = 0;
    const fetchAgain = coalesce(() => {
      calls++;
      return new Promise<void>((resolve) => finish.push(resolve));
    });
    fetchAgain();
    fetchAgain();
    fetchAgain();
    expect(calls).toBe(1);
    finish.shift()!();
    await vi.waitFor(() => expect(calls).toBe(2));
    finish.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toBe(2);
  });
});
