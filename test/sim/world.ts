/**
 * One simulated seed: the real Coordinator, Worker and Client on the real store
 * adapter, wired to the simulated bus, store views and clock, driven through a
 * fault phase (crashes, store failures, ambiguous commits, duplicated and
 * redelivered messages, live changes and notifications), then healed and run
 * until quiet, then checked (see `checks.ts`).
 */
import { Client } from '../../src/client/client.js';
import type { RuntimeParts } from '../../src/client/parts.js';
import { RunHandle } from '../../src/client/run-handle.js';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import type { CoordinatorOptions } from '../../src/coordinator/options.js';
import type { NodeState, RunState } from '../../src/engine/state.js';
import type { Flow } from '../../src/model/flow.js';
import type { AnyTask } from '../../src/model/task.js';
import type { Logger, LogFields } from '../../src/observability/logger.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import type { Store } from '../../src/store/port.js';
import type { Transport } from '../../src/transport/port.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { TaskRegistry } from '../../src/worker/registry.js';
import { Worker } from '../../src/worker/worker.js';
import { checkWorld, type CallRecords } from './checks.js';
import type { Kind, SimOptions } from './options.js';
import { Random } from './random.js';
import { Watch, type CacheOwner } from './resources.js';
import { Scheduler, type SimProcess } from './scheduler.js';
import { SimStore, type StoreFaults } from './store.js';
import { SimBroker, type BusFaults } from './transport.js';
import { buildFlow, buildTasks, generateWorkload, SKIP_VALUE, taskName, type Action, type Execution, type RunPlan, type Workload } from './workload.js';

/** Faults happen in this first window of simulated time. */
const FAULT_WINDOW_MS = 8000;
/** After the faults, the world must be quiet within this much simulated time. */
const SETTLE_BUDGET_MS = 300_000;
/** Trace lines kept for a failure report. */
const TRACE_TAIL = 80;
/** Largest offset of a process's clock (`clock-skew`), ahead or behind. */
const MAX_SKEW_MS = 3000;

/** What a seed reports. */
export interface SeedReport {
  seed: number;
  /** Invariant violations; empty when the seed passed. */
  violations: string[];
  /** The last lines of the trace (what happened, in simulated ms). */
  trace: string[];
  /** The histories of the runs with violations. */
  histories: string[];
  /** Counts for the summary. */
  stats: { runs: number; executions: number; reexecuted: number; crashes: number; steps: number; simulatedMs: number };
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
  process?: SimProcess;
  coordinator?: Coordinator;
}

/** Runs one seed and checks it. */
export async function simulate(options: SimOptions): Promise<SeedReport> {
  const world = new World(options);
  return world.run();
}

class World {
  private readonly scheduler = new Scheduler();
  private readonly t0 = this.scheduler.now;
  private readonly random: Random;
  private readonly bus: BusFaults;
  private readonly storeFaults: StoreFaults;
  private readonly trace: string[] = [];
  private readonly inner: Store;
  private broker: SimBroker;
  private readonly busRandom: Random;
  private readonly embedded: boolean;
  private readonly workload: Workload;
  private readonly ledger: Execution[] = [];
  private readonly slots: Slot[] = [];
  private readonly calls: CallRecords = { starts: new Map(), changes: [], notifies: [] };
  private readonly flows = new Map<string, Flow>();
  private readonly clientTasks: Map<string, AnyTask>;
  /** Distributed: the client process. Embedded: the CLI, used while the process is down. */
  private readonly outside: User;
  /** Embedded: the client of the current process. */
  private app: User | undefined;
  private readonly deaths = new Map<SimProcess, (() => void)[]>();
  private pending = 0;
  private crashes = 0;
  /** Set at teardown: a restart still scheduled (after a drain that outlasted the checks) boots nothing. */
  private ending = false;
  private readonly watch = new Watch();
  /** Skews of the processes' clocks, the cache bounds. */
  private readonly tuning: Random;
  private readonly skews: boolean;
  /** What every coordinator is given beyond its store, bus, clock and logger. */
  private readonly coordinatorOptions: Partial<CoordinatorOptions> = {};

