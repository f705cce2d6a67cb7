/**
 * The worker: takes dispatches from the transport, executes them with the code
 * it has, sends the outcome as a signal, and acknowledges the dispatch only
 * after the signal is safely handed on (so a worker that dies mid-task has its
 * dispatch redelivered). A duplicate delivery of a dispatch it is executing or
 * finished recently is never executed again (see {@link WorkerOptions.recentDispatches}).
 * Closing drains: stop taking work, let running tasks
 * finish within a grace time, then abort them and hand their dispatches back.
 *
 * @packageDocumentation
 */
import { hostname } from 'node:os';
import { systemClock, type Clock } from '../coordinator/clock.js';
import { CancelledError, ConfigError } from '../errors.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import type { TaskwireMetrics } from '../observability/metrics.js';
import { resolveMaxMessageBytes } from '../transport/limits.js';
import type { AbortMessage, Delivery, DispatchMessage, SignalMessage, Subscription, Transport } from '../transport/port.js';
import { execute, type Execution as Executed } from './executor.js';
import { ExecutionAbort } from './execution-abort.js';
import { fittedSignal } from './signal-size.js';
import { DEFAULT_RECENT_DISPATCHES, dispatchKey, RecentDispatches } from './recent-dispatches.js';
import { traceExecution } from '../observability/tracing.js';
import type { TaskRegistry } from './registry.js';
import { DEFAULT_LEASE_AFTER_MS, holdLease, NO_LEASE, type Lease, type LeaseSettings } from './lease.js';
import { WorkerHeartbeat } from './heartbeat.js';
import { DEFAULT_REPORT_START_AFTER_MS, StartReports, type Started } from './start-reports.js';
import type { RunningExecution, Store } from '../store/port.js';

/** Options of {@link Worker}. */
export interface WorkerOptions {
  /** Where dispatches come from and signals go. */
  transport: Transport;
  /** The code this worker can execute. */
  registry: TaskRegistry;
  /**
   * Work queues to take dispatches from.
   * @default the queues of the registered tasks
   */
  queues?: string[];
  /**
   * Executions at once, per queue (the AMQP prefetch).
   * @default 16
   */
  concurrency?: number;
  /**
   * How long close() lets running tasks finish before aborting them.
   * @default 10000
   */
  shutdownGraceTimeMs?: number;
  /**
   * An execution still running after this long is acknowledged early and held by
   * a lease in the store instead (so the broker's consumer timeout cannot
   * redeliver it). Off for non-durable transports.
   * @default 1200000 (20 minutes) with a durable transport
   */
  leaseAfterMs?: number;
  /**
   * Length of a lease; renewed every third of it.
   * @default 300000 (5 minutes)
   */
  leaseMs?: number;
  /**
   * How many finished dispatches the worker remembers, with their outcome
   * signal, to recognise a duplicate delivery (at-least-once: a redelivery after
   * a broker restart, a re-dispatch racing the outbox). A duplicate of one still
   * executing waits for it (acknowledged once its signal is handed on or its
   * lease is taken, handled again if it was given back); a duplicate of a remembered one gets the kept
   * signal published again and is acknowledged; neither is executed again.
   * Costs one entry (key and signal, result included) per remembered dispatch; 0 remembers none.
   * @default 10000
   */
  recentDispatches?: number;
  /** Structured logger. */
  logger?: Logger;
  /** Metrics to record into. */
  metrics?: TaskwireMetrics;
  /**
   * Worker identity in signals and logs.
   * @default `<hostname>/<pid>`
   */
  id?: string;
  /**
   * Time and timers: heartbeats and leases, the close grace time, task timeouts
   * and durations (tests and the simulator pass a fake or simulated one).
   * @default the system clock
   */
  clock?: Clock;
  /** Where the worker writes its heartbeat row (see `worker/heartbeat.ts`); without it, no heartbeat. */
  store?: Store;
  /** Embedded: the runs its process carries out, when only some, listed in its heartbeat row (`WorkerBeat.runs`). */
  runs?: () => string[];
  /**
   * Time between heartbeats (ms).
   * @default 5000
   */
  heartbeatMs?: number;
  /**
   * An execution still running this long after it started is reported to the
   * coordinators (a `task.started` signal): its node shows `running` instead of
   * `queued`. Shorter executions carry their start time in their outcome
   * signal instead (no extra message on the path of short tasks); 0 reports
   * every start at once. See `worker/start-reports.ts`.
   * @default 100
   */
  reportStartAfterMs?: number;
}


