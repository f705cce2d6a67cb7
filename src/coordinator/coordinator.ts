/**
 * The coordinator: takes events (signals from workers, changes from clients,
 * retry timers), loads the run, steps the engine, saves the step, and hands the
 * commands to the transport. Events that arrive together are stepped together
 * and committed in one store transaction; signals are acknowledged only after
 * that commit. Several coordinators may work on one store at once: a step
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
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ClosedError, ConflictError, StoreError, UnknownRunError } from '../errors.js';
import { copyRun, liveRun, type LiveRun, type StepOutput } from '../engine/index.js';
import type { Command, EngineEvent } from '../engine/events.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import { stepCommit } from '../store/step-commit.js';
import type { Fence, OutboxItem, StepCommit, Store } from '../store/port.js';
import { shardOf } from '../model/shard.js';
import type { Delivery, RequestDelivery, SignalMessage } from '../transport/port.js';
import { systemClock, type Clock } from './clock.js';
import type { CoordinatorOptions, StepReport } from './options.js';
import { carryOutClaimed, outboxItems, scheduledEvent } from './outbox.js';
import { OutboxBackoff } from './outbox-backoff.js';
import { publishSteps } from './publish.js';
import { DEFAULT_PUBLISH_TIMEOUT_MS } from './bounded-publish.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../codec/parse.js';
import { DEFAULT_CACHE_SIZE, DEFAULT_CACHE_TTL_MS, RunCache } from './run-cache.js';
import { writtenSteps, type UncertainStep } from './uncertain.js';
import { signalToEvent } from './signals.js';
import { CLIENT_EVENTS, type Pending } from './pending.js';
import { stepRunEvents, type StepRunDeps } from './step-run-events.js';
import { ShardSet } from './shard-set.js';
import { SignalListeners } from './signal-listeners.js';
import { requestEvents } from './requests.js';

const MAX_CONFLICT_RETRIES = 20;
/** Client events give up after this many store failures (signals never do: the broker holds them). */
const MAX_STORE_RETRIES = 6;
const MAX_STORE_RETRY_DELAY_MS = 5000;
/** A coordinator's membership lasts this many heartbeat intervals without a heartbeat (see `ShardSet`). */
const MEMBERSHIP_TTL_INTERVALS = 3;
/** What a signal's event resolves and rejects with: nobody awaits it (its delivery is acked or given back). */
const noop = (): void => undefined;

/** A run's step in a batch: the run, the step's output and the events it applied. */
interface Step {
  live: LiveRun;
  out: StepOutput;
  items: Pending[];
}

/** Steps runs in response to events. */
export class Coordinator {
  private readonly cache: RunCache;
  private readonly outboxBackoff: OutboxBackoff;
  private queue: Pending[] = [];
  private draining: Promise<void> | undefined;
  private readonly timers = new Set<unknown>();
  private readonly clock: Clock;
  private readonly logger: Logger;
  /** The consumers of the signal queues of the shards it steps (from `start`). */
  private listeners: SignalListeners | undefined;
  /** The shards this process owns, with their leader epochs (stores with locks: PostgreSQL). */
  private shardSet: ShardSet | undefined;
  /** The store's number of shards. */
  private shardCount = 1;
  private poller: unknown;
  /** The outbox poll in flight, if any: close() waits for it. */
  private polling: Promise<void> | undefined;
  /** Set until {@link Coordinator.resume} when it is to be called: the poller waits. */
  private pollHeld = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Consecutive store failures, for the backoff of {@link Coordinator.retryLater}. */
  private storeFailures = 0;
  /** Events waiting for the store to come back. */
  private readonly parked = new Set<Pending>();
  /** Since when heartbeats are heard: start, election, or the store back after failures (see `leaseGraceMs`). */
  private hearingSince = 0;

  /** What stepping a run's events needs (one object, not closures per run and batch). */
  private readonly stepDeps: StepRunDeps;

