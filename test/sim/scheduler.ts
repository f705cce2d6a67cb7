/**
 * The seeded scheduler: simulated time and one queue of timed callbacks. Every
 * delay of the simulated world (a message in flight, a store call, a task's
 * work, a coordinator's timer) is a callback here; between two callbacks the
 * real code runs until it waits on the simulated world again (its promise
 * chains settle), so a seed always interleaves the same way.
 */
import type { Clock } from '../../src/coordinator/clock.js';
import type { RealIO } from './real-io.js';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A simulated process: a Coordinator or Worker instance dropped at its crash. */
export interface SimProcess {
  /** Name in the trace (`worker-1#2`: worker 1, second incarnation). */
  readonly name: string;
  /** False once crashed: its timers never fire, its calls never return. */
  alive: boolean;
}

/** A process's clock, which knows the timers set on it that have neither fired nor been cleared. */
export interface SimClock extends Clock {
  /** Delays (ms) of the timers still pending on this clock. */
  live(): number[];
}

/** Lets pending promise jobs run: Node runs every microtask before an immediate callback. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The simulated time line. */
export class Scheduler {
  /** Simulated time, epoch ms. */
  now = Date.UTC(2026, 0, 1);
  private heap: Timer[] = [];
  private seq = 0;
  /** Callbacks run so far. */
  steps = 0;
  /** Called after each callback once the code it woke has settled (to watch bounds between any two steps). */
  probe: (() => void) | undefined;

  /** `io`: the real calls (PostgreSQL) that each callback waits for before the next runs. */
  constructor(private readonly io?: RealIO) {}

  /** Calls `fn` at `now + ms`; returns a handle for {@link Scheduler.cancel}. */
  after(ms: number, fn: () => void): Timer {
    const timer: Timer = { at: this.now + Math.max(0, Math.floor(ms)), seq: this.seq++, fn, cancelled: false };
    this.push(timer);
    return timer;
  }

  /** Cancels a timer. */
  cancel(handle: unknown): void {
    if (handle !== null && typeof handle === 'object' && 'cancelled' in handle) (handle as Timer).cancelled = true;
  }

  /** Resolves after `ms` of simulated time. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve));
  }

  /** A promise of a process that never settles once the process has crashed: it resolves after `ms` if still alive. */
  hold(process: SimProcess, ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, () => process.alive && resolve()));
  }

  /**
   * The clock a process's Coordinator and Worker see: simulated time, off by
   * `skewMs` (the host's clock runs ahead or behind), and timers that die with the process.
   */
  clock(process: SimProcess, skewMs = 0): SimClock {
    const live = new Map<Timer, number>();
    return {
      now: () => this.now + skewMs,
      setTimeout: (fn, ms) => {
        const timer = this.after(ms, () => {
          live.delete(timer);
          if (process.alive) fn();
        });
        live.set(timer, ms);
        return timer;
      },
      clearTimeout: (handle) => {
        live.delete(handle as Timer);
        this.cancel(handle);
      },
      live: () => [...live.values()],
    };
  }

  /** Runs callbacks in time order until `until` (simulated) or `done()` holds, checked after each callback. */
  async run(until: number, done: () => boolean = () => false): Promise<void> {
    await this.quiesce();
    while (!done()) {
      const timer = this.pop(until);
      if (timer === undefined) break;
      this.now = Math.max(this.now, timer.at);
      this.steps++;
      timer.fn();
      await this.quiesce();
      this.probe?.();
    }
    if (this.now < until && !done()) this.now = until;
  }

  /** Lets the code run until it waits on simulated time only: promise jobs, and every real call in flight. */
  private async quiesce(): Promise<void> {
    await settle();
    while (this.io?.busy === true) {
      await this.io.idle();
      await settle();
    }
  }

  private pop(until: number): Timer | undefined {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.at > until) return undefined;
      const last = this.heap.pop() as Timer;
      if (this.heap.length > 0) {
        this.heap[0] = last;
        this.down(0);
      }
      if (!top.cancelled) return top;
    }
  }

  private less(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(timer: Timer): void {
    const heap = this.heap;
    heap.push(timer);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(heap[i] as Timer, heap[parent] as Timer)) break;
      [heap[i], heap[parent]] = [heap[parent] as Timer, heap[i] as Timer];
      i = parent;
    }
  }

  private down(i: number): void {
    const heap = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && this.less(heap[l] as Timer, heap[m] as Timer)) m = l;
      if (r < heap.length && this.less(heap[r] as Timer, heap[m] as Timer)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m] as Timer, heap[i] as Timer];
      i = m;
    }
  }
}
