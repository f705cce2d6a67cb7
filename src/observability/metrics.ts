/**
 * Prometheus metrics (prom-client), named by Prometheus conventions: the
 * `taskwire_` prefix, base units (seconds), `_total` counters, no run ids as
 * labels. Workers and coordinators record into a {@link TaskwireMetrics} given
 * to them; nothing is global.
 *
 * @packageDocumentation
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300];

/** The metrics of one process. */
export class TaskwireMetrics {
  /** The registry to serve. */
  readonly registry: Registry;
  private readonly started: Counter<'task' | 'queue'>;
  private readonly succeeded: Counter<'task'>;
  private readonly failed: Counter<'task'>;
  private readonly retried: Counter<'task'>;
  private readonly duration: Histogram<'task' | 'outcome'>;
  private readonly queueWait: Histogram<'task' | 'queue'>;
  private readonly notifications: Counter<'event'>;
  private readonly steps: Counter;
  private readonly commitDuration: Histogram;
  private readonly runsActive: Gauge;

  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    const registers = [registry];
    this.started = new Counter({ name: 'taskwire_tasks_started_total', help: 'Task executions started by workers', labelNames: ['task', 'queue'], registers });
    this.succeeded = new Counter({ name: 'taskwire_tasks_succeeded_total', help: 'Task executions that succeeded', labelNames: ['task'], registers });
    this.failed = new Counter({ name: 'taskwire_tasks_failed_total', help: 'Task executions that failed (before retries)', labelNames: ['task'], registers });
    this.retried = new Counter({ name: 'taskwire_tasks_retried_total', help: 'Retries scheduled by coordinators', labelNames: ['task'], registers });
    this.duration = new Histogram({ name: 'taskwire_task_duration_seconds', help: 'Duration of task executions', labelNames: ['task', 'outcome'], buckets: DURATION_BUCKETS, registers });
    this.queueWait = new Histogram({ name: 'taskwire_queue_wait_seconds', help: 'Time tasks wait queued: from the publish of their dispatch to the start of their execution', labelNames: ['task', 'queue'], buckets: DURATION_BUCKETS, registers });
    this.notifications = new Counter({ name: 'taskwire_notifications_total', help: 'External event notifications applied to runs', labelNames: ['event'], registers });
    this.steps = new Counter({ name: 'taskwire_engine_steps_total', help: 'Events stepped and committed by coordinators', registers });
    this.commitDuration = new Histogram({ name: 'taskwire_store_commit_duration_seconds', help: 'Duration of store commits (one per batch of steps)', buckets: DURATION_BUCKETS, registers });
    this.runsActive = new Gauge({ name: 'taskwire_runs_active', help: 'Runs held live by this coordinator', registers });
  }

  /** A worker started a task; `waitMs` is the time it waited queued (since its dispatch was published), when known. */
  taskStarted(task: string, queue: string, waitMs: number | undefined): void {
    this.started.inc({ task, queue });
    if (waitMs !== undefined && waitMs >= 0) this.queueWait.observe({ task, queue }, waitMs / 1000);
  }

  /** A worker finished a task. */
  taskFinished(task: string, outcome: 'succeeded' | 'failed', durationMs: number): void {
    (outcome === 'succeeded' ? this.succeeded : this.failed).inc({ task });
    this.duration.observe({ task, outcome }, durationMs / 1000);
  }

  /** A coordinator scheduled a retry. */
  taskRetried(task: string): void {
    this.retried.inc({ task });
  }

  /** A notification was applied to a run. */
  notified(event: string): void {
    this.notifications.inc({ event });
  }

  /** A coordinator committed `events` steps in one store transaction. */
  committed(events: number, durationMs: number): void {
    this.steps.inc(events);
    this.commitDuration.observe(durationMs / 1000);
  }

  /** Runs a coordinator holds live. */
  setRunsActive(count: number): void {
    this.runsActive.set(count);
  }
}