interface Execution extends Started {
  message: DispatchMessage;
  abort: ExecutionAbort;
  /** When it started (epoch ms, the worker's clock). */
  since: number;
  /** Settles when the execution is over: true when its signal was handed on (the dispatch is done with). */
  done: Promise<boolean>;
  /** Acknowledged early under a lease: its outcome now comes through the lease, not the delivery. */
  leased?: true;
  /** Duplicate deliveries waiting for it to end (see {@link Worker.settleDuplicates}). */
  duplicates?: Delivery<DispatchMessage>[];
}

/** An execution being settled (see `Worker.run`): what settling it needs. */
interface Attempt {
  delivery: Delivery<DispatchMessage>;
  execution: Execution;
  /** Its {@link dispatchKey}. */
  key: string;
  log: Logger;
  lease: Lease;
  /** When it started (the worker's clock, epoch ms), with metrics; else 0. */
  startedAt: number;
}


/** `Execution.done` until its run is under way (replaced in the same tick). */
const NOT_DONE: Promise<boolean> = Promise.resolve(false);

/** Executes tasks taken from a transport. */
export class Worker {
  /** Worker identity. */
  readonly id: string;
  private readonly logger: Logger;
  /** Executions in progress, by {@link dispatchKey}. */
  private readonly running = new Map<string, Execution>();
  /** Outcomes of recently finished dispatches, by {@link dispatchKey}. */
  private readonly recent: RecentDispatches;
  private subscriptions: Subscription[] = [];
  private closing: Promise<void> | undefined;
  /**
   * Settles the waits of {@link Worker.untilReturned} when close() stops waiting
   * for tasks that ignore their AbortSignal; undefined once it has. One set, not
   * an abort listener per execution (more than 10 on one signal is Node's
   * MaxListenersExceededWarning, with any concurrency above 10).
   */
  private abandon: Set<() => void> | undefined = new Set();
  /** The transport's maximum message size: a larger result fails its task (`TW_TOO_LARGE`). */
  private readonly maxMessageBytes: number;
  private readonly clock: Clock;
  /** Leases (see `worker/lease.ts`): undefined when off (a non-durable transport). */
  private readonly leaseAfterMs: number | undefined;
  private readonly leaseSettings: LeaseSettings;
  private heartbeat: WorkerHeartbeat | undefined;
  private readonly starts: StartReports;

