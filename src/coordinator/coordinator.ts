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
import { TaskwireError, UnknownRunError } from '../errors.js';
import { emptyOutput, liveRun, runHeader, step, type LiveRun, type StepOutput } from '../engine/index.js';
import type { Command, EngineEvent } from '../engine/events.js';
import type { RunStatus } from '../engine/state.js';
import type { Span } from '@opentelemetry/api';
import { silentLogger, type Logger } from '../observability/logger.js';
import { traceDispatch } from '../observability/tracing.js';
import type { TaskwireMetrics } from '../observability/metrics.js';
import { FINAL_STATUSES, type OutboxItem, type StepCommit, type Store, type StoreLock } from '../store/port.js';
import type { Delivery, DispatchMessage, SignalMessage, Subscription, Transport } from '../transport/port.js';
import { systemClock, type Clock } from './clock.js';
import { carryOutClaimed, outboxId, outboxItems, scheduledEvent } from './outbox.js';
import { signalToEvent } from './signals.js';

/** Options of {@link Coordinator}. */
export interface CoordinatorOptions {
  /** Where runs live. */
  store: Store;
  /** Where commands go. */
  transport: Transport;
  /** Time and timers. @default the system clock */
  clock?: Clock;
  /** Structured logger. */
  logger?: Logger;
  /** Metrics to record into. */
  metrics?: TaskwireMetrics;
  /**
   * Durable transports: an outbox item not deleted this long after its step is republished.
   * @default 5000
   */
  republishAfterMs?: number;
  /**
   * Carry out the commands of the steps this coordinator commits. Off, they stay
   * in the outbox for the coordinator that owns the runs (embedded: the process
   * executing them) to carry out.
   * @default true
   */
  carryOut?: boolean;
  /**
   * Name of the coordinator election (coordinators of one store and one bus share it).
   * @default "default"
   */
  leaderKey?: string;
  /**
   * How often a standby coordinator tries to become the active one.
   * @default 1000
   */
  electionIntervalMs?: number;
  /**
   * Durable transports: how often the outbox is polled for due retries and leftovers.
   * @default 500
   */
  pollIntervalMs?: number;
}

interface Pending {
  runId: string;
  event: EngineEvent;
  delivery?: Delivery<SignalMessage>;
  resolve: (run: StepReport) => void;
  reject: (error: unknown) => void;
  conflicts: number;
  storeRetries: number;
  /** A new run to create (its first step is `start`). */
  create?: LiveRun;
}

const MAX_CONFLICT_RETRIES = 20;
/** Client events give up after this many store failures (signals never do: the broker holds them). */
const MAX_STORE_RETRIES = 6;
const MAX_STORE_RETRY_DELAY_MS = 5000;

/** What {@link Coordinator.submit} resolves with: the run after the step. */
export interface StepReport {
  /** Run status after the step. */
  status: RunStatus;
  /** Graph version after the step. */
  graphVersion: number;
}

/** Steps runs in response to events. */
export class Coordinator {
  private readonly cache = new Map<string, LiveRun>();
  private queue: Pending[] = [];
  private draining: Promise<void> | undefined;
  private readonly timers = new Set<unknown>();
  private readonly clock: Clock;
  private readonly logger: Logger;
  private subscription: Subscription | undefined;
  private lock: StoreLock | undefined;
  private poller: unknown;
  private closed = false;
  /** Consecutive store failures, for the backoff of {@link Coordinator.retryLater}. */
  private storeFailures = 0;
  /** Events waiting for the store to come back. */
  private readonly parked = new Set<Pending>();

  constructor(private readonly options: CoordinatorOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
  }

  /** The store this coordinator commits to. */
  get store(): Store {
    return this.options.store;
  }

  /** The time of the coordinator's clock (epoch ms), to stamp new runs. */
  now(): number {
    return this.clock.now();
  }

  /**
   * Starts taking signals and polling the outbox (with a durable transport, or a
   * durable store that other processes may change).
   */
  async start(prefetch = 256): Promise<void> {
    if (this.options.transport.durable || this.options.store.kind !== 'memory') this.schedulePoll();
    const { store, transport } = this.options;
    if (!transport.durable || store.tryLock === undefined) {
      this.subscription = await transport.consumeSignals({ prefetch }, (batch) => this.onSignals(batch));
      return;
    }
    void this.campaign(store.tryLock.bind(store), prefetch);
  }

