/**
 * The client: start flows, notify events, get run handles. The same API embedded
 * and distributed; only the parts it is wired from differ (see `connect`).
 *
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto';
import type { JsonObject } from '../codec/json.js';
import { decodeFlowDefinition } from '../codec/definitions.js';
import { ConfigError, PartialNotifyError, UnknownScheduleError } from '../errors.js';
import { encodeValue } from '../codec/value.js';
import type { HistoryEntry } from '../engine/index.js';
import { checkPayload } from '../model/payload.js';
import { checkInputNames, checkName } from '../model/names.js';
import type { FlowDefinition } from '../model/definition.js';
import type { Flow } from '../model/flow.js';
import type { AnyTask } from '../model/task.js';
import type { AnyCondition } from '../model/condition.js';
import { checkPriority, withPriority, type Priority } from '../model/flow-control.js';
import type { RunFilter, RunSummary, TaskInfo, WorkerBeat } from '../store/port.js';
import { isLive } from '../worker/heartbeat.js';
import type { Subscription } from '../transport/port.js';
import type { RuntimeParts } from './parts.js';
import { ListenerLookup } from './listener-lookup.js';
import { RunHandle } from './run-handle.js';
import { startRun, validateStart } from './start-run.js';
import { ScheduleHandle } from './schedule-handle.js';
import { findSchedule, infoOf, putSchedule, type ScheduleInfo, type ScheduleOptions } from './schedules.js';

/** A task of the catalog (see {@link Client.tasks}). */
export type CatalogTask = TaskInfo & {
  /** The ids of the live workers that have it registered. */
  workers: string[];
};

/** Options of {@link Client.start}. */
export interface StartOptions {
  /**
   * Validate the flow first (cycles, missing inputs, duplicate providers, unknown tasks, unknown conditions).
   * Turned off, a cycle simply stalls, is reported by inspection and can be fixed mid-run.
   * @default true
   */
  validate?: boolean;
  /**
   * Run id. Starting a run id that exists with the same flow and inputs is a
   * no-op that returns its handle (a retried start never makes two runs); with
   * another flow or other inputs it rejects with `TW_CONFLICT`.
   * @default a random UUID
   */
  id?: string;
  /**
   * Start later, at this time (a `Date` or epoch ms): the run is stored now,
   * `scheduled` (listed, changeable, cancellable), and starts then, durably (a
   * process that restarts meanwhile sets its timer again; distributed, the
   * outbox holds it). A time already past starts it at once. Not with `delayMs`.
   */
  at?: Date | number;
  /** Start in this many milliseconds (as `at: now + delayMs`). Not with `at`. */
  delayMs?: number;
  /**
   * The run's priority: that of its task nodes that have none of their own
   * (`task.s(bound, { priority })`); see docs/flow-control.md.
   * @default 'normal'
   */
  priority?: Priority;
}

/** When a run starts ({@link StartOptions.at} or `delayMs`): epoch ms, or undefined for now. @throws ConfigError for both, or for a value that is not a time. */
function startTime(options: StartOptions, flow: string, now: number): number | undefined {
  if (options.at !== undefined && options.delayMs !== undefined) throw new ConfigError(`start of flow "${flow}": give at or delayMs, not both`);
  if (options.delayMs !== undefined) {
    if (!Number.isFinite(options.delayMs) || options.delayMs < 0) throw new ConfigError(`start of flow "${flow}": invalid delayMs ${options.delayMs}: expected a number of milliseconds >= 0`);
    return now + options.delayMs;
  }
  if (options.at === undefined) return undefined;
  const at = options.at instanceof Date ? options.at.getTime() : options.at;
  if (!Number.isFinite(at)) throw new ConfigError(`start of flow "${flow}": invalid at ${String(options.at)}: expected a Date or epoch milliseconds`);
  return at;
}

/** Options of {@link Client.notify}. */
export interface NotifyOptions {
  /**
   * Event id: a run receives at most one notification per id (of the last 64
   * client events it received), so notifying again with the same id after a
   * failure is safe.
   * @default a random UUID
   */
  id?: string;
  /** Only these runs (of those listening to the event). @default every listening run */
  runs?: readonly string[];
}