  constructor(private readonly options: WorkerOptions) {
    this.id = options.id ?? `${hostname()}/${process.pid}`;
    this.maxMessageBytes = options.transport.maxMessageBytes ?? resolveMaxMessageBytes();
    this.logger = (options.logger ?? silentLogger).child({ worker: this.id });
    this.recent = new RecentDispatches(options.recentDispatches ?? DEFAULT_RECENT_DISPATCHES);
    this.clock = options.clock ?? systemClock;
    this.leaseAfterMs = options.leaseAfterMs ?? (options.transport.durable ? DEFAULT_LEASE_AFTER_MS : undefined);
    this.leaseSettings = { transport: options.transport, worker: this.id, clock: this.clock, ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }) };
    const afterMs = options.reportStartAfterMs ?? DEFAULT_REPORT_START_AFTER_MS;
    if (!Number.isFinite(afterMs) || afterMs < 0) throw new ConfigError(`invalid worker option reportStartAfterMs ${afterMs}: expected a number of milliseconds >= 0`);
    this.starts = new StartReports({ transport: options.transport, worker: this.id, clock: this.clock, logger: this.logger, afterMs, running: () => this.running.values() });
  }

  /** Writes its heartbeat row now (see `WorkerHeartbeat.beatNow`); nothing without a store or before {@link Worker.start}. */
  beatNow(): Promise<void> {
    return this.heartbeat?.beatNow() ?? Promise.resolve();
  }

  /** Executions in progress. */
  get active(): number {
    return this.running.size;
  }

  /** Starts consuming. @throws ConfigError (`TW_CONFIG`) for a `heartbeatMs` that is not a positive number, before consuming anything. */
  async start(): Promise<void> {
    const { transport, registry, store, heartbeatMs } = this.options;
    const queues = this.options.queues ?? [...new Set(registry.names().map((name) => registry.get(name)?.queue ?? 'default'))];
    const prefetch = this.options.concurrency ?? 16;
    const taken = queues.length > 0 ? queues : ['default'];
    if (store !== undefined) {
      const running = (): RunningExecution[] => [...this.running.values()].map(({ message: m, since }) => ({ runId: m.runId, node: m.node, attempt: m.attempt, since }));
      const runs = this.options.runs === undefined ? {} : { runs: this.options.runs };
      const beats = { store, id: this.id, clock: this.clock, logger: this.logger, tasks: () => registry.names(), queues: taken, concurrency: prefetch, running, ...runs };
      this.heartbeat = new WorkerHeartbeat(heartbeatMs === undefined ? beats : { ...beats, intervalMs: heartbeatMs });
    }
    this.subscriptions.push(await transport.consumeAborts((message) => this.abort(message)));
    for (const queue of taken) {
      this.subscriptions.push(await transport.consumeDispatches(queue, { prefetch }, (delivery) => this.handle(delivery)));
    }
    this.logger.info({ queues, concurrency: prefetch }, 'worker started');
    await this.heartbeat?.start();
  }

  private handle(delivery: Delivery<DispatchMessage>): void {
    const message = delivery.body;
    const key = dispatchKey(message);
    const original = this.running.get(key);
    if (original !== undefined) {
      if (original.leased) delivery.ack();
      else (original.duplicates ??= []).push(delivery);
      return;
    }
    const kept = this.recent.get(key);
    if (kept !== undefined) {
      this.resend(delivery, kept);
      return;
    }
    const execution: Execution = { message, abort: new ExecutionAbort(), since: this.clock.now(), done: NOT_DONE };
    this.running.set(key, execution);
    this.starts.started(execution);
    execution.done = this.run(delivery, execution, key);
  }

  /** An execution is over: it leaves the running ones, and its duplicates are settled. */
  private over(key: string, execution: Execution, handedOn: boolean): boolean {
    this.running.delete(key);
    this.settleDuplicates(execution, handedOn);
    return handedOn;
  }

  /**
   * Duplicates of an execution are acknowledged once its delivery is done with
   * (its signal handed on, or its lease taken); if it was given back instead,
   * they are handled again as new deliveries (or given back too when closing).
   */
  private settleDuplicates(execution: Execution, done: boolean): void {
    const duplicates = execution.duplicates;
    if (duplicates === undefined) return;
    execution.duplicates = undefined;
    for (const delivery of duplicates) {
      if (done) delivery.ack();
      else if (this.closing === undefined) this.handle(delivery);
      else delivery.requeue();
    }
  }

  /** A duplicate of a finished dispatch: its kept signal is published again (the coordinator ignores a repeat), then it is acknowledged. */
  private resend(delivery: Delivery<DispatchMessage>, signal: SignalMessage): void {
    const { runId, node, attempt } = delivery.body;
    this.logger.debug({ runId, nodeId: node, attempt }, 'duplicate of a finished dispatch: not executed, its signal sent again');
    this.options.transport.signal([signal]).then(
      () => delivery.ack(),
      () => delivery.requeue(),
    );
  }

  /**
   * Executes a dispatch and settles it; resolves true when its signal was
   * handed on, once the execution is {@link Worker.over}. Synchronous up to the
   * signal when the task's code returned a value (see `execute`): no async
   * frame nor promise per execution but the signal's.
   */
  private run(delivery: Delivery<DispatchMessage>, execution: Execution, key: string): Promise<boolean> {
    const message = delivery.body;
    // No child logger nor debug fields per task when nothing is logged (the default; the embedded hot path).
    const silent = this.logger === silentLogger;
    const log = silent ? silentLogger : this.logger.child({ runId: message.runId, nodeId: message.node, attempt: message.attempt, task: message.task });
    if (!silent) log.debug({ kind: message.kind, redelivered: delivery.redelivered }, 'task started');
    // Timed only for the metrics (a clock read and a heap number per execution otherwise).
    const metrics = this.options.metrics;
    const startedAt = metrics === undefined ? 0 : this.clock.now();
    metrics?.taskStarted(message.task, message.queue, message.sentAt === undefined ? undefined : startedAt - message.sentAt);
    const attempt: Attempt = { delivery, execution, key, log, lease: this.lease(delivery, log, execution), startedAt };
    let executed: Executed | Promise<Executed>;
    try {
      executed = message.traceparent === undefined ? this.execute(execution) : this.executeTraced(execution);
    } catch (error) {
      executed = Promise.reject(error);
    }
    if (!(executed instanceof Promise)) return this.settle(attempt, executed);
    return executed.then(
      (done) => this.settle(attempt, done),
      (error: unknown) => {
        attempt.lease.release();
        this.over(key, execution, false);
        throw error;
      },
    );
  }

  /** Sends the signal of an attempt's execution and settles its delivery (see {@link Worker.run}). */
  private settle(attempt: Attempt, executed: Executed): Promise<boolean> {
    const { delivery, execution, key, log, lease } = attempt;
    const message = delivery.body;
    const { signal: outcome, returned } = executed;
    this.options.metrics?.taskFinished(message.task, outcome.type.endsWith('succeeded') ? 'succeeded' : 'failed', this.clock.now() - attempt.startedAt);
    if (this.closing !== undefined && execution.abort.aborted) {
      // Aborted by shutdown, not by the run: give the dispatch back for another worker
      // (a leased one is already acknowledged: its lease ends and it is dispatched again).
      lease.release();
      if (!lease.acked) delivery.requeue();
      return Promise.resolve(this.over(key, execution, false));
    }
    if (outcome.type === 'task.failed' || outcome.type === 'rollback.failed') {
      log.warn({ error: outcome.error.message, code: outcome.error.code, retryable: outcome.error.retryable }, `${message.kind} failed`);
    }
    // Kept before it is published: a redelivery after a failed publish (a broker restart) sends it again instead of running the body again.
    this.recent.remember(key, outcome);
    let sent: Promise<void>;
    try {
      sent = this.options.transport.signal([outcome]);
    } catch (error) {
      sent = Promise.reject(error);
    }
    return sent.then(
      // A timed-out or aborted task that ignores its AbortSignal still holds its
      // slot (the dispatch stays unacknowledged) until its code returns. Past
      // leaseAfterMs its lease acknowledges it early all the same, so the broker's
      // consumer timeout cannot close the channel under it; the heartbeats of
      // that stale attempt are ignored by the engine.
      () => (returned === undefined ? this.handedOn(attempt) : this.untilReturned(returned).then(() => this.handedOn(attempt))),
      (error: unknown) => {
        lease.release();
        log.error({ error: (error as Error).message }, 'could not send the signal; the dispatch goes back to the queue');
        if (!lease.acked) delivery.requeue();
        return this.over(key, execution, false);
      },
    );
  }

  /** An attempt's signal is handed on: its delivery is acknowledged (unless its lease did), and it is over. */
  private handedOn({ delivery, execution, key, lease }: Attempt): boolean {
    lease.release();
    if (!lease.acked) delivery.ack();
    return this.over(key, execution, true);
  }

  /** Executes a dispatch; its outcome signal stamped with its start and checked against the maximum message size. At once when the task's code returned a value. */
  private execute(execution: Execution): Executed | Promise<Executed> {
    const executed = execute(execution.message, this.options.registry, this.id, execution.abort, this.clock);
    if (executed instanceof Promise) return executed.then((done) => this.checked(execution, done));
    return this.checked(execution, executed);
  }

  /** An execution with its start in its outcome signal (before the size check: it travels too) and the signal checked against the maximum message size. */
  private checked({ message, since }: Execution, executed: Executed): Executed {
    const signal = executed.signal;
    if (signal.type === 'task.succeeded' || signal.type === 'task.failed') signal.startedAt = since;
    executed.signal = fittedSignal(message, signal, this.maxMessageBytes);
    return executed;
  }

  /** {@link Worker.execute} inside a consumer span (the dispatch carries a trace context). */
  private async executeTraced(execution: Execution): Promise<Executed> {
    const traced = await traceExecution(execution.message, async () => {
      const done = await this.execute(execution);
      const signal = done.signal;
      const failed = signal.type === 'task.failed' || signal.type === 'rollback.failed';
      return { execution: done, failed, ...(failed ? { message: signal.error.message } : {}) };
    });
    return traced.execution;
  }

  /** Holds a lease on a long execution (see `worker/lease.ts`), when leases are on. */
  private lease(delivery: Delivery<DispatchMessage>, log: Logger, execution: Execution): Lease {
    if (this.leaseAfterMs === undefined) return NO_LEASE;
    return holdLease(this.leaseSettings, this.leaseAfterMs, delivery.body, log, () => {
      delivery.ack();
      execution.leased = true;
      this.settleDuplicates(execution, true);
    });
  }

  /** Waits for a task's code to return, unless close() gives up on it after the grace time. */
  private untilReturned(returned: Promise<void>): Promise<void> {
    const abandon = this.abandon;
    if (abandon === undefined) return Promise.resolve();
    return new Promise<void>((resolve) => {
      abandon.add(resolve);
      void returned.then(() => {
        abandon.delete(resolve);
        resolve();
      });
    });
  }

  private abort(message: AbortMessage): void {
    for (const execution of this.running.values()) {
      const m = execution.message;
      if (m.runId !== message.runId || m.kind === 'rollback') continue;
      if (message.node !== undefined && m.node !== message.node) continue;
      if (message.attempt !== undefined && m.attempt !== message.attempt) continue;
      if (message.activation !== undefined && m.activation !== message.activation) continue;
      execution.abort.abort(new CancelledError(`run "${m.runId}" was cancelled`));
    }
  }

  /** Drains and stops; idempotent. Running tasks get `shutdownGraceTimeMs` to finish, then are aborted and handed back. */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.closing = (async () => {
      for (const subscription of this.subscriptions) await subscription.cancel();
      const grace = this.options.shutdownGraceTimeMs ?? 10_000;
      let timer: unknown;
      const all = Promise.all([...this.running.values()].map((e) => e.done));
      const expired = await Promise.race([all.then(() => false), new Promise<boolean>((resolve) => (timer = this.clock.setTimeout(() => resolve(true), grace)))]);
      this.clock.clearTimeout(timer);
      if (expired) {
        this.logger.warn({ running: this.running.size }, 'grace time over: aborting running tasks');
        for (const execution of this.running.values()) execution.abort.abort(new CancelledError('worker shutting down'));
        const abandoned = this.abandon;
        this.abandon = undefined;
        for (const resolve of abandoned ?? []) resolve();
        await all;
      }
      this.starts.stop();
      await this.heartbeat?.stop();
      this.logger.info({}, 'worker stopped');
    })();
    return this.closing;
  }
}

