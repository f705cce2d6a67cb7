/**
 * A worker's heartbeat: every `heartbeatMs` the worker writes its row in the
 * store (host, pid, version, tasks, queues, concurrency and the executions it
 * is running), which `taskwire workers` and the task catalog read; it deletes
 * its row when it closes cleanly, and at start the rows of workers dead for
 * {@link DEAD_WORKER_AFTER_MS} (killed ones never delete theirs). Off the task path: a beat that fails is
 * logged and the next one tries again; it never fails a task.
 *
 * @packageDocumentation
 */
import { hostname } from 'node:os';
import type { Clock } from '../coordinator/clock.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { packageVersion } from '../observability/version.js';
import type { RunningExecution, Store, WorkerBeat } from '../store/port.js';

/** See {@link HeartbeatOptions.intervalMs}. */
export const DEFAULT_HEARTBEAT_MS = 5_000;

/**
 * A worker whose last beat is older than this many heartbeat intervals is
 * stale (dead or cut off): `taskwire workers` and the task catalog leave it out.
 */
export const STALE_AFTER_BEATS = 3;

/**
 * A worker row whose last beat is older than this (one day) is deleted when a
 * worker starts: `taskwire workers --all` lists the workers that died within it.
 */
export const DEAD_WORKER_AFTER_MS = 24 * 60 * 60 * 1000;

/** Whether a worker's last beat is at most {@link STALE_AFTER_BEATS} of its heartbeat intervals old at `now`. */
export function isLive(beat: WorkerBeat, now: number): boolean {
  return now - beat.beatAt <= STALE_AFTER_BEATS * beat.heartbeatMs;
}

/** What a worker tells its heartbeat. */
export interface HeartbeatOptions {
  /** Where the row is written. */
  store: Store;
  /** The worker's id. */
  id: string;
  /** Time and timers. */
  clock: Clock;
  /** Where a failed beat is logged. */
  logger: Logger;
  /**
   * Time between beats (ms).
   * @default {@link DEFAULT_HEARTBEAT_MS}
   */
  intervalMs?: number;
  /** The names of the tasks the worker can execute now (read at each beat: tasks may be registered later). */
  tasks: () => string[];
  /** The queues it takes. */
  queues: string[];
  /** Executions at once, per queue. */
  concurrency: number;
  /** The executions in progress now. */
  running: () => RunningExecution[];
  /** Embedded: the runs its process carries out, when only some (see `WorkerBeat.runs`). */
  runs?: () => string[];
}

/** Beats while started: see the module's description. */
export class WorkerHeartbeat {
  private readonly intervalMs: number;
  private readonly startedAt: number;
  private timer: unknown;
  private beating: Promise<void> = Promise.resolve();
  private stopped = false;
  /** A beat asked for by {@link WorkerHeartbeat.beatNow}, not written yet. */
  private soon: Promise<void> | undefined;

  /** @throws ConfigError (`TW_CONFIG`) when `intervalMs` is not a positive number. */
  constructor(private readonly options: HeartbeatOptions) {
    this.intervalMs = options.intervalMs ?? DEFAULT_HEARTBEAT_MS;
    if (!(Number.isFinite(this.intervalMs) && this.intervalMs > 0)) throw new ConfigError(`heartbeatMs must be a positive number of milliseconds, got ${String(this.intervalMs)}`);
    this.startedAt = options.clock.now();
  }

  /**
   * Deletes the rows of workers dead for {@link DEAD_WORKER_AFTER_MS}, writes the first beat
   * (a failure of either is logged), then beats every interval until {@link WorkerHeartbeat.stop}.
   */
  async start(): Promise<void> {
    try {
      await this.options.store.pruneWorkers(this.startedAt - DEAD_WORKER_AFTER_MS);
    } catch (error) {
      this.options.logger.warn({ error: (error as Error).message }, 'could not delete the rows of dead workers');
    }
    await this.beat();
  }

  /** Stops beating and deletes the worker's row (a failure is logged). Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.options.clock.clearTimeout(this.timer);
    await this.beating;
    try {
      await this.options.store.removeWorker(this.options.id);
    } catch (error) {
      this.options.logger.warn({ error: (error as Error).message }, 'could not remove the worker heartbeat row');
    }
  }

  /**
   * Writes a beat now, after the one under way if any (the row changed: a run to
   * list), then beats every interval from it. Calls made meanwhile share it.
   */
  beatNow(): Promise<void> {
    this.soon ??= this.beating.then(() => {
      this.soon = undefined;
      if (this.stopped) return;
      this.options.clock.clearTimeout(this.timer);
      return this.beat();
    });
    return this.soon;
  }

  /** The row as of now. */
  private row(): WorkerBeat {
    const { id, clock, queues, concurrency, runs } = this.options;
    return {
      id,
      host: hostname(),
      pid: process.pid,
      version: packageVersion(),
      tasks: this.options.tasks(),
      queues,
      concurrency,
      heartbeatMs: this.intervalMs,
      running: this.options.running(),
      startedAt: this.startedAt,
      beatAt: clock.now(),
      ...(runs === undefined ? {} : { runs: runs() }),
    };
  }

  /** Writes one beat and schedules the next. */
  private beat(): Promise<void> {
    this.beating = (async () => {
      try {
        await this.options.store.beatWorker(this.row());
      } catch (error) {
        this.options.logger.warn({ error: (error as Error).message, retryInMs: this.intervalMs }, 'worker heartbeat failed');
      }
    })();
    return this.beating.then(() => this.schedule());
  }

  private schedule(): void {
    if (this.stopped) return;
    const handle = this.options.clock.setTimeout(() => void this.beat(), this.intervalMs);
    // A beat alone never keeps the process alive.
    (handle as { unref?: () => void } | null)?.unref?.();
    this.timer = handle;
  }
}