/** Starts flows and hands out run handles. Create one with `connect()`. */
export class Client {
  private readonly subscriptions: Subscription[] = [];
  private readonly listening: ListenerLookup;
  private closing: Promise<void> | undefined;

  /** @internal use `connect()` */
  constructor(
    private readonly parts: RuntimeParts,
    private readonly shutdown: () => Promise<void>,
  ) {
    this.listening = new ListenerLookup(parts.store);
  }

  /**
   * Registers tasks this process can execute (embedded) or knows by name. Flows
   * started from a `Flow` register theirs. May come after `connect()`: a run
   * found in the store at connect is resumed once every task it uses is registered.
   */
  register(...tasks: AnyTask[]): this {
    this.parts.registry.register(...tasks);
    this.parts.afterRegister?.();
    return this;
  }

  /**
   * Registers conditions that links name (`flow.link(a, b, { when })`): this
   * process's coordinator evaluates them. Flows started from a `Flow` register
   * theirs; a coordinator that steps runs started elsewhere needs them too
   * (`connect({ conditions })`). See docs/conditions.md.
   */
  registerConditions(...conditions: AnyCondition[]): this {
    this.parts.conditions.register(...conditions);
    return this;
  }

  /** Starts a run of a flow with optional flow inputs. */
  async start(flow: Flow | FlowDefinition, inputs: Record<string, unknown> = {}, options: StartOptions = {}): Promise<RunHandle> {
    const given = 'definition' in flow ? flow.definition() : decodeFlowDefinition(flow);
    const definition = withPriority(given, checkPriority(options.priority, `start of flow "${given.name}"`));
    if ('definition' in flow) this.register(...flow.tasks()).registerConditions(...flow.conditions());
    const encoded = checkInputNames(encodeValue(inputs, `the inputs of flow "${definition.name}"`) as JsonObject, `flow "${definition.name}": inputs`);
    const id = options.id === undefined ? randomUUID() : checkName(options.id, 'run id');
    const startAt = startTime(options, definition.name, this.parts.coordinator.now());
    await startRun(this.parts, { id, definition, inputs: encoded, validate: options.validate ?? true, ...(startAt === undefined ? {} : { startAt }) });
    return new RunHandle(id, this.parts);
  }

  /**
   * Creates (or updates) the durable cron schedule `name`: each tick of `cron`
   * starts a run of `flow` with `inputs`, id `<name>:<tick ISO time>`, fired
   * once per tick by whichever coordinator owns the schedule (docs/scheduling.md).
   * The flow is validated now; calling it again with the same name updates
   * the schedule (its next tick kept when the expression is unchanged).
   *
   * @throws ConfigError naming the schedule and the field for a bad name, cron expression, time zone or option.
   */
  async schedule(name: string, cron: string, flow: Flow | FlowDefinition, inputs: Record<string, unknown> = {}, options: ScheduleOptions = {}): Promise<ScheduleHandle> {
    const definition = 'definition' in flow ? flow.definition() : decodeFlowDefinition(flow);
    if ('definition' in flow) this.register(...flow.tasks()).registerConditions(...flow.conditions());
    const encoded = checkInputNames(encodeValue(inputs, `the inputs of schedule "${name}"`) as JsonObject, `schedule "${name}": inputs`);
    await validateStart(this.parts, definition, encoded);
    await putSchedule(this.parts.store, { name, cron, flow: definition, inputs: encoded, options }, this.parts.coordinator.now());
    this.parts.scheduleChanged?.();
    return this.scheduleHandle(name);
  }

  /** The schedules, by name. */
  async schedules(): Promise<ScheduleInfo[]> {
    return (await this.parts.store.listSchedules()).map(infoOf);
  }

  /**
   * A handle on an existing schedule.
   *
   * @throws UnknownScheduleError (`TW_UNKNOWN_SCHEDULE`) when there is none of that name.
   */
  async scheduled(name: string): Promise<ScheduleHandle> {
    if ((await findSchedule(this.parts.store, checkName(name, 'schedule name'))) === undefined) throw new UnknownScheduleError(name);
    return this.scheduleHandle(name);
  }

