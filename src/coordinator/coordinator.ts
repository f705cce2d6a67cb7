/**
 * The coordinator: takes events (signals from workers, changes from clients,
 * retry timers), loads the run, steps the engine, saves the step, and hands the
 * commands to the transport. Events that arrive together are stepped together
 * and committed in one store transaction; signals are acknowledged only after
 * that commit. Batch k+1 is committed while batch k's commands are published
 * (`pipeline.ts`); commits go shard by shard with their fences (`fencing.ts`);
 * events whose store calls fail are stepped again later (`store-retry.ts`). Several coordinators may work on one store at once: a step
 * computed from a stale revision is a conflict, and the run is reloaded and
 * stepped again.
 *
 * With a durable transport, commands are written to the outbox in the step's
 * transaction and deleted once published; a poller republishes what a crash left
 * behind and fires due retries. A coordinator that does not carry out its
 * commands (`carryOut: false`: a CLI changing an embedded run owned by another
 * process) leaves them all in the outbox, due at once, for the owner's poller.
 * With a non-durable transport (in-process), pending
 * work is re-derived from the runs at start (`resume`).
 *
 * @packageDocumentation
 */
import { NO_CONDITIONS } from '../model/condition.js';
import { copyRun, liveRun, type LiveRun, type StepOutput } from '../engine/index.js';
import type { EngineEvent } from '../engine/events.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import { stepCommit } from '../store/step-commit.js';
import type { Fence, OutboxItem, StepCommit, Store } from '../store/port.js';
import { shardOf } from '../model/shard.js';
import type { Delivery, RequestDelivery, SignalMessage } from '../transport/port.js';
import { systemClock, type Clock } from './clock.js';
import type { CoordinatorOptions, StepReport } from './options.js';
import { outboxItems } from './outbox.js';
import { OutboxPoller } from './outbox-poller.js';
import { publishSteps } from './publish.js';
import { DEFAULT_PUBLISH_TIMEOUT_MS } from './bounded-publish.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../codec/parse.js';
import { DEFAULT_CACHE_SIZE, DEFAULT_CACHE_TTL_MS, loadRuns, RunCache } from './run-cache.js';
import { writtenSteps } from './uncertain.js';
import { signalToEvent } from './signals.js';
import type { Pending } from './pending.js';
import type { ShardSet } from './shard-set.js';
import { shardOwnership } from './ownership.js';
import { RetentionSweeper } from './retention.js';
import { RetryTimers } from './retry-timers.js';
import { commitByShard, standingBy, type CommitDeps, type Fences, type Step } from './fencing.js';
import { Pipeline } from './pipeline.js';
import { closedError, StoreRetry } from './store-retry.js';
import { SignalListeners } from './signal-listeners.js';
import { requestEvents } from './requests.js';
import { byRunId, recordCommitted } from './batch-parts.js';
import { answer, stepBatch, type StepBatchDeps } from './step-batch.js';
import { GateKeeper } from './gate-keeper.js';

/** Default {@link CoordinatorOptions.gateSweepMs} where coordinators share a store with elections (PostgreSQL). */
const DEFAULT_GATE_SWEEP_MS = 2000;

/** What a signal's event resolves and rejects with: nobody awaits it (its delivery is acked or given back). */
const noop = (): void => undefined;

/** Steps runs in response to events. */
export class Coordinator {
  private readonly cache: RunCache;
  private readonly pipeline: Pipeline;
  private readonly storeRetry: StoreRetry;
  private readonly retryTimers: RetryTimers;
  /** Flow-control gates: task limits and rates. */
  private readonly gates: GateKeeper;
  private readonly clock: Clock;
  private readonly logger: Logger;
  /** The consumers of the signal queues of the shards it steps (from `start`). */
  private listeners: SignalListeners | undefined;
  /** The shards this process owns, with their leader epochs (stores with locks: PostgreSQL). */
  private shardSet: ShardSet | undefined;
  /** The store's number of shards. */
  private shardCount = 1;
  /** Automatic retention, when asked for (`options.retention`). */
  private readonly retention: RetentionSweeper | undefined;
  /** Held until {@link Coordinator.resume} when it is to be called. */
  private readonly poller: OutboxPoller;
  /** With `options.ownRun`: the runs it created (the poller carries them whatever `options.carries` says). */
  private readonly created: Set<string> | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Since when heartbeats are heard: start, election, or the store back after failures (see `leaseGraceMs`). */
  private hearingSince = 0;

