/**
 * One simulated seed: the real Coordinator, Worker and Client on the real store
 * adapter, wired to the simulated bus, store views and clock, driven through a
 * fault phase (crashes and graceful restarts, store failures and outages,
 * ambiguous commits, duplicated, redelivered and refused messages, long tasks
 * under leases, live changes and notifications), then healed and run until
 * quiet, then checked (see `checks.ts`, `closing.ts`, `leases.ts`).
 */
import { Client } from '../../src/client/client.js';
import type { RuntimeParts } from '../../src/client/parts.js';
import { localWriter } from '../../src/client/writer.js';
import { RunHandle } from '../../src/client/run-handle.js';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import type { CoordinatorOptions } from '../../src/coordinator/options.js';
import type { NodeState, RunState } from '../../src/engine/state.js';
import { PartialNotifyError } from '../../src/errors.js';
import type { FlowDefinition } from '../../src/model/definition.js';
import type { Flow } from '../../src/model/flow.js';
import { ConditionRegistry } from '../../src/model/condition.js';
import type { AnyTask } from '../../src/model/task.js';
import type { Logger, LogFields } from '../../src/observability/logger.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import type { Store } from '../../src/store/port.js';
import type { Transport } from '../../src/transport/port.js';
import { shutdown } from '../../src/runtime/shutdown.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { TaskRegistry } from '../../src/worker/registry.js';
import { Worker } from '../../src/worker/worker.js';
import { checkWorld, type CallRecords, type StartRecord } from './checks.js';
import { checkClosing, type GracefulExit } from './closing.js';
import { LeaderWatch, planLockFaults, postgresLockFaults, simLockFaults } from './election.js';
import { checkLeases, CONSUMER_TIMEOUT_MS, WORKER_LEASE } from './leases.js';
import type { Kind, SimOptions } from './options.js';
import { LOCK_CHECK, SimDatabase } from './postgres.js';
import { Random } from './random.js';
import { Watch as ResourceWatch, type CacheOwner } from './resources.js';
import { Scheduler, type SimClock, type SimProcess } from './scheduler.js';
import { checkSizes } from './size-checks.js';
import { buildSizeFlows, buildSizeTasks, generateSizes, SIZE_EVENT, sizePayload, type SizeWorkload } from './sizes.js';
import { SimStore, type Sharding, type StoreFaults } from './store.js';
import { drawShards, Membership, ShardedOutbox, SimLocks } from './shards.js';
import { PRIVATE_STORES_SHARE, PrivateStores, withPrivateStores } from './deployment.js';
import { SIM_DELIVERY_LIMIT } from './dead-letters.js';
import { SIM_MAX_MESSAGE_BYTES, SimBroker, type BusFaults } from './transport.js';
import { buildFlow, buildTasks, generateWorkload, SKIP_VALUE, taskName, type Action, type Execution, type RunPlan, type Workload } from './workload.js';

/**
 * `shard-owned`: every shard has a live owner this long after the last start or
 * end of a process, once the faults stopped and the store is back: a dead
 * member's row expires (3 s), a silent lock session is dropped (4 s) or noticed
 * (3 s), and a heartbeat (1 s) takes the shard.
 */
const SHARD_OWNED_WITHIN_MS = 10_000;
/** Faults happen in this first window of simulated time. */
const FAULT_WINDOW_MS = 8000;
/** After the faults, the world must be quiet within this much simulated time. */
const SETTLE_BUDGET_MS = 300_000;
/** Trace lines kept for a failure report (`SIM_TRACE_TAIL` overrides it, for a whole trace). */
const TRACE_TAIL = Number(process.env.SIM_TRACE_TAIL) || 80;
/** Largest offset of a process's clock (`clock-skew`), ahead or behind. */
const MAX_SKEW_MS = 3000;
/**
 * Largest skew in a seed whose tasks hold leases (long tasks, a slow gate):
 * a lease's end is judged by the active coordinator's clock, so leases assume
 * clocks that agree to well within a lease (1.2 s here, renewed every 400 ms).
 */
const LEASED_SKEW_MS = 100;

/** What a seed reports. */
export interface SeedReport {
  seed: number;
  /** Invariant violations; empty when the seed passed. */
  violations: string[];
  /** The last lines of the trace (what happened, in simulated ms). */
  trace: string[];
  /** The histories of the runs with violations. */
  histories: string[];
  /** Counts for the summary (`shards`: the seed's shard count; `election`: PostgreSQL mode or several shards; `refusedStarts`: processes the deployment check refused, `private-stores`). */
  stats: { runs: number; executions: number; reexecuted: number; crashes: number; steps: number; simulatedMs: number; shards: number; election?: { elections: number; refused: number }; refusedStarts?: number };
}

/** Who makes the user's calls: a client wired to one process's coordinator. */
interface User {
  process: SimProcess;
  parts: RuntimeParts;
  client: Client;
}

/** A server process slot: a worker with a coordinator (as `taskwire worker`), or a coordinator alone. */
interface Slot {
  name: string;
  works: boolean;
  concurrency: number;
  incarnation: number;
  /** The deployment check refused to start it (`private-stores`): it is not started again. */
  refused?: boolean;
  process?: SimProcess;
  /** The parts of the current process, as `connect()` wires them, and its clock. */
  parts?: { coordinator: Coordinator; worker?: Worker; transport: Transport; store: SimStore; clock: SimClock; resumed?: Promise<void> };
}