  private scheduleHandle(name: string): ScheduleHandle {
    return new ScheduleHandle(name, this.parts, () => this.parts.scheduleChanged?.());
  }

  /** Tasks known to this process and published by workers in the store's catalog, by name, each with the live workers that can execute it. */
  async tasks(): Promise<CatalogTask[]> {
    const [catalog, live] = await Promise.all([this.parts.store.tasks(), this.workers()]);
    const byName = new Map(catalog.map((t) => [t.name, t]));
    for (const info of this.parts.registry.infos()) byName.set(info.name, info);
    const sorted = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
    return sorted.map((t) => ({ ...t, workers: live.filter((w) => w.tasks.includes(t.name)).map((w) => w.id) }));
  }

  /**
   * The workers' heartbeat rows, by id: the live ones (a beat within three of
   * the worker's heartbeat intervals, 15 s by default), or every row with
   * `all` (stale ones too: dead workers, or cut off from the store).
   */
  async workers(options: { all?: boolean } = {}): Promise<WorkerBeat[]> {
    const rows = await this.parts.store.listWorkers();
    if (options.all === true) return rows;
    const now = Date.now();
    return rows.filter((w) => isLive(w, now));
  }

  /** A handle on an existing run. */
  run(id: string): RunHandle {
    return new RunHandle(checkName(id, 'run id'), this.parts);
  }

  /** Lists runs, newest first. */
  runs(filter?: RunFilter): Promise<RunSummary[]> {
    return this.parts.store.listRuns(filter);
  }

  /**
   * Notifies an external event: every live run with a node listening to `event`
   * receives `payload`, whose fields feed the listeners' inputs by name.
   * Resolves with the ids of the runs notified. A payload missing a field that
   * the event declares (`event(name, { provides })`) in any of those runs is
   * refused with `TW_VALIDATION`, naming the fields, and no run is notified.
   *
   * Each run receives one notification per event id (`options.id`, a random
   * one by default), even when a commit's outcome was unknown and it was
   * stepped again. When some runs were notified and others not (their store
   * calls failed), it rejects with a {@link PartialNotifyError} saying which;
   * notifying again with the same `id` reaches only the others. When no run
   * was notified, it rejects with the first run's error.
   */
  async notify(event: string, payload: Record<string, unknown> = {}, options: NotifyOptions = {}): Promise<string[]> {
    checkName(event, 'event name');
    const encoded = encodeValue(payload, `the payload of event "${event}"`) as JsonObject;
    const eventId = options.id ?? randomUUID();
    const runs = options.runs;
    const listeners = (await this.listening.of(event)).filter((listener) => runs === undefined || runs.includes(listener.runId));
    checkPayload(event, listeners, encoded);
    const runIds = [...new Set(listeners.map((listener) => listener.runId))];
    const outcomes = await this.parts.writer.notify(runIds, event, encoded, eventId);
    const notified: string[] = [];
    const failed: { runId: string; error: unknown }[] = [];
    outcomes.forEach((outcome, i) => {
      const runId = runIds[i] as string;
      if (outcome.status === 'fulfilled') notified.push(runId);
      else failed.push({ runId, error: outcome.reason });
    });
    if (failed.length === 0) return notified;
    if (notified.length === 0) throw (failed[0] as { error: unknown }).error;
    throw new PartialNotifyError(event, notified, failed);
  }

  /**
   * Calls `listener` for every history entry announced of runs matching `runId`
   * (default: all). Embedded, and distributed with `connect({ announce: 'all' })`,
   * that is every entry; distributed by default, outcomes and run statuses only
   * (no `node.started`, `rollback.started` or `event.notified`: docs/amqp.md).
   */
  async watch(listener: (entry: HistoryEntry) => void, runId = '*'): Promise<Subscription> {
    const subscription = await this.parts.transport.subscribe(`run.${runId}.#`, listener);
    this.subscriptions.push(subscription);
    return subscription;
  }

  /** Stops the client's parts in order (worker drains, coordinator finishes, connections close). Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const subscription of this.subscriptions) await subscription.cancel();
      await this.shutdown();
    })();
    return this.closing;
  }
}