  /**
   * One active coordinator per store and bus: the others stand by. Signals of
   * one run then meet one cached copy of it, instead of two coordinators
   * stepping it in turn and conflicting. The holder of the store's lock takes
   * the signals; when its process dies, its lock goes with its connection and
   * a standby takes over within `electionIntervalMs`. (Optimistic concurrency
   * keeps any overlap safe.)
   */
  private async campaign(tryLock: NonNullable<Store['tryLock']>, prefetch: number): Promise<void> {
    if (this.closed) return;
    const again = (): void => {
      if (this.closed) return;
      const handle = this.clock.setTimeout(() => {
        this.timers.delete(handle);
        void this.campaign(tryLock, prefetch);
      }, this.options.electionIntervalMs ?? 1000);
      (handle as { unref?: () => void }).unref?.();
      this.timers.add(handle);
    };
    let lock: StoreLock | undefined;
    try {
      lock = await tryLock(`coordinator:${this.options.leaderKey ?? 'default'}`);
    } catch (error) {
      this.logger.warn({ error: (error as Error).message }, 'coordinator election failed; trying again');
    }
    if (lock === undefined || this.closed) {
      await lock?.release();
      again();
      return;
    }
    this.lock = lock;
    try {
      this.subscription = await this.options.transport.consumeSignals({ prefetch }, (batch) => this.onSignals(batch));
    } catch (error) {
      this.logger.warn({ error: (error as Error).message }, 'could not take signals; standing by');
      await lock.release();
      this.lock = undefined;
      again();
      return;
    }
    this.logger.info({}, 'active coordinator: taking signals');
    void lock.lost.then(async () => {
      if (this.closed || this.lock !== lock) return;
      this.logger.warn({}, 'lost the coordinator lock: standing by');
      this.lock = undefined;
      await this.subscription?.cancel();
      this.subscription = undefined;
      this.cache.clear();
      again();
    });
  }

  /** Whether commands go through the outbox: durable transport, or left for another process. */
  private get usesOutbox(): boolean {
    return this.options.transport.durable || this.options.carryOut === false;
  }

  /** Non-durable transports: re-dispatches the work of every live run (after a crash or a restart). */
  async resume(): Promise<number> {
    const ids = await this.options.store.liveRunIds();
    await Promise.all(ids.map((id) => this.submit(id, { type: 'resume' })));
    return ids.length;
  }

  /** Saves a new run (already created and indexed) and starts it. */
  async create(live: LiveRun): Promise<void> {
    // Through the queue like any event: runs started together are created in one
    // store transaction and their first dispatches published together.
    await new Promise<StepReport>((resolve, reject) => {
      this.enqueue({ runId: live.state.id, event: { type: 'start' }, create: live, resolve, reject, conflicts: 0, storeRetries: 0 });
    });
  }

  /** Applies an event to a run; resolves once it is committed and its commands are handed on. */
  submit(runId: string, event: EngineEvent): Promise<StepReport> {
    return new Promise((resolve, reject) => {
      this.enqueue({ runId, event, resolve, reject, conflicts: 0, storeRetries: 0 });
    });
  }

  /** Forgets cached runs (another process may have changed them). */
  invalidate(runId?: string): void {
    if (runId === undefined) this.cache.clear();
    else this.cache.delete(runId);
  }

  private onSignals(batch: Delivery<SignalMessage>[]): void {
    for (const delivery of batch) {
      const noop = (): void => undefined;
      this.enqueue({ runId: delivery.body.runId, event: signalToEvent(delivery.body), delivery, resolve: noop, reject: noop, conflicts: 0, storeRetries: 0 });
    }
  }