/** Runs one seed and checks it. */
export async function simulate(options: SimOptions): Promise<SeedReport> {
  if (options.store !== 'postgres' || options.mode === 'embedded') {
    const world = new World(options);
    const report = await world.run();
    if (!world.privateStoresDrawn) return report;
    return withPrivateStores(report, await new World(options, undefined, true).run());
  }
  const db = await SimDatabase.open(options.seed, shardsOf(options, streams(options.seed, true).shards));
  try {
    return await new World(options, db).run();
  } finally {
    await db.close();
  }
}

class World {
  private readonly scheduler: Scheduler;
  private readonly t0: number;
  private readonly random: Random;
  private readonly bus: BusFaults;
  private readonly storeFaults: StoreFaults;
  private readonly trace: string[] = [];
  private readonly inner: Store;
  private broker: SimBroker;
  private readonly busRandom: Random;
  private readonly embedded: boolean;
  private readonly workload: Workload;
  /** Runs and notifications with values too large to travel (test/sim/sizes.ts). */
  private readonly sizes: SizeWorkload;
  /** The store outages of the seed (simulated ms), to excuse the answers they make uncertain. */
  private readonly outages: { from: number; to: number }[] = [];
  private readonly ledger: Execution[] = [];
  private readonly slots: Slot[] = [];
  private readonly calls: CallRecords = { starts: new Map(), changes: [], notifies: [] };
  private readonly flows = new Map<string, Flow | FlowDefinition>();
  private readonly clientTasks: Map<string, AnyTask>;
  /** Distributed: the client process. Embedded: the CLI, used while the process is down. */
  private readonly outside: User;
  /** Embedded: the client of the current process. */
  private app: User | undefined;
  private readonly deaths = new Map<SimProcess, (() => void)[]>();
  private pending = 0;
  private crashes = 0;
  /** The seed is over (teardown): no process starts again. */
  private over = false;
  /** PostgreSQL, or several shards: the elections' records. */
  private readonly watch: LeaderWatch | undefined;
  /** The lock faults' own random stream (PostgreSQL, or the simulated locks). */
  private readonly lockRandom: Random | undefined;
  /** The seed's shard count (`shards.ts`). */
  private readonly shards: number;
  /** The simulated locks of a store without its own, with several shards. */
  private readonly locks: SimLocks | undefined;
  /** When the faults stopped, and when a process last started or ended (simulated ms), for `shard-owned`. */
  private healedAt = 0;
  private membersChangedAt = 0;
  /** Processes that closed gracefully, for the checks of `closing.ts`. */
  private readonly exits: GracefulExit[] = [];
  /** Per process: when its last store call failed (simulated ms). */
  private readonly storeFailedAt = new Map<string, number>();
  /** Decisions of the kinds added later (a stream of their own, so that earlier seeds keep their draws). */
  private readonly later: Random;
  /** Whether this seed has a `long-outage` still to come. */
  private longOutagePlanned: boolean | undefined;
  /** Until when a `long-outage` keeps the store down, healing or not. */
  private longOutageUntil = 0;
  /** Cache bounds, claims, aborts and bytes written (`resources.ts`). */
  private readonly resources = new ResourceWatch();
  /** Skews of the processes' clocks, the cache bounds. */
  private readonly tuning: Random;
  private readonly skews: boolean;
  /** Whether some task of the seed runs long enough to hold a lease (see {@link LEASED_SKEW_MS}). */
  private readonly leased: boolean;
  /** What every coordinator is given beyond its store, bus, clock and logger. */
  private readonly coordinatorOptions: Partial<CoordinatorOptions> = {};
  /** Whether the seed is run again on private stores (`private-stores`, deployment.ts). */
  readonly privateStoresDrawn: boolean;
  /** The run on private stores: each server process's own store, and the deployment check's answers. */
  private readonly privateStores: PrivateStores | undefined;

