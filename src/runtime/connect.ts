/**
 * `connect()`: wires the parts. Embedded by default (one process: in-process
 * transport, a worker and a coordinator, state in a SQLite file); distributed
 * with a broker URL (RabbitMQ) and a PostgreSQL store. Drivers are imported only
 * by the wiring that needs them.
 *
 * @packageDocumentation
 */
import { resolveMaxMessageBytes } from '../transport/limits.js';
import { hostname } from 'node:os';
import { Client } from '../client/client.js';
import type { RuntimeParts } from '../client/parts.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, RemoteWriter } from '../client/remote-writer.js';
import { localWriter } from '../client/writer.js';
import { Coordinator } from '../coordinator/coordinator.js';
import type { Clock } from '../coordinator/clock.js';
import type { RetentionOptions } from '../coordinator/retention.js';
import type { AnyTask } from '../model/task.js';
import { ConditionRegistry, type AnyCondition } from '../model/condition.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import type { TaskwireMetrics } from '../observability/metrics.js';
import type { Store } from '../store/port.js';
import type { AnnounceMode } from '../transport/amqp/announce.js';
import type { SigningOptions } from '../transport/amqp/signing.js';
import type { Transport } from '../transport/port.js';
import { ANY_QUEUE, InProcessTransport } from '../transport/inprocess/index.js';
import { TaskRegistry } from '../worker/registry.js';
import { Worker } from '../worker/worker.js';
import { checkDeployment } from './deployment.js';
import { openStore } from './open-store.js';
import { Resumer } from './resume.js';
import { shutdown } from './shutdown.js';
import { ScheduleTicker } from './schedule-ticker.js';
import { startRun } from '../client/start-run.js';
import { systemClock } from '../coordinator/clock.js';
import { checkKeys, optionKeys } from '../model/options.js';

/**
 * Options of {@link connect}. Every field has a default; `connect()` alone runs
 * embedded. As for the CLI, `store`, `broker`, `prefix` and `schema` come from
 * the option, then the `TASKWIRE_STORE_URL`, `TASKWIRE_BROKER_URL`,
 * `TASKWIRE_PREFIX` and `TASKWIRE_SCHEMA` environment variables (empty counts
 * as unset), then the default.
 */