  /** What stepping a batch's runs needs (one object, not closures per run and batch). */
  private readonly batchDeps: StepBatchDeps;
  /** What committing a batch needs (likewise). */
  private readonly commitDeps: CommitDeps;

  constructor(private readonly options: CoordinatorOptions) {
    this.created = options.ownRun === undefined ? undefined : new Set();
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.retention =
      options.retention === undefined
        ? undefined
        : new RetentionSweeper(options.retention, {
            store: options.store,
            clock: this.clock,
            logger: this.logger,
            // One sweeper per store: the owner of shard 0 where shards are elected (PostgreSQL), else this process.
            active: () => this.shardSet === undefined || this.shardSet.owned().includes(0),
          });
    this.pipeline = new Pipeline({
      commit: (batch) => this.commitBatch(batch),
      // The store is unreachable (a load failed): step them again later.
      failed: (batch, error) => this.storeRetry.later(batch, error),
    });
    this.storeRetry = new StoreRetry(this.clock, this.logger, (item) => this.enqueue(item));
    this.retryTimers = new RetryTimers({
      clock: this.clock,
      logger: this.logger,
      graceLeft: (event) => this.leaseGraceLeft(event),
      submit: (runId, event) => this.submit(runId, event),
    });
    this.gates = new GateKeeper({ store: options.store, clock: this.clock, logger: this.logger, submit: (runId, event) => this.submit(runId, event) });
    this.poller = new OutboxPoller({
      store: options.store,
      transport: options.transport,
      logger: this.logger,
      clock: this.clock,
      intervalMs: options.pollIntervalMs ?? 500,
      republishAfterMs: options.republishAfterMs ?? 5000,
      publishTimeoutMs: this.publishTimeoutMs,
      shards: () => this.shardSet?.owned(),
      graceLeft: (event) => this.leaseGraceLeft(event),
      submit: (runId, event) => this.submit(runId, event),
      gates: (commands) => this.gates.apply(commands),
      carries: (runId) => this.carries(runId),
      storeBack: () => {
        this.hearingSince = this.clock.now();
      },
    });
    this.cache = new RunCache(options.cacheSize ?? DEFAULT_CACHE_SIZE, options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS, this.clock);
    this.batchDeps = {
      step: {
        logger: this.logger,
        conditions: options.conditions ?? NO_CONDITIONS,
        maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
        requeue: (...later) => this.pipeline.push(...later),
        forget: (runId) => this.cache.delete(runId),
      },
      cache: this.cache,
      toCommit: (live, expectedRev, out) => this.toCommit(live, expectedRev, out),
    };
    this.commitDeps = {
      store: options.store,
      logger: this.logger,
      cache: this.cache,
      storeRetry: this.storeRetry,
      requeue: (...items) => this.pipeline.push(...items),
      fail: (item, error) => {
        item.delivery?.requeue();
        item.reject(error);
      },
      deposed: (shard, fence) => this.shardSet?.deposed(shard, fence),
      answered: (steps, durationMs) => {
        if (options.metrics !== undefined) recordCommitted(options.metrics, steps, durationMs, this.cache.size);
        if (this.storeRetry.succeeded()) this.hearingSince = this.clock.now();
      },
    };
  }

  /** The store this coordinator commits to. */
  get store(): Store {
    return this.options.store;
  }

  /**
   * How many runs the coordinator holds in its cache now: at most
   * `cacheSize` (see {@link CoordinatorOptions.cacheSize}). Read-only, for
   * monitoring and tests.
   */
  get cachedRuns(): number {
    return this.cache.size;
  }

  /** The time of the coordinator's clock (epoch ms), to stamp new runs. */
  now(): number {
    return this.clock.now();
  }