  /**
   * `db`: the PostgreSQL of the seed (`--store postgres`), else the memory or SQLite store.
   * `privateStores`: each server process opens a store of its own (the client's is the one checked), and every process passes connect()'s deployment check.
   */
  constructor(
    private readonly options: SimOptions,
    private readonly db?: SimDatabase,
    privateStores = false,
  ) {
    this.scheduler = new Scheduler(db?.io);
    this.t0 = this.scheduler.now;
    const { random, bus: busRandom, workload: workloadRandom, store: storeRandom, task: taskRandom, lock, sizes: sizesRandom, later, tuning, deployment, shards: shardRandom } = streams(options.seed, db !== undefined);
    this.random = random;
    this.later = later;
    const has = (kind: Kind): boolean => !options.skip.has(kind);
    this.embedded = options.mode === 'embedded';
    this.privateStoresDrawn = !this.embedded && db === undefined && has('private-stores') && deployment.chance(PRIVATE_STORES_SHARE);
    this.privateStores = privateStores ? new PrivateStores(options.store === 'sqlite' ? 'sqlite' : 'memory', (line) => this.log(line)) : undefined;
    // Drawn in every seed (the run on private stores, whose processes never start, keeps one shard).
    this.shards = privateStores ? 1 : shardsOf(options, shardRandom);
    const sharding = this.sharding(db);
    // The lock faults: PostgreSQL's stream, or the shard stream's for the simulated locks.
    const lockRandom = db === undefined ? (sharding?.locks === undefined ? undefined : shardRandom.fork()) : lock;
    // The in-process bus of an embedded process neither duplicates nor redelivers.
    const bus = !this.embedded;
    this.bus = {
      duplicate: bus && has('duplicate') ? 0.05 : 0,
      redeliver: bus && has('redeliver') ? 0.02 : 0,
      publishError: bus && has('publish-error') ? 0.05 : 0,
      withhold: bus && has('flow-control') ? 0.02 : 0,
      withholdAbort: bus && has('flow-control') ? 0.3 : 0,
    };
    this.storeFaults = { error: has('store-error') ? 0.03 : 0, ambiguous: has('ambiguous-commit') ? 0.03 : 0, downUntil: 0 };
    this.inner = db?.observer ?? (options.store === 'sqlite' || this.embedded ? new SqliteStore({ path: ':memory:' }) : new MemoryStore());
    this.busRandom = busRandom;
    const consumerTimeoutMs = has('consumer-timeout') ? CONSUMER_TIMEOUT_MS : undefined;
    this.broker = new SimBroker(this.scheduler, this.busRandom, this.bus, (line) => this.log(line), !this.embedded, this.embedded ? undefined : SIM_DELIVERY_LIMIT, consumerTimeoutMs, SIM_MAX_MESSAGE_BYTES, this.shards);
    // A poison needs a durable bus: an embedded process's bus dies with the process.
    this.workload = generateWorkload(workloadRandom, this.embedded ? new Set([...options.skip, 'poison']) : options.skip, FAULT_WINDOW_MS, later.fork());
    // Distributed, the store is a shared database with its own clock (as PostgreSQL's).
    const storeWorld = {
      scheduler: this.scheduler,
      random: storeRandom,
      faults: this.storeFaults,
      clock: !this.embedded,
      watch: this.resources,
      log: (line: string) => this.log(line),
      failed: (process: SimProcess) => void this.storeFailedAt.set(process.name, this.scheduler.now),
      ...(db === undefined ? {} : { io: db.io }),
      ...(sharding === undefined ? {} : { sharding }),
    };
    const watch = db === undefined && sharding?.locks === undefined ? undefined : new LeaderWatch(this.scheduler, (line) => this.log(line), this.shards);
    this.watch = watch;
    this.locks = sharding?.locks;
    // PostgreSQL: each process has its own store and pool (its sessions die with it); a server's view reports to the watch (if any).
    this.viewOf = (process, server = false) => {
      if (db !== undefined) return new SimStore(db.store(process, this.scheduler.clock(process)), process, storeWorld, server ? watch : undefined);
      return new SimStore(server && this.privateStores !== undefined ? this.privateStores.open() : this.inner, process, storeWorld, server ? watch : undefined);
    };
    const taskWorld = {
      scheduler: this.scheduler,
      random: taskRandom,
      slow: later.fork(),
      ledger: this.ledger,
      longStarted: () => this.outageDuringLease(),
      plannedFailure: () => this.outageBeforeRetry(),
      crash: (process: SimProcess) => this.crashPoisoned(process),
    };
    this.lockRandom = lockRandom;
    this.sizes = generateSizes(sizesRandom, options.skip, FAULT_WINDOW_MS);
    this.tuning = tuning;
    this.skews = !this.embedded && has('clock-skew');
    this.leased = this.workload.runs.some((run) => run.nodes.some((node) => node.long === true || (node.durationMs ?? 0) > WORKER_LEASE.leaseAfterMs));
    if (has('small-cache') && this.tuning.chance(0.5)) {
      this.resources.cacheSize = this.tuning.int(1, 3);
      Object.assign(this.coordinatorOptions, { cacheSize: this.resources.cacheSize, cacheTtlMs: this.tuning.int(200, 3000) });
    }
    if (this.workload.runs.some((run) => run.listener?.gate !== undefined)) this.resources.measuredRuns = new Set(this.workload.runs.map((run) => run.id));
    this.broker.onAbort = (message) => this.resources.abortsSent([message]);
    this.tasksOf = (process) => new Map([...buildTasks(this.workload, taskWorld, process), ...buildSizeTasks(this.sizes, taskWorld, process)]);
    const outside: SimProcess = { name: this.embedded ? 'cli' : 'client', alive: true };
    this.clientTasks = this.tasksOf(outside);
    for (const plan of this.workload.runs) this.flows.set(plan.id, buildFlow(plan, this.clientTasks));
    for (const [id, flow] of buildSizeFlows(this.sizes, this.clientTasks)) this.flows.set(id, flow);
    // Distributed, the client steps its own events; embedded, the CLI leaves its commands in the outbox for the process.
    const transport = (this.embedded ? new SimBroker(this.scheduler, this.busRandom, this.bus, () => undefined, false) : this.broker).transport(outside, this.logger(outside.name));
    const store = this.viewOf(outside);
    const coordinator = new Coordinator({ ...this.coordinatorOptions, store, transport, clock: this.clock(outside), logger: this.logger(outside.name), carryOut: !this.embedded, maxMessageBytes: SIM_MAX_MESSAGE_BYTES });
    this.outside = this.user(outside, coordinator, transport, store);
    if (this.embedded) {
      this.slots.push({ name: 'app', works: true, concurrency: this.random.int(1, 4), incarnation: 0 });
    } else {
      const workers = this.random.int(1, 3);
      for (let i = 0; i < workers; i++) this.slots.push({ name: `worker-${i + 1}`, works: true, concurrency: this.random.int(1, 4), incarnation: 0 });
      if (this.random.chance(0.3)) this.slots.push({ name: 'coordinator', works: false, concurrency: 0, incarnation: 0 });
    }
  }

  private readonly viewOf: (process: SimProcess, server?: boolean) => SimStore;