export interface ConnectOptions {
  /**
   * Where runs live: a {@link Store}, `"memory"`, a SQLite file path (or
   * `sqlite:<path>`), or a `postgres://` URL.
   * @default embedded: the SQLite file `.taskwire/taskwire.db` under the current directory (or `TASKWIRE_STORE_URL`)
   */
  store?: Store | string;
  /**
   * AMQP URL of RabbitMQ: runs distributed. Left out: embedded (in-process transport).
   * @default `TASKWIRE_BROKER_URL`, else embedded
   */
  broker?: string;
  /**
   * Distributed: message signing (HMAC over every AMQP message; docs/security.md). `false` turns it off.
   * @default on when `TASKWIRE_SIGNING_KEY` is set (and `TASKWIRE_SIGNING_KEY_PREVIOUS` accepted too)
   */
  signing?: SigningOptions | false;
  /**
   * Distributed: which history entries this process's coordinator announces to
   * watchers (`watch()`, `taskwire run`'s progress): `outcomes` (no `node.started`,
   * `rollback.started` nor `event.notified`) or `all` (docs/amqp.md).
   * @default `TASKWIRE_ANNOUNCE`, else `outcomes`
   */
  announce?: AnnounceMode;
  /** Tasks this process executes (embedded) or knows. Flows started from a `Flow` register theirs. */
  tasks?: AnyTask[];
  /**
   * Conditions this process's coordinator evaluates (those conditional links
   * name: docs/conditions.md). Flows started from a `Flow` register theirs;
   * a coordinator that steps runs started elsewhere needs them here.
   */
  conditions?: AnyCondition[];
  /**
   * Run a worker in this process.
   * @default true embedded, false distributed
   */
  worker?: boolean;
  /**
   * Run a coordinator (take signals) in this process.
   * @default true embedded, false distributed
   */
  coordinator?: boolean;
  /**
   * Worker concurrency: tasks executed at once per queue.
   * @default 16
   */
  concurrency?: number;
  /** Work queues the worker takes (default: those of its tasks). */
  queues?: string[];
  /**
   * Resume live runs found in the store at connect (embedded with a durable store).
   * A run is resumed once every task it uses is registered: at connect (`tasks`),
   * or later with `client.register()` or by starting a flow that uses them;
   * until then it is left as it was. Without it, the process carries out only
   * the runs it starts, and its worker's heartbeat row lists them (`WorkerBeat.runs`).
   * @default true when embedded with a file store
   */
  resume?: boolean;
  /**
   * Prefix of every AMQP exchange and queue name (distributed): processes that
   * work together share it; different prefixes on one broker do not see each other.
   * @default `TASKWIRE_PREFIX`, else "taskwire"
   */
  prefix?: string;
  /**
   * PostgreSQL schema holding the tables (with a `postgres://` store).
   * @default `TASKWIRE_SCHEMA`, else "taskwire"
   */
  schema?: string;
  /** Structured logger (pino fits). @default silent */
  logger?: Logger;
  /** Prometheus metrics to record into (serve `metrics.registry`). */
  metrics?: TaskwireMetrics;
  /**
   * Clock for the coordinator's retries and timers (tests pass a fake one). The
   * worker's heartbeats, close grace and task timeouts keep real time
   * (`WorkerOptions.clock` for a worker built by hand).
   */
  clock?: Clock;
  /**
   * Who changes runs, as recorded in their history.
   * @default `<user>@<hostname>`
   */
  actor?: string;
  /**
   * Distributed: an execution still running after this long is acknowledged
   * early and held by a lease (see `WorkerOptions.leaseAfterMs`).
   * @default 1200000 (20 minutes)
   */
  leaseAfterMs?: number;
  /**
   * Length of such a lease, renewed every third of it.
   * @default 300000 (5 minutes)
   */
  leaseMs?: number;
  /**
   * The largest encoded message, in bytes, in every mode: a start, notify or change
   * whose work would exceed it rejects with `TW_TOO_LARGE`, a node whose inputs
   * exceed it fails with that code, and a task result whose signal is larger fails
   * its task at once (not retried); distributed, the broker messages too.
   * @default `TASKWIRE_MAX_MESSAGE_BYTES`, else 1048576 (1 MiB)
   */
  maxMessageBytes?: number;
  /**
   * Grace period after an outage before the end of a lease is acted on (see `CoordinatorOptions.leaseGraceMs`).
   * @default 30000
   */
  leaseGraceMs?: number;
  /**
   * Automatic retention by this process's coordinator: finished runs older
   * than `olderThanMs` are deleted in the background (see `CoordinatorOptions.retention`).
   * @default off (runs are kept)
   */
  retention?: RetentionOptions;
  /**
   * How long a closing worker lets running tasks finish, in milliseconds.
   * @default 10000
   */
  shutdownGraceTimeMs?: number;
  /**
   * How many finished dispatches a worker remembers, with their outcome, so that
   * a duplicate delivery is never executed again (see `WorkerOptions.recentDispatches`).
   * @default 10000
   */
  recentDispatches?: number;
  /**
   * How often a worker writes its heartbeat row in the store (`taskwire
   * workers`; the task catalog's live workers), in milliseconds.
   * @default 5000
   */
  heartbeatMs?: number;
  /**
   * A worker reports an execution still running this long after it started
   * (its node turns from `queued` to `running`); shorter ones carry their start
   * in their outcome (see `WorkerOptions.reportStartAfterMs`), in milliseconds; 0 reports every start.
   * @default 100
   */
  reportStartAfterMs?: number;
  /**
   * Most runs the coordinator keeps in memory between events (least recently used evicted first).
   * @default 5000
   */
  cacheSize?: number;
  /**
   * A run the coordinator keeps in memory is forgotten after this long unused, in milliseconds.
   * @default 300000 (5 minutes)
   */
  cacheTtlMs?: number;
  /**
   * Distributed: how long a `start`, `notify` or change waits for the coordinator
   * of the run's shard to answer, in milliseconds; past it, it rejects with
   * `TW_TIMEOUT` (`RequestTimeoutError`: no coordinator owns the shard, is one running?).
   * @default 30000
   */
  requestTimeoutMs?: number;
  /**
   * Fire the cron schedules' ticks in this process (`tw.schedule`; a ticker
   * beside the coordinator: docs/scheduling.md). Distributed, only the owner
   * of a schedule's shard fires it.
   * @default true where a coordinator runs and resumes runs (embedded with a memory store, `taskwire serve`, distributed coordinators); false for `resume: false`
   */
  schedules?: boolean;
}