  constructor(private readonly options: CoordinatorOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.stepDeps = {
      logger: this.logger,
      maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      requeue: (...later) => this.queue.push(...later),
      forget: (runId) => this.cache.delete(runId),
      onEngineError: (item, error) => this.onEngineError(item, error),
    };
    this.outboxBackoff = new OutboxBackoff(options.republishAfterMs ?? 5000);
    this.cache = new RunCache(options.cacheSize ?? DEFAULT_CACHE_SIZE, options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS, this.clock);
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
    this.pollHeld = options.resume === true;
    this.hearingSince = this.clock.now();
    if (this.options.transport.durable || this.options.store.kind !== 'memory') this.schedulePoll();
    const { store, transport } = this.options;
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
    const shardCount = store.shards;
    const key = this.options.leaderKey ?? 'default';
    const member = this.options.member ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const intervalMs = this.options.electionIntervalMs ?? 1000;
    this.shardCount = shardCount;
    this.shardSet = new ShardSet({
      shardCount,
      member,
      // Without a membership in the store, every coordinator wants every shard: the locks decide.
      heartbeat: async () => (store.heartbeat === undefined ? [member] : store.heartbeat(member, intervalMs * MEMBERSHIP_TTL_INTERVALS)),
      leave: async () => store.leave?.(member),
      tryLock,
      // One shard keeps the lock of the single election of earlier versions (a rolling upgrade keeps one leader).
      lockName: (shard) => (shardCount === 1 ? `coordinator:${key}` : `coordinator:${key}:shard:${shard}`),
      intervalMs,
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
    } finally {
      this.pollHeld = false;
    }
  }

  /** Saves a new run (already created and indexed) and starts it. */
  async create(live: LiveRun): Promise<void> {
    // Through the queue like any event: runs started together are created in one
    // store transaction and their first dispatches published together.
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
      pending.delivery?.requeue();
      pending.reject(new ClosedError('coordinator'));
      return;
    }
    this.queue.push(pending);
    this.draining ??= this.drain();
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          await this.process(batch);
        } catch (error) {
          // The store is unreachable (a load failed): step them again later.
          this.retryLater(batch, error);
        }
      }
    } finally {
      // Cleared in the same tick the queue is found empty: an event enqueued
      // later starts a new drain (clearing it in a later callback lost events
      // enqueued in between).
      this.draining = undefined;
    }
  }

  private async process(all: Pending[]): Promise<void> {
    const fences = this.shardSet === undefined ? undefined : new Map(this.shardSet.owned().map((shard) => [shard, this.shardSet?.fenceOf(shard)]));
    const batch = fences === undefined ? all : this.standingBy(all, fences);
    const byRun = new Map<string, Pending[]>();
    for (const pending of batch) {
      const list = byRun.get(pending.runId);
      if (list === undefined) byRun.set(pending.runId, [pending]);
      else list.push(pending);
    }
    const cached = new Set([...byRun.keys()].filter((id) => this.cache.has(id)));
    const creating = new Set(batch.filter((p) => p.create !== undefined).map((p) => p.runId));
    const runs = await this.loadRuns([...byRun.keys()].filter((id) => !creating.has(id)));
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
    const steps: Step[] = [];
    const commits: StepCommit[] = [];
    const deps = this.stepDeps;
    for (const [runId, items] of byRun) {
      const live = runs.get(runId);
      if (live === undefined) {
        for (const item of items) {
          item.delivery?.ack(); // a signal for a run this store does not hold cannot succeed later
          item.reject(new UnknownRunError(runId));
        }
        continue;
      }
      const expectedRev = live.state.rev;
      const stepped = stepRunEvents(live, items, now, deps);
      if (stepped === undefined) continue;
      const { out, applied } = stepped;
      if (out.history.length === 0 && out.nodes.size === 0 && out.activations.size === 0) {
        if (cached.has(runId)) {
          // A cached copy may be stale (another coordinator or a client stepped the
          // run since): the signal may report an execution it does not know yet.
          // Acking it would lose it; only a copy fresh from the store can tell a
          // duplicate or late signal from a new one, so step it again on one.
          if (this.cache.get(runId) === live) this.cache.delete(runId);
          this.queue.push(...applied);
          continue;
        }
        for (const item of applied) this.succeed(item, live); // duplicates and late signals
        continue;
      }
      live.state.rev = expectedRev + 1;
      commits.push(this.toCommit(live, expectedRev, out));
      steps.push({ live, out, items: applied });
    }
    if (commits.length === 0) return;
    // One commit per shard, each with its shard's fence (unfenced: events of shards this process does not own).
    const groups = new Map<number, { fence: Fence | undefined; steps: Step[]; commits: StepCommit[] }>();
    steps.forEach((step, i) => {
      const shard = fences === undefined ? -1 : shardOf(step.live.state.id, this.shardCount);
      const fence = fences?.get(shard);
      const key = fence === undefined ? -1 : shard;
      const group = groups.get(key) ?? { fence, steps: [], commits: [] };
      group.steps.push(step);
      group.commits.push(commits[i] as StepCommit);
      groups.set(key, group);
    });
    const results = await Promise.all([...groups.values()].map((group) => this.commitGroup(group.steps, group.commits, group.fence, created)));
    const committed = results.flat();
    // Settled runs (failed and stalled ones too) leave the cache: a later change reloads them.
    for (const { out } of committed) for (const command of out.commands) if (command.type === 'finished') this.cache.delete(command.runId);
    await this.carryOut(committed);
    for (const { live, items } of committed) for (const item of items) this.succeed(item, live);
  }

  /**
   * Commits the steps of one shard (with its fence) or of runs this process
   * does not own (unfenced). Returns the steps committed; the others are
   * stepped again (a conflict, a failed or ambiguous commit) or handed back
   * (fenced).
   */
  private async commitGroup(steps: Step[], commits: StepCommit[], fence: Fence | undefined, created: ReadonlyMap<string, LiveRun>): Promise<Step[]> {
    let conflicts: Set<string>;
    const commitStart = Date.now();
    try {
      conflicts = new Set((await this.options.store.commit(commits, fence)).conflicts);
      this.record(steps, Date.now() - commitStart);
    } catch (error) {
      for (const { live } of steps) this.cache.delete(live.state.id);
      if ((error as { code?: unknown }).code === 'TW_FENCED' && fence !== undefined) {
        // Refused, not ambiguous: nothing of the batch was written.
        this.fenced(
          steps.flatMap((s) => s.items),
          error,
          fence,
        );
        return [];
      }
      // Failed, or ambiguous (the connection dropped during COMMIT): stepped again
      // on a fresh load, where event ids and run ids tell what was written.
      for (const { live, out, items } of steps) {
        const uncertain: UncertainStep = { live, out, settled: false };
        for (const item of items) {
          item.uncertain = uncertain;
          delete item.create;
        }
      }
      this.retryLater(
        steps.flatMap((s) => s.items),
        error,
      );
      return [];
    }
    if (this.storeFailures > 0) this.hearingSince = this.clock.now();
    this.storeFailures = 0;
    const committed: Step[] = [];
    for (const entry of steps) {
      const { live, items } = entry;
      if (conflicts.has(live.state.id)) {
        this.cache.delete(live.state.id);
        for (const item of items) {
          if (item.create !== undefined) {
            delete item.create; // a run of that id exists: compared with this start on a fresh load
            this.queue.push(item);
          } else if (++item.conflicts > MAX_CONFLICT_RETRIES) this.fail(item, new ConflictError(item.runId, `run "${item.runId}" keeps changing concurrently`));
          else this.queue.push(item);
        }
      } else {
        if (created.has(live.state.id)) this.cache.set(live.state.id, live);
        committed.push(entry);
      }
    }
    return committed;
  }

  /**
   * A signal of a shard this process does not own (given up, or not won yet)
   * is not stepped: it goes back to the broker, for the shard's owner. Returns
   * the other events (client events are stepped, unfenced, as a client's).
   */
  private standingBy(batch: Pending[], fences: ReadonlyMap<number, Fence | undefined>): Pending[] {
    return batch.filter((item) => {
      if (item.delivery === undefined || fences.get(shardOf(item.runId, this.shardCount)) !== undefined) return true;
      item.delivery.requeue();
      return false;
    });
  }

  /**
   * The store refused a shard's commit: another coordinator owns the shard now. Signals go
   * back to the broker (the new leader steps them); other events are stepped
   * again as a standby's (unfenced, like any client's), but a new run, already
   * stepped, is refused with the error.
   */
  private fenced(items: Pending[], error: unknown, fence: Fence): void {
    this.logger.warn({ error: (error as Error).message, events: items.length, lock: fence.name, epoch: fence.epoch }, 'commit refused: another coordinator owns the shard');
    const shard = items[0] === undefined ? undefined : shardOf(items[0].runId, this.shardCount);
    if (shard !== undefined) this.shardSet?.deposed(shard, fence);
    for (const item of items) {
      if (item.delivery !== undefined) item.delivery.requeue();
      else if (item.create !== undefined) item.reject(error);
      else this.queue.push(item);
    }
  }

  private record(steps: Step[], durationMs: number): void {
    const metrics = this.options.metrics;
    if (metrics === undefined) return;
    metrics.committed(steps.reduce((n, s) => n + s.items.length, 0), durationMs);
    for (const { live, out, items } of steps) {
      for (const entry of out.history) {
        if (entry.type === 'node.retrying' && entry.node !== undefined) metrics.taskRetried(live.state.nodes.get(entry.node)?.def.name ?? entry.node);
      }
      for (const item of items) if (item.event.type === 'notify') metrics.notified(item.event.event);
    }
    metrics.setRunsActive(this.cache.size);
  }

  /**
   * The store failed (PostgreSQL restarting, say): the events are stepped again
   * after a backoff, from a fresh load. Signals stay unacknowledged meanwhile:
   * handing them back to the broker at once would burn their delivery limit in
   * a few seconds of outage. Events nobody else holds (client changes) give up
   * after a few tries, with the store's error (a step of theirs whose commit was
   * ambiguous is still found out: see {@link Coordinator.giveUp}).
   */
  private retryLater(items: Pending[], error: unknown): void {
    this.storeFailures++;
    const delayMs = Math.min(MAX_STORE_RETRY_DELAY_MS, 100 * 2 ** Math.min(this.storeFailures - 1, 6));
    this.logger.warn({ error: (error as Error).message, events: items.length, retryInMs: delayMs }, 'store unavailable; events will be stepped again');
    const kept: Pending[] = [];
    for (const item of items) {
      if (item.delivery !== undefined || item.settleOnly === true || ++item.storeRetries <= MAX_STORE_RETRIES || this.giveUp(item, error)) kept.push(item);
    }
    if (kept.length === 0) return;
    for (const item of kept) this.parked.add(item);
    const handle = this.clock.setTimeout(() => {
      this.timers.delete(handle);
      for (const item of kept) {
        this.parked.delete(item);
        this.enqueue(item);
      }
    }, delayMs);
    this.timers.add(handle);
  }

  /**
   * An event nobody else holds tried too often: its caller gets the store's
   * error. If its step's commit was ambiguous and is not found out yet, the
   * event is kept, settle-only (returns true): once the store answers, the step's
   * commands are carried out if it was written (the nodes it started must not stay
   * `running` with nothing executing them), and it is dropped otherwise.
   */
  private giveUp(item: Pending, error: unknown): boolean {
    item.reject(error);
    if (item.uncertain === undefined || item.uncertain.settled) return false;
    item.settleOnly = true;
    item.resolve = () => undefined;
    item.reject = () => undefined;
    return true;
  }

  /**
   * The engine threw on an event (see the module doc of `engine/internal-error`):
   * the first time it is stepped again on a fresh load; the second time a client
   * gets the error, and any other event is recorded as a `TW_INTERNAL` failure
   * of what it names, its signal dead-lettered rather than acknowledged.
   */
  private onEngineError(item: Pending, error: unknown): void {
    const context = { runId: item.runId, event: item.event.type, error: error instanceof Error ? error.stack : String(error) };
    if (item.create !== undefined) {
      this.logger.error(context, 'engine error on a new run; not created');
      item.reject(error);
    } else if (item.restepped !== true) {
      this.logger.warn(context, 'engine error; stepping the event again on a fresh load');
      item.restepped = true;
      this.queue.push(item);
    } else if (CLIENT_EVENTS.has(item.event.type)) {
      this.logger.error(context, 'engine error on a client event, again on a fresh load; the caller gets it');
      item.reject(error);
    } else {
      this.logger.error(context, 'engine error, again on a fresh load: recording it (TW_INTERNAL) and dead-lettering its message');
      item.internal = error;
      this.queue.push(item);
    }
  }

  private succeed(item: Pending, live: LiveRun): void {
    if (item.internal === undefined) item.delivery?.ack();
    else item.delivery?.reject(); // kept in the dead-letter queue for the operator
    item.resolve(item.report ?? { status: live.state.status, graphVersion: live.state.graphVersion });
  }

  private fail(item: Pending, error: unknown): void {
    item.delivery?.requeue();
    item.reject(error);
  }

  /**
   * The runs of a batch, from the cache or else from the store. The batch holds
   * on to them: an `invalidate()` while loading (a client's change) must not
   * make a cached run look unknown, which would drop its signals. A stale copy
   * is safe to step: its commit conflicts, and it is reloaded.
   */
  private async loadRuns(runIds: string[]): Promise<Map<string, LiveRun>> {
    const runs = new Map<string, LiveRun>();
    for (const id of runIds) {
      const cached = this.cache.get(id);
      if (cached !== undefined) runs.set(id, cached);
    }
    const missing = runIds.filter((id) => !runs.has(id));
    if (missing.length === 0) return runs; // all cached: no promises to wait for
    await Promise.all(
      missing.map(async (id) => {
        const state = await this.options.store.loadRun(id);
        if (state === undefined) return;
        const live = liveRun(state);
        this.cache.set(id, live);
        runs.set(id, live);
      }),
    );
    return runs;
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
      schedule: (command) => this.scheduleRetry(command),
    });
  }

  /** How long the end of a lease must still wait (grace after an outage); 0 for any other event. */
  private leaseGraceLeft(event: EngineEvent): number {
    if (event.type !== 'lease.due') return 0;
    return this.hearingSince + (this.options.leaseGraceMs ?? 30_000) - this.clock.now();
  }

  /**
   * A timer for a retry or a lease end (non-durable transports). One whose step
   * fails (the store is down for longer than a client event's tries) is tried
   * again later: the node must not stay `retrying` until the next restart.
   */
  private scheduleRetry(command: Extract<Command, { type: 'schedule' }>): void {
    if (this.closed) return; // the store holds it; `resume` schedules it again
    const handle = this.clock.setTimeout(
      () => {
        this.timers.delete(handle);
        const graceLeft = this.leaseGraceLeft(scheduledEvent(command));
        if (graceLeft > 0) return this.scheduleRetry({ ...command, dueAt: this.clock.now() + graceLeft });
        this.submit(command.runId, scheduledEvent(command)).catch((error: unknown) => {
          if (this.closed || error instanceof UnknownRunError) return;
          this.logger.warn({ error: (error as Error).message, runId: command.runId, node: command.node, retryInMs: MAX_STORE_RETRY_DELAY_MS }, 'retry not stepped; trying again');
          this.scheduleRetry({ ...command, dueAt: this.clock.now() + MAX_STORE_RETRY_DELAY_MS });
        });
      },
      Math.max(0, command.dueAt - this.clock.now()),
    );
    this.timers.add(handle);
  }

  private schedulePoll(): void {
    if (this.closed) return;
    this.poller = this.clock.setTimeout(() => {
      // A process that owns no shard leaves the outbox to those that do.
      const standby = this.shardSet !== undefined && this.shardSet.owned().length === 0;
      this.polling = (standby || this.pollHeld ? Promise.resolve() : this.pollOutbox())
        .catch((error: unknown) => this.logger.warn({ error: (error as Error).message }, 'outbox poll failed'))
        .finally(() => {
          this.polling = undefined;
          this.schedulePoll();
        });
    }, this.options.pollIntervalMs ?? 500);
    // Polling alone must not keep a process alive.
    (this.poller as { unref?: () => void }).unref?.();
  }

  /** Carries out what the outbox holds that is due: leftovers of crashed steps, retries, lease ends, work left by clients. */
  async pollOutbox(): Promise<void> {
    const { store, transport } = this.options;
    // Judged by the store's clock when it has one (shared by every poller), so
    // that a poller whose clock runs ahead does not take items others claimed.
    const now = (await store.clock?.()) ?? this.clock.now();
    // The shards owned now (they may have been given up while the clock was read): none, nothing to claim.
    const shards = this.shardSet?.owned();
    if (shards?.length === 0) return;
    const claimed = await store.claimOutbox(now, 500, this.options.republishAfterMs ?? 5000, shards);
    // An end of lease within the grace period is left claimed: it is due again once the claim ends.
    const items = claimed.filter((item) => item.command.type !== 'schedule' || this.leaseGraceLeft(scheduledEvent(item.command)) <= 0);
    if (items.length === 0) return;
    await carryOutClaimed(items, { store, transport, logger: this.logger, timeoutMs: this.publishTimeoutMs, clock: this.clock, backoff: this.outboxBackoff, now, submit: (runId, event) => this.submit(runId, event) });
  }

  /**
   * Closes in order: takes the signals already published (an embedded worker's
   * results of tasks that finished while it drained), stops polling the
   * outbox and taking signals, lets a poll in flight finish, gives up its shards,
   * finishes the batch being stepped, then cancels timers (retries stay in the
   * store: `resume` or another coordinator fires them). Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.options.transport.flush?.();
      this.closed = true;
      // Stop polling first: releasing the lock may take its check timeout (a silent connection),
      // and a closing coordinator must not claim outbox items it can no longer step.
      if (this.poller !== undefined) this.clock.clearTimeout(this.poller);
      // No signal is taken from now on (one taken while closed goes back to the queue: at once, to this consumer again;
      // a shard won meanwhile is held, taking nothing, until its lock is released below).
      await this.listeners?.close();
      // A poll in flight finishes (its publishes are bounded by their timeout; the steps it asks for are refused now).
      await this.polling;
      await this.shardSet?.close();
      await this.draining;
      for (const handle of this.timers) this.clock.clearTimeout(handle);
      this.timers.clear();
      // An event whose step's commit was ambiguous may be applied: its caller is told so (TW_STORE), not TW_CLOSED.
      for (const item of this.parked) this.fail(item, item.uncertain !== undefined && !item.uncertain.settled ? new StoreError('the coordinator closed before it could tell whether the step was written') : new ClosedError('coordinator'));
      this.parked.clear();
    })();
    return this.closing;
  }
}