  /**
   * What the store views share about shards: PostgreSQL's membership (its locks
   * and epochs are the server's); with several shards on the memory or SQLite
   * store, simulated locks and outbox claims by shard too; nothing with one
   * shard there (the world of earlier seeds: every coordinator takes signals).
   */
  private sharding(db: SimDatabase | undefined): Sharding | undefined {
    const membership = new Membership(this.scheduler);
    if (db !== undefined) return { shards: this.shards, membership };
    if (this.shards === 1) return undefined;
    return { shards: this.shards, membership, locks: new SimLocks(this.scheduler), outbox: new ShardedOutbox(this.shards) };
  }

  /** A process's clock: skewed by up to {@link MAX_SKEW_MS} under `clock-skew` (a new draw per incarnation). */
  private clock(process: SimProcess): ReturnType<Scheduler['clock']> {
    const max = this.leased ? LEASED_SKEW_MS : MAX_SKEW_MS;
    const skewMs = this.skews ? this.tuning.int(-max, max) : 0;
    if (skewMs !== 0) this.log(`${process.name}: clock ${skewMs > 0 ? '+' : ''}${skewMs} ms`);
    return this.scheduler.clock(process, skewMs);
  }

  /** The coordinators whose caches the probe reads: the server processes' and the client's. */
  private *cacheOwners(): Iterable<CacheOwner> {
    for (const slot of this.slots) {
      if (slot.parts !== undefined && slot.process?.alive === true) yield { name: slot.process.name, cachedRuns: slot.parts.coordinator.cachedRuns };
    }
    yield { name: this.outside.process.name, cachedRuns: this.outside.parts.coordinator.cachedRuns };
  }

  /** A client wired to a coordinator, as `connect()` wires one. */
  private user(process: SimProcess, coordinator: Coordinator, transport: Transport, store: SimStore): User {
    // The simulator's clients step their events with their own coordinator (the direct path, as embedded).
    const parts: RuntimeParts = { store, transport, coordinator, writer: localWriter(coordinator), registry: new TaskRegistry().register(...this.clientTasks.values()), conditions: new ConditionRegistry(), actor: 'sim-user', pollIntervalMs: 500 };
    return { process, parts, client: new Client(parts, async () => undefined) };
  }

  /** Who makes calls now: embedded, the process when it is up, else the CLI. */
  private get caller(): User {
    return this.app?.process.alive === true ? this.app : this.outside;
  }

  /** A process crashes or exits: its calls are cut (their callers are gone). */
  private kill(process: SimProcess): void {
    process.alive = false;
    this.membersChangedAt = this.scheduler.now;
    this.db?.crashed(process);
    this.locks?.crashed(process);
    this.watch?.crashed(process);
    for (const cut of this.deaths.get(process) ?? []) cut();
    this.deaths.delete(process);
  }

  /** A call's outcome, or `cut` once the process making it has died. */
  private outcome<T>(process: SimProcess, call: Promise<T>): Promise<{ value: T } | { error: unknown } | 'cut'> {
    return new Promise((resolve) => {
      call.then(
        (value) => resolve({ value }),
        (error: unknown) => resolve({ error }),
      );
      this.deaths.set(process, [...(this.deaths.get(process) ?? []), () => resolve('cut')]);
    });
  }
  private readonly tasksOf: (process: SimProcess) => Map<string, AnyTask>;

  private log(line: string): void {
    this.trace.push(`${String(this.scheduler.now - this.t0).padStart(7)} ms  ${line}`);
  }