const CONNECT_KEYS = optionKeys<ConnectOptions>({
  store: true,
  broker: true,
  tasks: true,
  conditions: true,
  worker: true,
  coordinator: true,
  concurrency: true,
  queues: true,
  resume: true,
  prefix: true,
  schema: true,
  logger: true,
  metrics: true,
  clock: true,
  actor: true,
  leaseAfterMs: true,
  leaseMs: true,
  shutdownGraceTimeMs: true,
  recentDispatches: true,
  heartbeatMs: true,
  reportStartAfterMs: true,
  maxMessageBytes: true,
  cacheSize: true,
  cacheTtlMs: true,
  leaseGraceMs: true,
  retention: true,
  signing: true,
  announce: true,
  requestTimeoutMs: true,
  schedules: true,
});

/**
 * Connects a client: embedded when no broker is given, distributed otherwise.
 *
 * @example
 * const tw = await connect({ store: 'memory' });
 * const run = await tw.start(flo);
 * await run.wait();
 */
export async function connect(options: ConnectOptions = {}): Promise<Client> {
  checkKeys(options, CONNECT_KEYS, 'connect');
  const opened: { close(): Promise<void> }[] = [];
  try {
    return await wire(options, opened);
  } catch (error) {
    // Nothing may outlive a failed connect: an open connection would keep the
    // process alive (a CLI worker that printed its error would never exit).
    for (const part of opened.reverse()) await part.close().catch(() => undefined);
    throw error;
  }
}