  /**
   * Starts taking signals and polling the outbox (with a durable transport, or a
   * durable store that other processes may change). `resume`: {@link Coordinator.resume}
   * will be called (once a worker takes the dispatches); the outbox is not
   * polled before, since resuming re-derives the work it holds.
   */
  async start(prefetch = 256, options: { resume?: boolean } = {}): Promise<void> {
    this.poller.held = options.resume === true;
    this.hearingSince = this.clock.now();
    if (this.options.transport.durable || this.options.store.kind !== 'memory') this.poller.start();
    this.retention?.start();
    const { store, transport } = this.options;
    // Several coordinators share the gates (PostgreSQL): a sweep admits after releases made by the others.
    const gateSweepMs = this.options.gateSweepMs ?? (store.tryLock === undefined ? 0 : DEFAULT_GATE_SWEEP_MS);
    if (gateSweepMs > 0) this.gates.start(gateSweepMs);
    const listeners = new SignalListeners(
      transport,
      prefetch,
      (batch) => this.onSignals(batch),
      (batch) => this.onRequests(batch),
    );
    this.listeners = listeners;
    const tryLock = store.tryLock?.bind(store);
    if (!transport.durable || tryLock === undefined) {
      await listeners.listen(0);
      return;
    }
    this.shardCount = store.shards;
    this.shardSet = shardOwnership({
      store,
      tryLock,
      key: this.options.leaderKey ?? 'default',
      ...(this.options.member === undefined ? {} : { member: this.options.member }),
      intervalMs: this.options.electionIntervalMs ?? 1000,
      clock: this.clock,
      logger: this.logger,
      onGained: async (shard) => {
        this.hearingSince = this.clock.now();
        await listeners.listen(shard);
      },
      onLost: async (shard) => {
        await listeners.stop(shard);
        this.cache.clear();
      },
    });
    this.shardSet.start();
  }

  private get publishTimeoutMs(): number {
    return this.options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
  }

  /** Whether commands go through the outbox: durable transport, or left for another process. */
  private get usesOutbox(): boolean {
    return this.options.transport.durable || this.options.carryOut === false;
  }