  /** A logger that puts the runtime's warnings and errors in the trace. */
  private logger(name: string): Logger {
    const line = (level: string) => (fields: LogFields, message: string) => {
      const detail = Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v.split('\n')[0] : JSON.stringify(v)}`)
        .join(' ');
      this.log(`${name} ${level}: ${message} ${detail}`);
    };
    const logger: Logger = { debug: () => undefined, info: () => undefined, warn: line('warn'), error: line('error'), child: () => logger };
    return logger;
  }

  async run(): Promise<SeedReport> {
    const { scheduler } = this;
    if (this.resources.cacheSize !== undefined) scheduler.probe = () => this.resources.probeCaches(this.cacheOwners());
    for (const slot of this.slots) void this.boot(slot);
    // The user's program connects too: refused, it makes no call.
    if (this.privateStores?.admit(this.outside.process, this.outside.parts.store) !== false) this.planCalls();
    this.longOutagePlanned = !this.options.skip.has('long-outage') && this.later.chance(0.2);
    const crash = !this.options.skip.has('crash');
    const graceful = !this.options.skip.has('graceful-restart');
    if (crash || graceful) {
      for (let at = this.random.int(200, 2500); at < FAULT_WINDOW_MS; at += this.random.int(200, 2500)) {
        const gracefully = graceful && (!crash || this.random.chance(0.3));
        scheduler.after(at, () => (gracefully ? void this.restartGracefully() : this.crashOne()));
      }
    }
    if (!this.options.skip.has('store-outage') && this.random.chance(0.3)) {
      const at = this.random.int(0, FAULT_WINDOW_MS - 1000);
      const ms = this.random.int(1000, 8000);
      scheduler.after(at, () => {
        this.down(ms);
        this.log(`store outage for ${ms} ms`);
      });
    }
    if (this.lockRandom !== undefined) {
      const log = (line: string): void => this.log(line);
      const faults = this.db === undefined ? simLockFaults(this.locks as SimLocks, log) : postgresLockFaults(this.db, scheduler, log);
      planLockFaults({ scheduler, random: this.lockRandom, faults, shards: this.shards, skip: this.options.skip, windowMs: FAULT_WINDOW_MS, log });
    }
    await scheduler.run(this.t0 + FAULT_WINDOW_MS);
    this.heal();
    this.healedAt = scheduler.now;
    for (const slot of this.slots) if (slot.process?.alive !== true) void this.boot(slot);
    const deadline = scheduler.now + SETTLE_BUDGET_MS;
    await scheduler.run(Math.min(deadline, scheduler.now + 30_000), () => this.pending === 0);
    for (const plan of this.workload.runs) if (plan.stopAtEnd) this.track(this.stopAtEnd(plan));
    while (scheduler.now < deadline && !(await this.quiet())) await scheduler.run(scheduler.now + 1000);
    const deadLetters = this.embedded ? undefined : this.broker.deadLetters;
    const skewMs = this.skews ? MAX_SKEW_MS : 0;
    const { violations, histories } = await checkWorld({ store: this.inner, workload: this.workload, ledger: this.ledger, calls: this.calls, skip: this.options.skip, embedded: this.embedded, deadLetters, skewMs });
    const sized = await checkSizes({ store: this.inner, sizes: this.sizes, ledger: this.ledger, calls: this.calls, skewMs });
    violations.push(...sized.violations);
    histories.push(...sized.histories);
    violations.push(...checkClosing(this.exits, this.ledger, this.options.skip, this.embedded));
    if (!this.options.skip.has('no-consumer-after-close')) {
      const live = this.slots.flatMap((slot) => (slot.process?.alive === true ? [slot.process] : []));
      violations.push(...this.broker.late, ...this.broker.lateConsumers(live));
    }
    violations.push(...(await checkLeases(this.inner, this.workload, this.ledger, this.broker.timeouts, this.broker.refusedHeartbeats, this.options.skip)));
    violations.push(...this.resources.violations());
    if (this.privateStores !== undefined) violations.push(...this.privateStores.violations(this.options.skip));
    if (!(await this.quiet())) violations.unshift(`liveness: not quiet ${SETTLE_BUDGET_MS} ms after the faults stopped`);
    const { db, watch, locks } = this;
    if (watch !== undefined) {
      // Time for a silent lock connection to be noticed by a check (or an unlock on it to time out), and for every shard to find its owner.
      // After the last start or end of a process (a poison kills its workers after the faults too) and the store's return.
      const since = Math.max(this.healedAt, this.longOutageUntil, this.membersChangedAt);
      await scheduler.run(Math.max(scheduler.now + LOCK_CHECK.intervalMs + LOCK_CHECK.timeoutMs, since + SHARD_OWNED_WITHIN_MS));
      const holders = db === undefined ? new Map(watch.lockNames.map((name) => [name, locks?.holderOf(name)])) : await db.lockOwners(watch.lockNames);
      if (!this.options.skip.has('one-leader')) violations.push(...watch.check(holders));
      const consumes = (process: SimProcess, shard: number): boolean => this.broker.consumedBy(process).includes(this.broker.signalQueue(shard).name);
      if (!this.options.skip.has('shard-owned')) violations.push(...watch.unowned(holders, consumes, scheduler.now - since));
      if (db !== undefined && !this.options.skip.has('lock-connections')) violations.push(...db.poolViolations(new Set(holders.values())));
    }
    const stats = this.stats();
    await this.teardown();
    return { seed: this.options.seed, violations, trace: this.trace.slice(-TRACE_TAIL), histories, stats };
  }

  /** Schedules the user's calls: starts, live changes and notifications. */
  private planCalls(): void {
    const { scheduler } = this;
    for (const plan of this.workload.runs) {
      const what = `(${plan.policy}, nodes ${plan.nodes.map((n) => n.id).join(' ')}${plan.listener ? ', listener' : ''})`;
      scheduler.after(plan.startAt, () => this.track(this.start(plan.id, what)));
      for (const action of plan.actions) scheduler.after(action.at, () => this.track(this.act(plan, action)));
    }
    for (const n of this.workload.notifications) scheduler.after(n.at, () => this.track(this.notify(n.event, { v: n.v })));
    for (const run of this.sizes.runs) scheduler.after(run.startAt, () => this.track(this.start(run.id, `(${run.kind})`)));
    for (const n of this.sizes.notifications) scheduler.after(n.at, () => this.track(this.notify(SIZE_EVENT, sizePayload(n), n.size)));
  }

  private stats(): SeedReport['stats'] {
    const counts = new Map<string, number>();
    for (const e of this.ledger) {
      const key = `${e.runId}/${e.node}/${e.activation ?? ''}/${e.attempt}/${e.kind}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const reexecuted = [...counts.values()].filter((n) => n > 1).length;
    return {
      runs: this.workload.runs.length,
      executions: this.ledger.length,
      reexecuted,
      crashes: this.crashes,
      steps: this.scheduler.steps,
      simulatedMs: this.scheduler.now - this.t0,
      shards: this.shards,
      ...(this.watch === undefined ? {} : { election: this.watch.stats }),
      ...(this.privateStores === undefined ? {} : { refusedStarts: this.privateStores.refusals }),
    };
  }

  /** Every process stops; pending task bodies unwind (no timer outlives the seed). */
  private async teardown(): Promise<void> {
    this.over = true; // restarts planned meanwhile do not happen
    for (const slot of this.slots) if (slot.process !== undefined) this.kill(slot.process);
    this.kill(this.outside.process);
    await this.scheduler.run(Infinity);
    await this.inner.close();
    await this.privateStores?.close();
  }

