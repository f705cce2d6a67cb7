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
import { silentLogger, type Logger } from '../observability/logger.js';
import { backlogRows } from '../store/backlog.js';
import { FINAL_STATUSES, type Fence, type OutboxItem, type StepCommit, type Store } from '../store/port.js';
import type { Delivery, SignalMessage, Subscription } from '../transport/port.js';
import { systemClock, type Clock } from './clock.js';
import type { CoordinatorOptions, StepReport } from './options.js';
import { Election } from './election.js';
import { carryOutClaimed, outboxItems, scheduledEvent } from './outbox.js';
import { publishSteps } from './publish.js';
import { signalToEvent } from './signals.js';

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


/** Steps runs in response to events. */
export class Coordinator {
  private readonly cache = new Map<string, LiveRun>();
  private queue: Pending[] = [];
  private draining: Promise<void> | undefined;
  private readonly timers = new Set<unknown>();
  private readonly clock: Clock;
  private readonly logger: Logger;
  private subscription: Subscription | undefined;
  private election: Election | undefined;
  /** While elected: the leader epoch every commit carries. */
  private fence: Fence | undefined;
  private poller: unknown;
  /** Set until {@link Coordinator.resume} when it is to be called: the poller waits. */
  private pollHeld = false;
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
   * durable store that other processes may change). `resume`: {@link Coordinator.resume}
   * will be called (once a worker takes the dispatches); the outbox is not
   * polled before, since resuming re-derives the work it holds.
   */
  async start(prefetch = 256, options: { resume?: boolean } = {}): Promise<void> {
    this.pollHeld = options.resume === true;
    if (this.options.transport.durable || this.options.store.kind !== 'memory') this.schedulePoll();
    const { store, transport } = this.options;
    if (!transport.durable || store.tryLock === undefined) {
      this.subscription = await transport.consumeSignals({ prefetch }, (batch) => this.onSignals(batch));
      return;
    }
    this.election = new Election({
      tryLock: store.tryLock.bind(store),
      name: `coordinator:${this.options.leaderKey ?? 'default'}`,
      intervalMs: this.options.electionIntervalMs ?? 1000,
      clock: this.clock,
      logger: this.logger,
      onElected: async (fence) => {
        this.fence = fence;
        this.subscription = await transport.consumeSignals({ prefetch }, (batch) => this.onSignals(batch));
      },
      onDeposed: async () => {
        this.fence = undefined;
        await this.subscription?.cancel();
        this.subscription = undefined;
        this.cache.clear();
      },
    });
    this.election.start();
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
  async resume(): Promise<number> {
    const { store } = this.options;
    try {
      const ids = await store.liveRunIds();
      const live = new Set(ids);
      const waiting = await store.dueOutbox(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
      await store.deleteOutbox(waiting.filter((item) => item.command.type === 'dispatch' && live.has(item.runId)).map((item) => item.id));
      await Promise.all(ids.map((id) => this.submit(id, { type: 'resume' })));
      return ids.length;
    } finally {
      this.pollHeld = false;
    }
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

  private async process(all: Pending[]): Promise<void> {
    const fence = this.fence;
    const batch = this.election !== undefined && fence === undefined ? this.standingBy(all) : all;
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
      conflicts = new Set((await this.options.store.commit(commits, fence)).conflicts);
      this.record(steps, Date.now() - commitStart);
    } catch (error) {
      for (const { live } of steps) this.cache.delete(live.state.id);
      if ((error as { code?: unknown }).code === 'TW_FENCED') {
        this.fenced(steps.flatMap((s) => s.items), error);
        return;
      }
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

  /** A standby steps no signal: they go back to the broker, for the active coordinator. Returns the other events. */
  private standingBy(batch: Pending[]): Pending[] {
    for (const item of batch) item.delivery?.requeue();
    return batch.filter((item) => item.delivery === undefined);
  }

  /**
   * The store refused the batch: another coordinator was elected. Signals go
   * back to the broker (the new leader steps them); other events are stepped
   * again as a standby's (unfenced, like any client's), but a new run, already
   * stepped, is refused with the error.
   */
  private fenced(items: Pending[], error: unknown): void {
    this.logger.warn({ error: (error as Error).message, events: items.length }, 'commit refused: another coordinator was elected');
    this.fence = undefined;
    this.election?.deposed();
    for (const item of items) {
      if (item.delivery !== undefined) item.delivery.requeue();
      else if (item.create !== undefined) item.reject(error);
      else this.queue.push(item);
    }
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
      drained: [...out.drained],
      backlog: backlogRows(out.backlog),
    };
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
      sentAt: this.options.metrics === undefined ? undefined : this.clock.now(),
      schedule: (command) => this.scheduleRetry(command),
      finished: (command) => {
        if (FINAL_STATUSES.includes(command.status)) this.cache.delete(command.runId);
      },
    });
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
      // A standby leaves the outbox to the active coordinator: it steps no run.
      const standby = this.election !== undefined && this.fence === undefined;
      (standby || this.pollHeld ? Promise.resolve() : this.pollOutbox())
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
    await this.election?.close();
    if (this.poller !== undefined) this.clock.clearTimeout(this.poller);
    for (const handle of this.timers) this.clock.clearTimeout(handle);
    this.timers.clear();
    for (const item of this.parked) this.fail(item, new TaskwireError('TW_CLOSED', 'coordinator is closed'));
    this.parked.clear();
    await this.draining;
  }
}
