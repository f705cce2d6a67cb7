/**
 * Start reports: a dispatched execution shows `queued` until the coordinators
 * learn that a worker started it. Reporting every start would double the
 * signals on every task's path, so a worker reports only the executions still
 * running `afterMs` after they started (one `task.started` signal each, sent
 * in one batch per sweep); a shorter one carries its start time in its outcome
 * signal instead. A sweep runs every `afterMs / 2` while some execution is
 * unreported, so a report is late by at most half of `afterMs`. A report that
 * cannot be published is dropped: the outcome carries the start all the same.
 *
 * @packageDocumentation
 */
import type { Clock } from '../coordinator/clock.js';
import type { Logger } from '../observability/logger.js';
import type { DispatchMessage, SignalMessage, Transport } from '../transport/port.js';

/** See `WorkerOptions.reportStartAfterMs`. */
export const DEFAULT_REPORT_START_AFTER_MS = 100;

/** An execution as the start reports see it. */
export interface Started {
  /** Its dispatch. */
  readonly message: DispatchMessage;
  /** When it started (the worker's clock, epoch ms). */
  readonly since: number;
  /** Set once its start was reported. */
  startReported?: true;
}

/** What {@link StartReports} needs from the worker. */
export interface StartReportSettings {
  /** Where the reports go. */
  transport: Transport;
  /** The worker's id, in the reports. */
  worker: string;
  /** Times the sweeps. */
  clock: Clock;
  /** Logs reports that could not be sent. */
  logger: Logger;
  /** Report executions still running this long after they started; 0 reports each at once. */
  afterMs: number;
  /** The executions in progress. */
  running: () => Iterable<Started>;
}

/** Reports the starts of a worker's long executions (see the module's description). */
export class StartReports {
  private timer: unknown;

  constructor(private readonly settings: StartReportSettings) {}

  /** An execution started: reported at once when `afterMs` is 0, else by a sweep if it is still running then. */
  started(execution: Started): void {
    if (execution.message.kind !== 'apply') return; // a rollback's progress is its undo state, not the node's
    if (this.settings.afterMs === 0) this.send([execution]);
    else this.arm();
  }

  /** Stops the sweeps. */
  stop(): void {
    if (this.timer !== undefined) this.settings.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    if (this.timer !== undefined) return;
    this.timer = this.settings.clock.setTimeout(() => this.sweep(), Math.max(1, Math.floor(this.settings.afterMs / 2)));
  }

  private sweep(): void {
    this.timer = undefined;
    const due = this.settings.clock.now() - this.settings.afterMs;
    const reported: Started[] = [];
    let waiting = false;
    for (const execution of this.settings.running()) {
      if (execution.startReported === true || execution.message.kind !== 'apply') continue;
      if (execution.since <= due) reported.push(execution);
      else waiting = true;
    }
    if (reported.length > 0) this.send(reported);
    if (waiting) this.arm();
  }

  private send(executions: Started[]): void {
    const { transport, worker, logger } = this.settings;
    const signals = executions.map(({ message: m, since }): SignalMessage => {
      const signal: SignalMessage = { type: 'task.started', runId: m.runId, node: m.node, attempt: m.attempt, worker, startedAt: since };
      if (m.activation !== undefined) signal.activation = m.activation;
      return signal;
    });
    for (const execution of executions) execution.startReported = true;
    let sent: Promise<void>;
    try {
      sent = transport.signal(signals);
    } catch (error) {
      sent = Promise.reject(error);
    }
    sent.catch((error: unknown) => logger.debug({ error: (error as Error).message, executions: signals.length }, 'could not report execution starts; their outcomes will carry them'));
  }
}