/** An environment variable's value; unset and empty are the same. */
function fromEnv(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** Wires the parts of {@link connect}, pushing each one opened onto `opened`. */
async function wire(options: ConnectOptions, opened: { close(): Promise<void> }[]): Promise<Client> {
  const logger = options.logger ?? silentLogger;
  const brokerUrl = options.broker ?? fromEnv('TASKWIRE_BROKER_URL');
  const distributed = brokerUrl !== undefined;
  const prefix = options.prefix ?? fromEnv('TASKWIRE_PREFIX');
  const schema = options.schema ?? fromEnv('TASKWIRE_SCHEMA');
  const store = await openStore(options.store ?? fromEnv('TASKWIRE_STORE_URL'), { distributed, ...(schema === undefined ? {} : { schema }) });
  opened.push(store);
  // Workers and coordinators are other processes: they must all see one store.
  checkDeployment({ distributed, store, brokerFromOption: options.broker !== undefined });
  // One limit for the client, the coordinator and the transport (option, then TASKWIRE_MAX_MESSAGE_BYTES, then 1 MiB).
  const maxMessageBytes = resolveMaxMessageBytes(options.maxMessageBytes);
  let transport: Transport;
  if (distributed) {
    const { connectAmqp } = await import('../transport/amqp/index.js');
    transport = await connectAmqp({
      url: brokerUrl,
      logger,
      ...(prefix === undefined ? {} : { prefix }),
      maxMessageBytes,
      // The signal queues: one per shard of the store (set at migrate).
      shards: store.shards,
      ...(options.signing === undefined ? {} : { signing: options.signing }),
      ...(options.announce === undefined ? {} : { announce: options.announce }),
    });
    opened.push(transport);
  } else {
    transport = new InProcessTransport({ logger, maxMessageBytes });
    opened.push(transport);
  }
  const registry = new TaskRegistry().register(...(options.tasks ?? []));
  const conditions = new ConditionRegistry().register(...(options.conditions ?? []));
  const metrics = options.metrics === undefined ? {} : { metrics: options.metrics };
  const roles = { worker: options.worker ?? !distributed, coordinator: options.coordinator ?? !distributed };
  // Embedded, a process that neither executes nor coordinates (the CLI changing a run
  // owned by another process) leaves its commands in the store's outbox for the owner.
  const carryOut = distributed || roles.worker || roles.coordinator;
  const resume = options.resume ?? (!distributed && store.kind !== 'memory');
  // Embedded, a process carries out the outbox items of the runs it resumes and creates only: a
  // run whose tasks it lacks, or (without `resume`) a run of another process, is left to one that has them.
  const resuming: { resumer?: Resumer; worker?: Worker } = {};
  // Such a run is listed in the worker's heartbeat row (written before the run is saved): the CLI then knows a process executes it.
  // Resuming, it carries out the runs whose tasks it has (checked by the Resumer), its own included.
  const carries = distributed
    ? undefined
    : resume
      ? { carries: (runId: string) => resuming.resumer?.carries(runId) === true }
      : { carries: () => false, ownRun: async () => resuming.worker?.beatNow() };
  const coordinator = new Coordinator({
    store,
    transport,
    conditions,
    logger,
    carryOut,
    ...carries,
    leaderKey: prefix ?? 'taskwire',
    ...metrics,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.cacheSize === undefined ? {} : { cacheSize: options.cacheSize }),
    maxMessageBytes,
    ...(options.cacheTtlMs === undefined ? {} : { cacheTtlMs: options.cacheTtlMs }),
    ...(options.leaseGraceMs === undefined ? {} : { leaseGraceMs: options.leaseGraceMs }),
    ...(options.retention === undefined ? {} : { retention: options.retention }),
  });
  opened.push(coordinator);
  if (roles.coordinator) await coordinator.start(undefined, { resume });
  let worker: Worker | undefined;
  if (roles.worker) {
    worker = new Worker({
      transport,
      registry,
      logger,
      ...metrics,
      concurrency: options.concurrency ?? 16,
      // Embedded, one worker takes every queue; distributed, the queues of its tasks unless told.
      ...(options.queues !== undefined ? { queues: options.queues } : distributed ? {} : { queues: [ANY_QUEUE] }),
      ...(options.shutdownGraceTimeMs === undefined ? {} : { shutdownGraceTimeMs: options.shutdownGraceTimeMs }),
      ...(options.leaseAfterMs === undefined ? {} : { leaseAfterMs: options.leaseAfterMs }),
      ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
      ...(options.recentDispatches === undefined ? {} : { recentDispatches: options.recentDispatches }),
      store,
      ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
      ...(options.reportStartAfterMs === undefined ? {} : { reportStartAfterMs: options.reportStartAfterMs }),
      // Embedded without resuming, it carries out only the runs it starts: its beats list them.
      ...(distributed || resume ? {} : { runs: () => coordinator.ownRuns() }),
    });
    resuming.worker = worker;
    opened.push(worker);
    await worker.start();
    // Publish what this worker executes, so clients without the code can name its tasks.
    await store.registerTasks(registry.infos());
  }
  // Runs whose tasks are not all registered yet resume once they are (client.register()).
  const resumer = resume ? new Resumer(store, coordinator, registry, logger) : undefined;
  if (resumer !== undefined) resuming.resumer = resumer;
  await resumer?.start();
  const actor = options.actor ?? `${process.env['USER'] ?? 'user'}@${hostname()}`;
  // Distributed, the coordinator of each run's shard steps the client's events (one writer per run).
  const request = transport.request?.bind(transport);
  const writer = request === undefined ? localWriter(coordinator) : new RemoteWriter(request, store.shards, options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
  const parts: RuntimeParts = { store, transport, coordinator, writer, registry, conditions, actor, pollIntervalMs: distributed ? 500 : 1000, ...(resumer === undefined ? {} : { afterRegister: () => void resumer.registered() }) };
  // Each tick's run is started as a client's start (validated when the schedule was made).
  const ticker = (options.schedules ?? (roles.coordinator && (resume || distributed || store.kind === 'memory')))
    ? new ScheduleTicker({
        store,
        clock: options.clock ?? systemClock,
        logger,
        owner: (name) => coordinator.shardOwner(name),
        start: (row, runId) => startRun(parts, { id: runId, definition: row.flow, inputs: row.inputs, validate: false }),
        status: async (runId) => (await store.listRuns({ idPrefix: runId, limit: 10 })).find((run) => run.id === runId)?.status,
      })
    : undefined;
  if (ticker !== undefined) {
    parts.scheduleChanged = () => ticker.poke();
    ticker.start();
  }
  return new Client(parts, () => shutdown({ coordinator, transport, store, ...(ticker === undefined ? {} : { ticker }), ...(resumer === undefined ? {} : { resumer }), ...(worker === undefined ? {} : { worker }) }));
}