  private enqueue(pending: Pending): void {
    if (this.closed) {
      pending.delivery?.requeue();
      pending.reject(new TaskwireError('TW_CLOSED', 'coordinator is closed'));
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

  private async process(batch: Pending[]): Promise<void> {
    const byRun = new Map<string, Pending[]>();
    for (const pending of batch) {
      const list = byRun.get(pending.runId);
      if (list === undefined) byRun.set(pending.runId, [pending]);
      else list.push(pending);
    }
    const created = new Map<string, LiveRun>();
    for (const pending of batch) if (pending.create !== undefined) created.set(pending.runId, pending.create);
    const cached = new Set([...byRun.keys()].filter((id) => this.cache.has(id)));
    const runs = await this.loadRuns([...byRun.keys()].filter((id) => !created.has(id)));
    for (const [id, live] of created) runs.set(id, live);
    const now = this.clock.now();
    const steps: { live: LiveRun; out: StepOutput; items: Pending[] }[] = [];
    const commits: StepCommit[] = [];
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
      const out = emptyOutput();
      const applied: Pending[] = [];
      let broken = false;
      for (const item of items) {
        if (broken) {
          this.queue.push(item); // stepped again once the run is reloaded
          continue;
        }
        try {
          step(live, item.event, now, out);
          applied.push(item);
        } catch (error) {
          item.delivery?.ack(); // redelivering it would fail the same way
          item.reject(error);
          if (!(error instanceof TaskwireError)) {
            // An engine bug: the state may be half changed, so reload it from the store.
            this.logger.error({ runId, error: (error as Error).stack, event: item.event.type }, 'engine error; run reloaded');
            this.cache.delete(runId);
            this.queue.push(...applied);
            broken = true;
          }
        }
      }
      if (broken) continue;
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
    let conflicts: Set<string>;
    const commitStart = Date.now();
    try {
      conflicts = new Set((await this.options.store.commit(commits)).conflicts);
      this.record(steps, Date.now() - commitStart);
    } catch (error) {
      for (const { live } of steps) this.cache.delete(live.state.id);
      const items = steps.flatMap((s) => s.items);
      // A new run's state has been stepped already: its creator gets the error.
      for (const item of items) if (item.create !== undefined) item.reject(error);
      this.retryLater(
        items.filter((item) => item.create === undefined),
        error,
      );
      return;
    }
    this.storeFailures = 0;
    const committed = [];
    for (const entry of steps) {
      const { live, items } = entry;
      if (conflicts.has(live.state.id)) {
        this.cache.delete(live.state.id);
        for (const item of items) {
          if (item.create !== undefined) item.reject(new TaskwireError('TW_CONFLICT', `run "${item.runId}" already exists`));
          else if (++item.conflicts > MAX_CONFLICT_RETRIES) this.fail(item, new TaskwireError('TW_CONFLICT', `run "${item.runId}" keeps changing concurrently`));
          else this.queue.push(item);
        }
      } else {
        if (created.has(live.state.id)) this.cache.set(live.state.id, live);
        committed.push(entry);
      }
    }
    await this.carryOut(committed);
    for (const { live, items } of committed) for (const item of items) this.succeed(item, live);
  }

  private record(steps: { live: LiveRun; out: StepOutput; items: Pending[] }[], durationMs: number): void {
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
   * after a few tries, with the store's error.
   */
  private retryLater(items: Pending[], error: unknown): void {
    this.storeFailures++;
    const delayMs = Math.min(MAX_STORE_RETRY_DELAY_MS, 100 * 2 ** Math.min(this.storeFailures - 1, 6));
    this.logger.warn({ error: (error as Error).message, events: items.length, retryInMs: delayMs }, 'store unavailable; events will be stepped again');
    const kept: Pending[] = [];
    for (const item of items) {
      if (item.delivery === undefined && ++item.storeRetries > MAX_STORE_RETRIES) item.reject(error);
      else kept.push(item);
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

  private succeed(item: Pending, live: LiveRun): void {
    item.delivery?.ack();
    item.resolve({ status: live.state.status, graphVersion: live.state.graphVersion });
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
    await Promise.all(
      runIds
        .filter((id) => !runs.has(id))
        .map(async (id) => {
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
    const state = live.state;
    // A new run writes every node; a later step only those it changed.
    const nodes = expectedRev === 0 ? [...state.nodes.values()] : [];
    if (expectedRev !== 0) {
      for (const id of out.nodes) {
        const node = state.nodes.get(id);
        if (node !== undefined) nodes.push(node);
      }
    }
    let outbox: OutboxItem[] = [];
    if (this.usesOutbox) {
      const now = this.clock.now();
      outbox = outboxItems(live, out, this.options.carryOut === false ? now : now + (this.options.republishAfterMs ?? 5000));
    }
    return {
      run: runHeader(state),
      expectedRev,
      nodes,
      removed: [...out.removed],
      activations: [...out.activations.values()],
      history: out.history,
      outbox,
    };
  }

  /**
   * Hands the commands of committed steps to the transport (or to timers): all
   * dispatches of the batch in one publish, then one outbox delete.
   */
  private async carryOut(steps: readonly { live: LiveRun; out: StepOutput }[]): Promise<void> {
    const transport = this.options.transport;
    if (this.options.carryOut === false) {
      for (const { out } of steps) void transport.announce(out.history);
      return;
    }
    const dispatches: DispatchMessage[] = [];
    const spans: (Span | undefined)[] = [];
    const done: string[] = [];
    const sentAt = this.options.metrics === undefined ? undefined : this.clock.now();
    for (const { live, out } of steps) {
      const state = live.state;
      out.commands.forEach((command, i) => {
        const id = outboxId(state.id, state.rev, i);
        switch (command.type) {
          case 'dispatch': {
            const message: DispatchMessage = sentAt === undefined ? { ...command } : { ...command, sentAt };
            spans.push(traceDispatch(message, state.traceparent));
            dispatches.push(message);
            done.push(id);
            break;
          }
          case 'schedule':
            if (!transport.durable) this.scheduleRetry(command);
            break;
          case 'abort':
            done.push(id);
            void transport.abort([command]);
            break;
          case 'finished':
            if (FINAL_STATUSES.includes(command.status)) this.cache.delete(command.runId);
            break;
        }
      });
      void transport.announce(out.history);
    }
    if (done.length === 0) return;
    try {
      if (dispatches.length > 0) await transport.dispatch(dispatches);
      for (const span of spans) span?.end();
      // Off the critical path: the next step need not wait for it (a delete that
      // fails only makes the poller publish those items again).
      if (transport.durable) {
        this.options.store.deleteOutbox(done).catch((error: unknown) => this.logger.warn({ error: (error as Error).message }, 'outbox delete failed; the poller will publish those items again'));
      }
    } catch (error) {
      for (const span of spans) span?.end();
      // The outbox keeps them; the poller republishes.
      this.logger.warn({ error: (error as Error).message, runs: steps.length }, 'dispatch not confirmed; left in the outbox');
    }
  }

  private scheduleRetry(command: Extract<Command, { type: 'schedule' }>): void {
    const handle = this.clock.setTimeout(
      () => {
        this.timers.delete(handle);
        this.submit(command.runId, scheduledEvent(command)).catch((error: unknown) => this.logger.error({ error: (error as Error).message, runId: command.runId }, 'retry failed'));
      },
      Math.max(0, command.dueAt - this.clock.now()),
    );
    this.timers.add(handle);
  }

  private schedulePoll(): void {
    if (this.closed) return;
    this.poller = this.clock.setTimeout(() => {
      this.pollOutbox()
        .catch((error: unknown) => this.logger.warn({ error: (error as Error).message }, 'outbox poll failed'))
        .finally(() => this.schedulePoll());
    }, this.options.pollIntervalMs ?? 500);
    // Polling alone must not keep a process alive.
    (this.poller as { unref?: () => void }).unref?.();
  }

  /** Carries out what the outbox holds that is due: leftovers of crashed steps, retries, lease ends, work left by clients. */
  async pollOutbox(): Promise<void> {
    const { store, transport } = this.options;
    const items = await store.claimOutbox(this.clock.now(), 500, this.options.republishAfterMs ?? 5000);
    if (items.length > 0) await carryOutClaimed(items, { store, transport, logger: this.logger, submit: (runId, event) => this.submit(runId, event) });
  }

  /** Stops taking signals, finishes what is being stepped, cancels timers. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.subscription?.cancel();
    await this.lock?.release();
    if (this.poller !== undefined) this.clock.clearTimeout(this.poller);
    for (const handle of this.timers) this.clock.clearTimeout(handle);
    this.timers.clear();
    for (const item of this.parked) this.fail(item, new TaskwireError('TW_CLOSED', 'coordinator is closed'));
    this.parked.clear();
    await this.draining;
  }
}