  constructor(private readonly options: SimOptions) {
    const root = new Random(options.seed);
    this.random = root.fork();
    const has = (kind: Kind): boolean => !options.skip.has(kind);
    this.embedded = options.mode === 'embedded';
    // The in-process bus of an embedded process neither duplicates nor redelivers.
    const bus = !this.embedded;
    this.bus = { duplicate: bus && has('duplicate') ? 0.05 : 0, redeliver: bus && has('redeliver') ? 0.02 : 0, withhold: bus && has('flow-control') ? 0.02 : 0, withholdAbort: bus && has('flow-control') ? 0.3 : 0 };
    this.storeFaults = { error: has('store-error') ? 0.03 : 0, ambiguous: has('ambiguous-commit') ? 0.03 : 0, downUntil: 0 };
    this.inner = options.store === 'sqlite' || this.embedded ? new SqliteStore({ path: ':memory:' }) : new MemoryStore();
    this.busRandom = root.fork();
    this.broker = new SimBroker(this.scheduler, this.busRandom, this.bus, (line) => this.log(line), !this.embedded);
    this.workload = generateWorkload(root.fork(), options.skip, FAULT_WINDOW_MS);
    // Distributed, the store is a shared database with its own clock (as PostgreSQL's).
    const storeWorld = { scheduler: this.scheduler, random: root.fork(), faults: this.storeFaults, clock: !this.embedded, watch: this.watch, log: (line: string) => this.log(line) };
    this.viewOf = (process) => new SimStore(this.inner, process, storeWorld);
    const taskWorld = { scheduler: this.scheduler, random: root.fork(), ledger: this.ledger };
    this.tuning = root.fork();
    this.skews = !this.embedded && has('clock-skew');
    if (has('small-cache') && this.tuning.chance(0.5)) {
      this.watch.cacheSize = this.tuning.int(1, 3);
      Object.assign(this.coordinatorOptions, { cacheSize: this.watch.cacheSize, cacheTtlMs: this.tuning.int(200, 3000) });
    }
    this.watch.measureWrites = this.workload.runs.some((run) => run.listener?.gate !== undefined);
    this.broker.onAbort = (message) => this.watch.abortsSent([message]);
    this.tasksOf = (process) => buildTasks(this.workload, taskWorld, process);
    const outside: SimProcess = { name: this.embedded ? 'cli' : 'client', alive: true };
    this.clientTasks = this.tasksOf(outside);
    for (const plan of this.workload.runs) this.flows.set(plan.id, buildFlow(plan, this.clientTasks));
    // Distributed, the client steps its own events; embedded, the CLI leaves its commands in the outbox for the process.
    const transport = (this.embedded ? new SimBroker(this.scheduler, this.busRandom, this.bus, () => undefined, false) : this.broker).transport(outside);
    const store = this.viewOf(outside);
    const coordinator = new Coordinator({ ...this.coordinatorOptions, store, transport, clock: this.clock(outside), logger: this.logger(outside.name), carryOut: !this.embedded });
    this.outside = this.user(outside, coordinator, transport, store);
    if (this.embedded) {
      this.slots.push({ name: 'app', works: true, concurrency: this.random.int(1, 4), incarnation: 0 });
    } else {
      const workers = this.random.int(1, 3);
      for (let i = 0; i < workers; i++) this.slots.push({ name: `worker-${i + 1}`, works: true, concurrency: this.random.int(1, 4), incarnation: 0 });
      if (this.random.chance(0.3)) this.slots.push({ name: 'coordinator', works: false, concurrency: 0, incarnation: 0 });
    }
  }

  private readonly viewOf: (process: SimProcess) => SimStore;

  /** A process's clock: skewed by up to {@link MAX_SKEW_MS} under `clock-skew` (a new draw per incarnation). */
  private clock(process: SimProcess): ReturnType<Scheduler['clock']> {
    const skewMs = this.skews ? this.tuning.int(-MAX_SKEW_MS, MAX_SKEW_MS) : 0;
    if (skewMs !== 0) this.log(`${process.name}: clock ${skewMs > 0 ? '+' : ''}${skewMs} ms`);
    return this.scheduler.clock(process, skewMs);
  }

  /** The coordinators whose caches the probe reads: the server processes' and the client's. */
  private *cacheOwners(): Iterable<CacheOwner> {
    for (const slot of this.slots) {
      if (slot.coordinator !== undefined && slot.process?.alive === true) yield { name: slot.process.name, cachedRuns: slot.coordinator.cachedRuns };
    }
    yield { name: this.outside.process.name, cachedRuns: this.outside.parts.coordinator.cachedRuns };
  }

  /** A client wired to a coordinator, as `connect()` wires one. */
  private user(process: SimProcess, coordinator: Coordinator, transport: Transport, store: SimStore): User {
    const parts: RuntimeParts = { store, transport, coordinator, registry: new TaskRegistry().register(...this.clientTasks.values()), actor: 'sim-user', pollIntervalMs: 500 };
    return { process, parts, client: new Client(parts, async () => undefined) };
  }

  /** Who makes calls now: embedded, the process when it is up, else the CLI. */
  private get caller(): User {
    return this.app?.process.alive === true ? this.app : this.outside;
  }