  /**
   * Non-durable transports: re-dispatches the work of every live run (after a
   * crash or a restart). Dispatches of those runs waiting in the outbox (left by
   * a client, the CLI, while no process owned the runs) are the same work: they
   * are deleted first, so that each attempt runs once.
   */
  async resume(ids: readonly string[]): Promise<void> {
    const { store } = this.options;
    try {
      if (ids.length === 0) return;
      const live = new Set(ids);
      const waiting = await store.dueOutbox(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
      await store.deleteOutbox(waiting.filter((item) => item.command.type === 'dispatch' && live.has(item.runId)).map((item) => item.id));
      await Promise.all(ids.map((id) => this.submit(id, { type: 'resume' })));
      // Permits whose release or admission a crash lost (a durable store outlives the process).
      if (store.kind !== 'memory') await this.gates.sweep();
    } finally {
      this.poller.held = false;
    }
  }

  /**
   * Whether this process acts for the shard of `key` (a run id, a schedule
   * name) now, and with which fence: `{ fence }` for a shard it owns, `{}`
   * where shards are not elected (stores of one process: every key is its
   * own, unfenced), undefined when another coordinator owns the shard.
   */
  shardOwner(key: string): { fence?: Fence } | undefined {
    const shardSet = this.shardSet;
    if (shardSet === undefined) return {};
    const fence = shardSet.fenceOf(shardOf(key, this.shardCount));
    return fence === undefined ? undefined : { fence };
  }

  /** The runs it created, carried out whatever `CoordinatorOptions.carries` says (none without `ownRun`). */
  ownRuns(): string[] {
    return [...(this.created ?? [])];
  }

  /** Whether the outbox poller carries out the items of run `runId` (see `CoordinatorOptions.carries`). */
  private carries(runId: string): boolean {
    return this.created?.has(runId) === true || (this.options.carries?.(runId) ?? true);
  }

  /** Saves a new run (already created and indexed) and starts it. */
  async create(live: LiveRun): Promise<void> {
    // Through the queue like any event: runs started together are created in one
    // store transaction and their first dispatches published together.
    if (this.created !== undefined) {
      this.created.add(live.state.id);
      await this.options.ownRun?.(live.state.id);
    }
    const pristine = copyRun(live.state);
    await new Promise<StepReport>((resolve, reject) => {
      this.enqueue({ runId: live.state.id, event: { type: 'start' }, create: live, pristine, resolve, reject, conflicts: 0, storeRetries: 0 });
    });
  }

  /**
   * Applies an event to a run; resolves once it is committed and its commands
   * are handed on. A client event carries an `eventId`: stepped again (after an
   * ambiguous commit), it is recognised and answers the run as it is.
   */
  submit(runId: string, event: EngineEvent, eventId?: string): Promise<StepReport> {
    return new Promise((resolve, reject) => {
      this.enqueue({ runId, event, resolve, reject, conflicts: 0, storeRetries: 0, ...(eventId === undefined ? {} : { eventId }) });
    });
  }

  /** Forgets cached runs (another process may have changed them). */
  invalidate(runId?: string): void {
    if (runId === undefined) this.cache.clear();
    else this.cache.delete(runId);
  }

  private onSignals(batch: Delivery<SignalMessage>[]): void {
    for (const delivery of batch) {
      this.enqueue({ runId: delivery.body.runId, event: signalToEvent(delivery.body), delivery, resolve: noop, reject: noop, conflicts: 0, storeRetries: 0 });
    }
  }

  /** Clients' requests (see `requests.ts`): stepped like this process's own client events, fenced like signals. */
  private onRequests(batch: RequestDelivery[]): void {
    const now = this.clock.now();
    for (const delivery of batch) for (const pending of requestEvents(delivery, now, this.logger)) this.enqueue(pending);
  }

  private enqueue(pending: Pending): void {
    if (this.closed) {
      // A parked event's retry coming due while the coordinator closes (its step's commit may have been written).
      pending.delivery?.requeue();
      pending.reject(closedError(pending));
      return;
    }
    this.pipeline.push(pending);
  }

  /** The fences of the shards owned now (undefined: no shards, every commit unfenced). */
  private fences(): Fences | undefined {
    const shardSet = this.shardSet;
    if (shardSet === undefined) return undefined;
    return { shardCount: this.shardCount, byShard: new Map(shardSet.owned().map((shard) => [shard, shardSet.fenceOf(shard)])) };
  }

  /** The pipeline's first stage: loads, steps and commits a batch; returns its hand-on (see `pipeline.ts`). */
  private async commitBatch(all: Pending[]): Promise<(() => Promise<void>) | undefined> {
    const fences = this.fences();
    const batch = fences === undefined ? all : standingBy(all, fences);
    const byRun = byRunId(batch);
    const cached = new Set([...byRun.keys()].filter((id) => this.cache.has(id)));
    const creating = new Set(batch.filter((p) => p.create !== undefined).map((p) => p.runId));
    const runs = await loadRuns(this.cache, this.options.store, [...byRun.keys()].filter((id) => !creating.has(id)));
    const created = new Map<string, LiveRun>();
    for (const pending of batch) {
      // A start whose earlier commit did not happen after all is created again.
      if (pending.create === undefined && pending.pristine !== undefined && pending.settleOnly !== true && !runs.has(pending.runId)) pending.create = liveRun(copyRun(pending.pristine));
      if (pending.create !== undefined) created.set(pending.runId, pending.create);
    }
    // Steps whose commits failed, now stepped again: carry out the commands of
    // those written after all (their events are applied: not stepped again).
    const uncertain = new Set(batch.flatMap((p) => (p.uncertain === undefined ? [] : [p.uncertain])));
    if (uncertain.size > 0) {
      const written = await writtenSteps(uncertain, runs, this.options.store);
      for (const pending of batch) {
        if (pending.uncertain !== undefined && written.includes(pending.uncertain)) pending.written = true;
        delete pending.uncertain;
      }
      await this.carryOut(written);
    }
    for (const [id, live] of created) runs.set(id, live);
    const now = this.clock.now();
    const { steps, answered } = stepBatch(byRun, runs, cached, now, this.batchDeps);
    const committed = steps.length === 0 ? [] : await commitByShard(steps, fences, created, this.commitDeps);
    // Settled runs (failed and stalled ones too) leave the cache: a later change reloads them.
    for (const { out } of committed) for (const command of out.commands) if (command.type === 'finished') this.cache.delete(command.runId);
    for (const { live, items } of committed) for (const item of items) answer(answered, item, live);
    return answered.length === 0 ? undefined : () => this.handOn(committed, answered);
  }

  /**
   * The pipeline's second stage: settles the signals of committed steps (each
   * step is committed, its commands in the outbox: nothing is lost if this
   * process dies now) while their commands are published, then answers the callers.
   * Never rejects.
   */
  private async handOn(committed: readonly Step[], answered: readonly Pending[]): Promise<void> {
    // The publish first (a transport may write it at once): the next hop of a lone run waits for it, not for the acks.
    const carried = this.carryOut(committed);
    for (const item of answered) {
      if (item.internal === undefined) item.delivery?.ack();
      else item.delivery?.reject(); // kept in the dead-letter queue for the operator
    }
    try {
      await carried;
      this.forgetFinished(committed);
    } catch (error) {
      // Committed all the same (with a durable transport, the outbox holds the commands).
      this.logger.error({ error: error instanceof Error ? error.stack : String(error) }, 'carrying out committed steps failed');
    }
    for (const item of answered) item.resolve(item.report as StepReport);
  }

  /**
   * Runs it created that have finished, their last commands carried out, are no
   * longer its own: it stops listing them ({@link Coordinator.ownRuns}), or a
   * long-lived process would hold every run it ever started. A finished run
   * changed again later is carried out by a process that resumes runs.
   */
  private forgetFinished(committed: readonly Step[]): void {
    if (this.created === undefined) return;
    for (const { out } of committed) for (const command of out.commands) if (command.type === 'finished') this.created.delete(command.runId);
  }

  private toCommit(live: LiveRun, expectedRev: number, out: StepOutput): StepCommit {
    let outbox: OutboxItem[] = [];
    if (this.usesOutbox) {
      const now = this.clock.now();
      outbox = outboxItems(live, out, this.options.carryOut === false ? now : now + (this.options.republishAfterMs ?? 5000));
    }
    return stepCommit(live.state, expectedRev, out, outbox);
  }

  /**
   * Hands the commands of committed steps to the transport (or to timers): all
   * dispatches of the batch in one publish, then one outbox delete.
   */
  private async carryOut(steps: readonly { live: LiveRun; out: StepOutput }[]): Promise<void> {
    const { transport, store } = this.options;
    if (this.options.carryOut === false) {
      for (const { out } of steps) void transport.announce(out.history);
      return;
    }
    await publishSteps(steps, {
      transport,
      store,
      logger: this.logger,
      timeoutMs: this.publishTimeoutMs,
      clock: this.clock,
      sentAt: this.options.metrics === undefined ? undefined : this.clock.now(),
      schedule: (command) => this.retryTimers.schedule(command),
      gates: (commands) => this.gates.apply(commands),
    });
  }

  /** How long the end of a lease must still wait (grace after an outage); 0 for any other event. */
  private leaseGraceLeft(event: EngineEvent): number {
    if (event.type !== 'lease.due') return 0;
    return this.hearingSince + (this.options.leaseGraceMs ?? 30_000) - this.clock.now();
  }

  /** Carries out what the outbox holds that is due: leftovers of crashed steps, retries, lease ends, work left by clients. */
  pollOutbox(): Promise<void> {
    return this.poller.poll();
  }

  /**
   * Closes in order: takes the signals already published (an embedded worker's
   * results of tasks that finished while it drained), stops polling the
   * outbox and taking signals, lets a poll in flight finish, gives up its shards,
   * finishes the batches in flight (see `pipeline.ts`), then cancels timers (retries stay in the
   * store: `resume` or another coordinator fires them). Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.options.transport.flush?.();
      this.closed = true;
      this.retryTimers.stop();
      // Stop polling first: releasing the lock may take its check timeout (a silent connection),
      // and a closing coordinator must not claim outbox items it can no longer step.
      this.poller.stop();
      await this.gates.close();
      await this.retention?.stop();
      // No signal is taken from now on (one taken while closed goes back to the queue: at once, to this consumer again;
      // a shard won meanwhile is held, taking nothing, until its lock is released below).
      await this.listeners?.close();
      // A poll in flight finishes (its publishes are bounded by their timeout; the steps it asks for are refused now).
      await this.poller.idle();
      await this.shardSet?.close();
      // Both batches in flight finish: the one being committed, and the one whose commands are being published.
      await this.pipeline.idle();
      this.retryTimers.clear();
      this.storeRetry.close();
    })();
    return this.closing;
  }
}