  /**
   * `long-task`: while the faults last, half the long tasks see the store go down,
   * once they hold a lease, for longer than the lease (a database restart).
   */
  private outageDuringLease(): void {
    if (this.scheduler.now - this.t0 >= FAULT_WINDOW_MS || this.options.skip.has('store-outage') || !this.later.chance(0.5)) return;
    const ms = this.later.int(WORKER_LEASE.leaseMs + 300, 3 * WORKER_LEASE.leaseMs);
    this.scheduler.after(WORKER_LEASE.leaseAfterMs + 200, () => {
      if (this.scheduler.now - this.t0 >= FAULT_WINDOW_MS || this.storeFaults.downUntil > this.scheduler.now) return;
      this.down(ms);
      this.log(`store outage for ${ms} ms (during a lease)`);
    });
  }

  /**
   * `long-outage`: in a fifth of the seeds, the first planned failure late in the
   * fault window (its retry due within 200 ms) takes the store down for 15-40 s,
   * past the end of the faults: the retry must survive its failed steps.
   */
  private outageBeforeRetry(): void {
    const at = this.scheduler.now - this.t0;
    if (this.longOutagePlanned !== true || at < FAULT_WINDOW_MS - 2000 || at >= FAULT_WINDOW_MS) return;
    this.longOutagePlanned = false;
    const ms = this.later.int(15_000, 40_000);
    this.scheduler.after(10, () => {
      this.longOutageUntil = this.scheduler.now + ms;
      this.down(ms);
      this.log(`store outage for ${ms} ms (long: it outlasts the faults)`);
    });
  }

  /** The store refuses every call for `ms` from now (a later end than one already planned wins). */
  private down(ms: number): void {
    const to = this.scheduler.now + ms;
    this.storeFaults.downUntil = Math.max(this.storeFaults.downUntil, to);
    this.outages.push({ from: this.scheduler.now, to });
  }

  /** Faults stop: the bus and the store behave from now on. */
  private heal(): void {
    this.bus.duplicate = 0;
    this.bus.redeliver = 0;
    this.bus.publishError = 0;
    this.bus.withhold = 0;
    this.bus.withholdAbort = 0;
    this.storeFaults.error = 0;
    this.storeFaults.ambiguous = 0;
    // A long outage outlasts the faults: the database comes back when it does.
    this.storeFaults.downUntil = this.longOutageUntil > this.scheduler.now ? this.longOutageUntil : 0;
    this.log('faults stop');
  }

  /** Whether nothing is left to do: no call pending, no message in flight, no run unsettled, the outbox empty. */
  private async quiet(): Promise<boolean> {
    if (this.pending > 0 || this.broker.busy) return false;
    if ((await this.inner.dueOutbox(Number.MAX_SAFE_INTEGER, 1)).length > 0) return false;
    for (const id of this.flows.keys()) {
      const state = await this.inner.loadRun(id);
      if (state !== undefined && !settled(state, this.options.skip.has('rollback-after-cancel'))) return false;
    }
    return true;
  }

  /** Starts a process in a slot: a coordinator taking signals, and a worker if the slot works. */
  private async boot(slot: Slot): Promise<void> {
    if (this.over || slot.refused === true) return; // a restart planned before the teardown, or a process that cannot start
    const process: SimProcess = { name: `${slot.name}#${++slot.incarnation}`, alive: true };
    slot.process = process;
    this.membersChangedAt = this.scheduler.now;
    const store = this.viewOf(process, true);
    if (this.privateStores?.admit(process, store) === false) {
      slot.refused = true;
      this.kill(process);
      return;
    }
    // Embedded, the bus is in the process's memory: a new one with each process.
    if (this.embedded) {
      this.broker = new SimBroker(this.scheduler, this.busRandom, this.bus, (line) => this.log(line), false);
      this.broker.onAbort = (message) => this.resources.abortsSent([message]);
    }
    const logger = this.logger(process.name);
    const transport = this.broker.transport(process, logger);
    const clock = this.clock(process);
    // Its member id is its name: the shards' owners are the same in every replay.
    const coordinator = new Coordinator({ ...this.coordinatorOptions, store, transport, clock, logger, maxMessageBytes: SIM_MAX_MESSAGE_BYTES, member: process.name });
    const parts: NonNullable<Slot['parts']> = { coordinator, transport, store, clock };
    slot.parts = parts;
    await coordinator.start();
    if (slot.works) {
      const registry = new TaskRegistry().register(...this.tasksOf(process).values());
      // Long tasks hold leases (embedded too: the in-process bus has no consumer timeout, but outages and restarts end leases).
      parts.worker = new Worker({ transport, registry, concurrency: slot.concurrency, queues: ['default'], id: process.name, logger, clock, ...WORKER_LEASE });
      await parts.worker.start();
    }
    this.log(`${process.name} started`);
    if (!this.embedded) return;
    // As connect(): live runs are resumed before the client is handed out; if that
    // fails, connect() fails and the process exits (and is restarted).
    const resuming = store.liveRunIds().then((ids) => coordinator.resume(ids));
    parts.resumed = resuming.then(
      () => undefined,
      () => undefined,
    );
    const resumed = await this.outcome(process, resuming);
    if (resumed === 'cut') return;
    if (!('error' in resumed)) {
      this.app = this.user(process, coordinator, transport, store);
      return;
    }
    this.log(`${process.name}: resume failed (${(resumed.error as Error).message}); the process exits`);
    this.kill(process);
    this.scheduler.after(this.random.int(50, 1500), () => {
      if (slot.process === process) void this.boot(slot);
    });
  }

  /** Crashes a random live process; it restarts later, on the same store. */
  private crashOne(): void {
    const alive = this.slots.filter((s) => s.process?.alive === true);
    if (alive.length === 0) return;
    this.crash(this.random.pick(alive), '');
  }