  /** A process crashes or exits: its calls are cut (their callers are gone). */
  private kill(process: SimProcess): void {
    process.alive = false;
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
    if (this.watch.cacheSize !== undefined) scheduler.probe = () => this.watch.probeCaches(this.cacheOwners());
    for (const slot of this.slots) void this.boot(slot);
    for (const plan of this.workload.runs) {
      scheduler.after(plan.startAt, () => this.track(this.start(plan)));
      for (const action of plan.actions) scheduler.after(action.at, () => this.track(this.act(plan, action)));
    }
    for (const n of this.workload.notifications) scheduler.after(n.at, () => this.track(this.notify(n.event, n.v)));
    const crash = !this.options.skip.has('crash');
    // (Embedded, closing the process closes its worker, which waits on a real timer: not simulated.)
    const graceful = !this.options.skip.has('graceful-restart') && !this.embedded;
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
        this.storeFaults.downUntil = scheduler.now + ms;
        this.log(`store outage for ${ms} ms`);
      });
    }
    await scheduler.run(this.t0 + FAULT_WINDOW_MS);
    this.heal();
    for (const slot of this.slots) if (slot.process?.alive !== true) void this.boot(slot);
    const deadline = scheduler.now + SETTLE_BUDGET_MS;
    await scheduler.run(Math.min(deadline, scheduler.now + 30_000), () => this.pending === 0);
    for (const plan of this.workload.runs) if (plan.stopAtEnd) this.track(this.stopAtEnd(plan));
    while (scheduler.now < deadline && !(await this.quiet())) await scheduler.run(scheduler.now + 1000);
    const { violations, histories } = await checkWorld({ store: this.inner, workload: this.workload, ledger: this.ledger, calls: this.calls, skip: this.options.skip, embedded: this.embedded, skewMs: this.skews ? MAX_SKEW_MS : 0 });
    violations.push(...this.watch.violations());
    if (!(await this.quiet())) violations.unshift(`liveness: not quiet ${SETTLE_BUDGET_MS} ms after the faults stopped`);
    const stats = this.stats();
    await this.teardown();
    return { seed: this.options.seed, violations, trace: this.trace.slice(-TRACE_TAIL), histories, stats };
  }

  private stats(): SeedReport['stats'] {
    const counts = new Map<string, number>();
    for (const e of this.ledger) {
      const key = `${e.runId}/${e.node}/${e.activation ?? ''}/${e.attempt}/${e.kind}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const reexecuted = [...counts.values()].filter((n) => n > 1).length;
    return { runs: this.workload.runs.length, executions: this.ledger.length, reexecuted, crashes: this.crashes, steps: this.scheduler.steps, simulatedMs: this.scheduler.now - this.t0 };
  }

  /** Every process stops; pending task bodies unwind (no timer outlives the seed). */
  private async teardown(): Promise<void> {
    this.ending = true;
    for (const slot of this.slots) if (slot.process !== undefined) this.kill(slot.process);
    this.kill(this.outside.process);
    await this.scheduler.run(Infinity);
    await this.inner.close();
  }

  /** Faults stop: the bus and the store behave from now on. */
  private heal(): void {
    this.bus.duplicate = 0;
    this.bus.redeliver = 0;
    this.bus.withhold = 0;
    this.bus.withholdAbort = 0;
    this.storeFaults.error = 0;
    this.storeFaults.ambiguous = 0;
    this.storeFaults.downUntil = 0;
    this.log('faults stop');
  }

  /** Whether nothing is left to do: no call pending, no message in flight, no run unsettled, the outbox empty. */
  private async quiet(): Promise<boolean> {
    if (this.pending > 0 || this.broker.busy) return false;
    if ((await this.inner.dueOutbox(Number.MAX_SAFE_INTEGER, 1)).length > 0) return false;
    for (const plan of this.workload.runs) {
      const state = await this.inner.loadRun(plan.id);
      if (state !== undefined && !settled(state, this.options.skip.has('rollback-after-cancel'))) return false;
    }
    return true;
  }

  /** Starts a process in a slot: a coordinator taking signals, and a worker if the slot works. */
  private async boot(slot: Slot): Promise<void> {
    if (this.ending) return;
    const process: SimProcess = { name: `${slot.name}#${++slot.incarnation}`, alive: true };
    slot.process = process;
    const store = this.viewOf(process);
    // Embedded, the bus is in the process's memory: a new one with each process.
    if (this.embedded) {
      this.broker = new SimBroker(this.scheduler, this.busRandom, this.bus, (line) => this.log(line), false);
      this.broker.onAbort = (message) => this.watch.abortsSent([message]);
    }
    const transport = this.broker.transport(process);
    const logger = this.logger(process.name);
    const coordinator = new Coordinator({ ...this.coordinatorOptions, store, transport, clock: this.clock(process), logger });
    slot.coordinator = coordinator;
    await coordinator.start();
    if (slot.works) {
      const registry = new TaskRegistry().register(...this.tasksOf(process).values());
      await new Worker({ transport, registry, concurrency: slot.concurrency, queues: ['default'], id: process.name, logger }).start();
    }
    this.log(`${process.name} started`);
    if (!this.embedded) return;
    // As connect(): live runs are resumed before the client is handed out; if that
    // fails, connect() fails and the process exits (and is restarted).
    const resumed = await this.outcome(process, store.liveRunIds().then((ids) => coordinator.resume(ids)));
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
    const slot = this.random.pick(alive);
    const process = slot.process as SimProcess;
    this.kill(process);
    this.crashes++;
    this.broker.crashed(process);
    this.log(`${process.name} CRASHES`);
    this.scheduler.after(this.random.int(50, 1500), () => {
      if (slot.process === process) void this.boot(slot);
    });
  }

  /**
   * Stops a random live process the way a SIGTERM does for its coordinator
   * (`close()`: no new signals, the batch in flight finishes, timers cleared),
   * then the process exits and restarts later. A crash may still cut the drain.
   */
  private async restartGracefully(): Promise<void> {
    const alive = this.slots.filter((s) => s.process?.alive === true);
    if (alive.length === 0) return;
    const slot = this.random.pick(alive);
    const process = slot.process as SimProcess;
    this.log(`${process.name} stops (coordinator close, mid-drain)`);
    await (slot.coordinator as Coordinator).close();
    if (!process.alive) return; // crashed while draining
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
   * Starts a run; after an error, starts it again with the same id (a user's
   * retry). After a crash cut the call, the user first looks whether the run
   * exists.
   */
  private async start(plan: RunPlan): Promise<void> {
    const record = { attempts: 0, outcome: 'pending' as string };
    this.calls.starts.set(plan.id, record);
    for (;;) {
      if (record.outcome === 'cut' && (await this.inner.loadRun(plan.id)) !== undefined) {
        this.log(`start ${plan.id}: the run exists after all`);
        return;
      }
      // Embedded, runs are started by the program that is the process: it waits for it.
      if (this.embedded && this.app?.process.alive !== true) {
        await this.scheduler.sleep(100);
        continue;
      }
      record.attempts++;
      const { process, client } = this.caller;
      const result = await this.outcome(process, client.start(this.flows.get(plan.id) as Flow, {}, { id: plan.id }));
      if (result !== 'cut' && 'value' in result) {
        record.outcome = 'ok';
        this.log(`start ${plan.id} (${plan.policy}, nodes ${plan.nodes.map((n) => n.id).join(' ')}${plan.listener ? ', listener' : ''}) via ${process.name}: ok`);
        return;
      }
      record.outcome = result === 'cut' ? 'cut' : codeOf(result.error);
      this.log(`start ${plan.id} via ${process.name}: ${result === 'cut' ? 'cut by a crash' : `${record.outcome} ${(result.error as Error).message}`}`);
      if (record.outcome === 'TW_CONFLICT' || record.attempts >= 10) return;
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

  private async notify(event: string, v: number): Promise<void> {
    const record: CallRecords['notifies'][number] = { event, v, outcome: 'pending' };
    this.calls.notifies.push(record);
    const { process, client } = this.caller;
    const result = await this.outcome(process, client.notify(event, { v }));
    if (result !== 'cut' && 'value' in result) {
      record.runIds = result.value;
      record.outcome = 'ok';
      this.log(`notify ${event} v=${v} via ${process.name}: ok, runs ${record.runIds.join(' ')}`);
    } else {
      record.outcome = result === 'cut' ? 'cut' : codeOf(result.error);
      this.log(`notify ${event} v=${v} via ${process.name}: ${record.outcome}`);
    }
  }
}

/** A run with nothing left to do: settled or listening, nothing running, no rollback or activation in progress. */
function settled(state: RunState, ignoreCancelledRollbacks: boolean): boolean {
  if (!['succeeded', 'failed', 'stalled', 'rolled_back', 'cancelled', 'listening'].includes(state.status)) return false;
  const undoing = (node: NodeState): boolean => node.undo === 'running' && !(ignoreCancelledRollbacks && state.status === 'cancelled');
  for (const node of state.nodes.values()) if (node.status === 'running' || node.status === 'retrying' || undoing(node)) return false;
  for (const activation of state.activations.values()) if (activation.status === 'running' || activation.status === 'retrying') return false;
  return true;
}

/** The `code` of an error, or its name. */
function codeOf(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' ? code : ((error as Error)?.name ?? 'Error');
}