  /** A poison task's body kills the process executing it. */
  private crashPoisoned(process: SimProcess): void {
    const slot = this.slots.find((s) => s.process === process);
    if (slot !== undefined && process.alive) this.crash(slot, ' (a poison task kills it)');
  }

  /** The process of a slot crashes; it restarts later, on the same store. */
  private crash(slot: Slot, why: string): void {
    const process = slot.process as SimProcess;
    this.kill(process);
    this.crashes++;
    this.broker.crashed(process);
    this.log(`${process.name} CRASHES${why}`);
    this.scheduler.after(this.random.int(50, 1500), () => {
      if (slot.process === process) void this.boot(slot);
    });
  }

  /**
   * Stops a random live process the way a SIGTERM does: `shutdown()`, the order
   * of `connect()`'s close (the worker drains, then the coordinator takes its
   * results, finishes its batch and clears its timers), then the process exits
   * and restarts later. A crash may still cut the drain.
   */
  private async restartGracefully(): Promise<void> {
    const alive = this.slots.filter((s) => s.process?.alive === true);
    if (alive.length === 0) return;
    const slot = this.random.pick(alive);
    const process = slot.process as SimProcess;
    const parts = slot.parts as NonNullable<Slot['parts']>;
    this.log(`${process.name} stops (shutdown: the worker drains, then the coordinator)`);
    const closingAt = this.scheduler.now;
    const coordinator = { close: () => (this.broker.coordinatorClosing(process), parts.coordinator.close()) };
    await shutdown({ ...parts, coordinator, ...(parts.resumed === undefined ? {} : { resumer: { settled: () => parts.resumed as Promise<void> } }) });
    if (!process.alive) return; // crashed while draining
    this.exits.push({ process: process.name, closingAt, closedAt: this.scheduler.now, storeFailedAt: this.storeFailedAt.get(process.name) ?? -Infinity, timers: parts.clock.live() });
    this.kill(process);
    this.broker.crashed(process);
    this.log(`${process.name} exited`);
    this.scheduler.after(this.random.int(50, 1500), () => {
      if (slot.process === process) void this.boot(slot);
    });
  }

  /** Counts a client call until it settles (the world is not quiet meanwhile). */
  private track(call: Promise<void>): void {
    this.pending++;
    void call.finally(() => this.pending--);
  }

  /**
   * Starts a run (`what` describes it in the trace); after an error, starts it
   * again with the same id (a user's retry), unless the error says the start
   * can never succeed. After a crash cut the call, the user first looks whether
   * the run exists.
   */
  private async start(id: string, what: string): Promise<void> {
    const record: StartRecord = { attempts: 0, outcome: 'pending' };
    this.calls.starts.set(id, record);
    for (;;) {
      if (record.outcome === 'cut' && (await this.inner.loadRun(id)) !== undefined) {
        this.log(`start ${id}: the run exists after all`);
        return;
      }
      // Embedded, runs are started by the program that is the process: it waits for it.
      if (this.embedded && this.app?.process.alive !== true) {
        await this.scheduler.sleep(100);
        continue;
      }
      record.attempts++;
      const { process, client } = this.caller;
      const result = await this.outcome(process, client.start(this.flows.get(id) as Flow | FlowDefinition, {}, { id }));
      if (result !== 'cut' && 'value' in result) {
        record.outcome = 'ok';
        this.log(`start ${id} ${what} via ${process.name}: ok`);
        return;
      }
      record.outcome = result === 'cut' ? 'cut' : codeOf(result.error);
      if (result !== 'cut') record.message = (result.error as Error).message;
      this.log(`start ${id} via ${process.name}: ${result === 'cut' ? 'cut by a crash' : `${record.outcome} ${(result.error as Error).message.slice(0, 200)}`}`);
      if (FINAL_REFUSALS.has(record.outcome) || record.attempts >= 10) return;
      await this.scheduler.sleep(200);
    }
  }

  /** Applies a change under a unique actor, so the history shows whether (and how often) it was applied. */
  private async change(runId: string, what: string, apply: (handle: RunHandle) => Promise<unknown>): Promise<void> {
    const actor = `call-${this.calls.changes.length + 1}`;
    const record = { actor, runId, what, outcome: 'pending' };
    this.calls.changes.push(record);
    const { process, parts } = this.caller;
    this.log(`${actor}: ${what} on ${runId} via ${process.name}`);
    const result = await this.outcome(process, apply(new RunHandle(runId, { ...parts, actor })));
    record.outcome = result === 'cut' ? 'cut' : 'value' in result ? 'ok' : codeOf(result.error);
    this.log(`${actor}: ${record.outcome}${result !== 'cut' && 'error' in result ? ` ${(result.error as Error).message}` : ''}`);
  }

  /** A planned live change; its target is chosen from the run's state now (as a user reading `status()`). */
  private async act(plan: RunPlan, action: Action): Promise<void> {
    const state = await this.inner.loadRun(plan.id);
    if (state === undefined) return;
    const failed = [...state.nodes.values()].filter((n) => n.status === 'failed' && n.def.kind === 'task' && !n.def.persistent).map((n) => n.def.id);
    switch (action.op) {
      case 'retry-failed':
        if (failed.length > 0) {
          const node = this.random.pick(failed);
          await this.change(plan.id, `retry ${node}`, (h) => h.retry(node));
        }
        return;
      case 'skip-failed':
        if (failed.length > 0) {
          const node = this.random.pick(failed);
          await this.change(plan.id, `skip ${node}`, (h) => h.skip(node, SKIP_VALUE));
        }
        return;
      case 'add': {
        const spare = plan.spare;
        if (spare === undefined || state.nodes.has(spare.id)) return;
        const node = (this.clientTasks.get(taskName(plan, spare.id)) as AnyTask).s({ b: spare.bound }, { id: spare.id });
        await this.change(plan.id, `add ${spare.id}`, (h) => h.add(node, { sources: spare.sources.map((s) => s.from) }));
        return;
      }
      case 'remove-readd': {
        const x = plan.nodes.find((n) => n.id === 'x');
        if (x === undefined || !state.nodes.has('x')) return;
        // The client's coordinator is busy with another change (an invalid one here), so that
        // the remove and the add that follow are stepped in one batch, as concurrent users' are.
        const busy = this.change(plan.id, 'unlink of an unknown node (keeps the coordinator busy)', (h) => h.unlink('nowhere', 'x'));
        const node = (this.clientTasks.get(taskName(plan, 'x')) as AnyTask).s({ b: x.bound }, { id: 'x' });
        await Promise.all([busy, this.change(plan.id, 'remove x', (h) => h.remove('x')), this.change(plan.id, 'add x', (h) => h.add(node, { sources: ['n0'] }))]);
        return;
      }
      case 'remove-listener':
        if (state.nodes.has('p')) await this.change(plan.id, 'remove p', (h) => h.remove('p'));
        return;
      case 'cancel':
        await this.change(plan.id, 'cancel', (h) => h.cancel());
        return;
    }
  }

  private async stopAtEnd(plan: RunPlan): Promise<void> {
    const state = await this.inner.loadRun(plan.id);
    if (state === undefined || state.stopped || ['succeeded', 'rolled_back', 'cancelled'].includes(state.status)) return;
    await this.change(plan.id, 'stop', (h) => h.stop());
  }

  /** Notifies `event` (`size`: how large a size scenario's payload is, for the trace) and records the answer. */
  private async notify(event: string, payload: { v: number } & Record<string, unknown>, size?: string): Promise<void> {
    const { v } = payload;
    const record: CallRecords['notifies'][number] = { event, v, outcome: 'pending' };
    this.calls.notifies.push(record);
    const { process, client } = this.caller;
    const from = this.scheduler.now;
    const result = await this.outcome(process, client.notify(event, payload, { id: `notify-${event}-${v}` }));
    record.ambiguous = this.outages.some((outage) => outage.from <= this.scheduler.now && from <= outage.to);
    const label = `notify ${event} v=${v}${size === undefined ? '' : ` (${size} payload)`} via ${process.name}`;
    if (result !== 'cut' && 'value' in result) {
      record.runIds = result.value;
      record.outcome = 'ok';
      this.log(`${label}: ok, runs ${record.runIds.join(' ')}`);
      return;
    }
    record.outcome = result === 'cut' ? 'cut' : codeOf(result.error);
    if (result !== 'cut' && result.error instanceof PartialNotifyError) {
      record.runIds = result.error.notified;
      record.failed = result.error.failed.map((f) => ({ runId: f.runId, code: codeOf(f.error) }));
    }
    this.log(`${label}: ${record.outcome}${record.failed === undefined ? '' : `, notified ${record.runIds?.join(' ')}; not ${record.failed.map((f) => `${f.runId} (${f.code})`).join(' ')}`}`);
  }
}

/** A run with nothing left to do: settled or listening, nothing running, no rollback or activation in progress. */
function settled(state: RunState, ignoreCancelledRollbacks: boolean): boolean {
  if (!['succeeded', 'failed', 'stalled', 'rolled_back', 'rollback_failed', 'cancelled', 'listening'].includes(state.status)) return false;
  const undoing = (node: NodeState): boolean => node.undo === 'running' && !(ignoreCancelledRollbacks && state.status === 'cancelled');
  for (const node of state.nodes.values()) if (node.status === 'running' || node.status === 'retrying' || undoing(node)) return false;
  for (const activation of state.activations.values()) if (activation.status === 'running' || activation.status === 'retrying') return false;
  return true;
}

/** Start errors that starting again cannot change: the user gives up. */
const FINAL_REFUSALS: ReadonlySet<string> = new Set(['TW_CONFLICT', 'TW_TOO_LARGE', 'TW_DECODE', 'TW_CONFIG', 'TW_VALIDATION']);

/** The `code` of an error, or its name. */
function codeOf(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' ? code : ((error as Error)?.name ?? 'Error');
}

/** A seed's random streams, one per concern, forked from its root in the order the concerns were added (`postgres`: the lock faults' stream exists). */
function streams(seed: number, postgres: boolean): Record<'random' | 'bus' | 'workload' | 'store' | 'task' | 'sizes' | 'later' | 'tuning' | 'deployment' | 'shards', Random> & { lock: Random | undefined } {
  const root = new Random(seed);
  const [random, bus, workload, store, task] = [root.fork(), root.fork(), root.fork(), root.fork(), root.fork()];
  const lock = postgres ? root.fork() : undefined;
  const [sizes, later, tuning, deployment] = [root.fork(), root.fork(), root.fork(), root.fork()];
  // Forked after every other: the seeds of one shard keep every draw they had before shards were drawn.
  const shards = root.fork();
  return { random, bus, workload, store, task, lock, sizes, later, tuning, deployment, shards };
}

/** The seed's shard count: one in embedded mode (one process), else drawn from `random` (`--shards` forces it). */
function shardsOf(options: SimOptions, random: Random): number {
  const drawn = drawShards(random, options.shards);
  return options.mode === 'embedded' ? 1 : drawn;
}
