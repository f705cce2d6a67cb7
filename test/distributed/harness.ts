/**
 * The harness of the distributed fault tests: real worker and coordinator
 * processes (`bin/taskwire.js`) on the test RabbitMQ and PostgreSQL, killed by
 * pid; the record file their tasks write (`test/fixtures/fault-tasks.ts`); and a
 * Jepsen-style checker that reconciles what the task bodies did (the records)
 * with what the store recorded.
 *
 * Each {@link Cluster} has its own AMQP prefix (`twfault-<random>`), PostgreSQL
 * schema (`tw_fault_<random>`) and record file; `cleanup()` kills whatever is
 * left, drops the schema and deletes the prefix's queues and exchanges.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, afterEach } from 'vitest';
import { connect, type Client, type HistoryEntry, type Store } from '../../src/index.js';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import { deleteAmqpPrefix } from '../../src/transport/amqp/index.js';
import { RECORD_ENV } from '../fixtures/fault-tasks.js';
import { prepareTestSchema, requirePostgres, requireRabbit } from '../support/services.js';
import { DEFAULT_SHARDS } from '../../src/store/postgres/shard-count.js';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The CLI entry point the processes run. */
export const BIN = join(ROOT, 'bin', 'taskwire.js');
/** The tasks module the workers load. */
export const FAULT_TASKS = join(ROOT, 'test', 'fixtures', 'fault-tasks.ts');

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns something other than `undefined`/`false`; rejects after `timeoutMs` naming `what`. */
export async function until<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 60_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

// ---- processes ----------------------------------------------------------------

/** A parsed pino line of a process's standard error. */
export interface LogLine {
  /** pino level: 30 info, 40 warn, 50 error. */
  level: number;
  /** The message. */
  msg: string;
  /** Every field. */
  [field: string]: unknown;
}

/** A spawned worker or coordinator. */
export interface Proc {
  /** `worker` or `coordinator`. */
  readonly role: 'worker' | 'coordinator';
  /** Its pid (worker ids are `<hostname>/<pid>`). */
  readonly pid: number;
  /** The child process. */
  readonly child: ChildProcess;
  /** Every line written to standard error (and output), in order. */
  readonly lines: string[];
  /** Resolves when the process exits. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Whether it still runs. */
  readonly alive: boolean;
  /** The JSON log lines so far. */
  logs(): LogLine[];
}

/** Every process spawned and not yet seen exiting, whatever cluster started it: `killLeftovers()` ends them. */
const live = new Set<Proc>();

/** Options of a spawned process. */
export interface SpawnOptions {
  /** `--concurrency` of a worker. @default 8 */
  concurrency?: number;
  /** Run a coordinator in the worker process (`false`: `--no-coordinator`). @default true */
  coordinator?: boolean;
  /** Wait for the `ready` log line. @default true */
  waitReady?: boolean;
}

function spawnProc(role: Proc['role'], args: string[], env: NodeJS.ProcessEnv): Proc {
  const child = spawn(process.execPath, [BIN, role, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not spawn a ${role} process`);
  const lines: string[] = [];
  let alive = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      alive = false;
      live.delete(proc);
      resolve({ code, signal });
    });
  });
  for (const stream of [child.stderr, child.stdout]) {
    let rest = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      lines.push(...parts.filter((line) => line !== ''));
    });
  }
  const proc: Proc = {
    role,
    pid: child.pid,
    child,
    lines,
    exited,
    get alive() {
      return alive;
    },
    logs: () => lines.flatMap((line) => (line.startsWith('{') ? [parseLine(line)].filter((l): l is LogLine => l !== undefined) : [])),
  };
  live.add(proc);
  return proc;
}

function parseLine(line: string): LogLine | undefined {
  try {
    const value = JSON.parse(line) as LogLine;
    return typeof value === 'object' && value !== null && typeof value.msg === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Waits for the process's `ready` log line; rejects with its output if it exits or takes too long. */
export async function waitReady(proc: Proc, timeoutMs = 60_000): Promise<Proc> {
  const deadline = Date.now() + timeoutMs;
  while (!proc.logs().some((line) => line.msg === 'ready')) {
    if (!proc.alive) throw new Error(`${proc.role} ${proc.pid} exited before it was ready:\n${proc.lines.slice(-20).join('\n')}`);
    if (Date.now() > deadline) throw new Error(`${proc.role} ${proc.pid} not ready after ${timeoutMs} ms:\n${proc.lines.slice(-20).join('\n')}`);
    await sleep(50);
  }
  return proc;
}

/** Sends `signal` to the process by its pid and waits until it has exited. */
export async function kill(proc: Proc, signal: NodeJS.Signals = 'SIGKILL', timeoutMs = 20_000): Promise<void> {
  if (!proc.alive) return;
  try {
    process.kill(proc.pid, signal);
  } catch {
    return; // already gone
  }
  const timedOut = await Promise.race([proc.exited.then(() => false), sleep(timeoutMs).then(() => true)]);
  if (timedOut) {
    process.kill(proc.pid, 'SIGKILL');
    await proc.exited;
  }
}

/** SIGKILLs every process the harness spawned that still runs (for afterEach/afterAll). */
export async function killLeftovers(): Promise<void> {
  await Promise.all([...live].map((proc) => kill(proc, 'SIGKILL')));
}

// ---- records ------------------------------------------------------------------

/** One line of the record file. */
export interface RecordLine {
  /** `S`: the body started; `E`: it ended. */
  kind: 'S' | 'E';
  /** Run id. */
  runId: string;
  /** Node id, or `<node id>#<activation>` for a persistent listener's activation. */
  node: string;
  /** Attempt number. */
  attempt: number;
  /** The worker process. */
  pid: number;
  /** When it was written (epoch ms). */
  at: number;
}

/** Parses a record file (a missing file has no records). */
export function readRecords(file: string): RecordLine[] {
  if (!existsSync(file)) return [];
  const records: RecordLine[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [kind, runId, node, attempt, pid, at] = line.split(' ');
    if ((kind !== 'S' && kind !== 'E') || runId === undefined || node === undefined || attempt === undefined || pid === undefined) continue;
    records.push({ kind, runId, node, attempt: Number(attempt), pid: Number(pid), at: Number(at ?? 0) });
  }
  return records;
}

/** Distinct `<runId> <node>` keys that have an `E` line. */
export function finishedKeys(records: RecordLine[]): Set<string> {
  return new Set(records.filter((r) => r.kind === 'E').map((r) => `${r.runId} ${r.node}`));
}

// ---- the checker ----------------------------------------------------------------

/** A body started more than once for the same attempt (allowed by at-least-once execution). */
export interface ReExecution {
  /** `<runId>/<node>@<attempt>`. */
  key: string;
  /** How many times it started. */
  starts: number;
  /** The processes that started it. */
  pids: number[];
}

/** What {@link check} found. */
export interface CheckResult {
  /** Runs checked. */
  runs: number;
  /** Nodes (and activations) checked. */
  nodes: number;
  /** Body starts in the records (`S` lines). */
  executions: number;
  /** Nodes (`<runId>/<node>`) of the runs that never succeeded in the store: must be empty. */
  lost: string[];
  /** Nodes whose outcome the store recorded more than once (`node.succeeded` twice): must be empty. */
  recordedTwice: string[];
  /** Bodies started more than once for one attempt: allowed, printed. */
  reExecutions: ReExecution[];
  /** Bodies that started and never ended in that process (killed mid-task). */
  cut: number;
}

/** Options of {@link check}. */
export interface CheckOptions {
  /** `<runId>/<node>` keys that are meant not to succeed (a node that fails by design); not counted as lost. */
  failing?: Iterable<string>;
  /** Printed before the figures. */
  label?: string;
}

async function fullHistory(store: Store, runId: string): Promise<HistoryEntry[]> {
  const entries: HistoryEntry[] = [];
  for (;;) {
    const page = await store.history(runId, { after: entries.at(-1)?.seq ?? 0, limit: 1000 });
    entries.push(...page);
    if (page.length < 1000) return entries;
  }
}

/**
 * Reconciles what the task bodies did (`records`) with what the store recorded
 * for `runIds`, like a Jepsen checker:
 *
 * - lost: a node of a run (a task node of the stored graph, or any node or
 *   activation a body started for) whose success the store does not hold: its
 *   state is not `succeeded` or the history has no `node.succeeded` for it;
 * - recorded twice: more than one `node.succeeded` entry for one node (or one
 *   activation of a persistent listener);
 * - re-executions: one attempt's body started more than once (redelivered after
 *   a crash): allowed by at-least-once, printed with `console.log`.
 */
export async function check(records: RecordLine[], store: Store, runIds: Iterable<string>, options: CheckOptions = {}): Promise<CheckResult> {
  const ids = [...new Set(runIds)];
  const failing = new Set(options.failing ?? []);
  const result: CheckResult = { runs: ids.length, nodes: 0, executions: 0, lost: [], recordedTwice: [], reExecutions: [], cut: 0 };
  const byRun = new Map<string, RecordLine[]>();
  for (const record of records) {
    const list = byRun.get(record.runId);
    if (list === undefined) byRun.set(record.runId, [record]);
    else list.push(record);
  }
  for (const runId of ids) {
    const runRecords = byRun.get(runId) ?? [];
    const recordedNodes = new Set(runRecords.map((r) => r.node));
    const state = await store.loadRun(runId);
    if (state === undefined) {
      result.lost.push(...[...recordedNodes].map((node) => `${runId}/${node}`), `${runId}/<the run itself>`);
      continue;
    }
    const history = await fullHistory(store, runId);
    const successes = new Map<string, number>();
    for (const entry of history) {
      if (entry.type !== 'node.succeeded' || entry.node === undefined) continue;
      const key = entry.activation === undefined ? entry.node : `${entry.node}#${entry.activation}`;
      successes.set(key, (successes.get(key) ?? 0) + 1);
    }
    for (const [key, n] of successes) if (n > 1) result.recordedTwice.push(`${runId}/${key} (${n} times)`);

    // Every node that must have succeeded: the stored graph's one-shot task nodes,
    // each persistent listener's stored activations, and whatever a body started for.
    const expected = new Set(recordedNodes);
    const activationStatus = new Map<string, string>();
    for (const node of state.nodes.values()) {
      if (node.def.kind !== 'task') continue;
      if (!node.def.persistent) {
        expected.add(node.def.id);
        continue;
      }
      for (const activation of await store.activations(runId, node.def.id, { limit: 100_000 })) {
        const key = `${node.def.id}#${activation.seq}`;
        expected.add(key);
        activationStatus.set(key, activation.status);
      }
    }
    for (const key of expected) {
      result.nodes++;
      if (failing.has(`${runId}/${key}`)) continue;
      const hash = key.indexOf('#');
      const status = hash === -1 ? state.nodes.get(key)?.status : activationStatus.get(key);
      if (status !== 'succeeded' || (successes.get(key) ?? 0) === 0) result.lost.push(`${runId}/${key} (${status ?? 'not in the store'})`);
    }

    const starts = new Map<string, RecordLine[]>();
    const open = new Map<string, number>();
    for (const record of runRecords) {
      const attemptKey = `${runId}/${record.node}@${record.attempt}`;
      const bodyKey = `${attemptKey}:${record.pid}`;
      if (record.kind === 'S') {
        result.executions++;
        const list = starts.get(attemptKey);
        if (list === undefined) starts.set(attemptKey, [record]);
        else list.push(record);
        open.set(bodyKey, (open.get(bodyKey) ?? 0) + 1);
      } else {
        open.set(bodyKey, (open.get(bodyKey) ?? 0) - 1);
      }
    }
    for (const [key, list] of starts) {
      if (list.length > 1) result.reExecutions.push({ key, starts: list.length, pids: list.map((r) => r.pid) });
    }
    for (const n of open.values()) if (n > 0) result.cut += n;
  }
  const label = options.label === undefined ? '' : `${options.label}: `;
  console.log(
    `[fault check] ${label}runs ${result.runs}, nodes ${result.nodes}, body starts ${result.executions}, ` +
      `lost ${result.lost.length}, recorded twice ${result.recordedTwice.length}, re-executions ${result.reExecutions.length}, cut by a kill ${result.cut}`,
  );
  for (const again of result.reExecutions) console.log(`[fault check]   re-executed ${again.key}: started ${again.starts} times (pids ${again.pids.join(', ')})`);
  for (const key of result.lost.slice(0, 20)) console.log(`[fault check]   LOST ${key}`);
  for (const key of result.recordedTwice.slice(0, 20)) console.log(`[fault check]   RECORDED TWICE ${key}`);
  return result;
}

// ---- a cluster ----------------------------------------------------------------

/** One test's broker prefix, schema, record file, processes and clients. */
export class Cluster {
  private readonly procs: Proc[] = [];
  private readonly clients: Client[] = [];
  private readonly stores: Store[] = [];
  private cleaned: Promise<void> | undefined;

  private constructor(
    /** AMQP URL. */
    readonly broker: string,
    /** PostgreSQL URL. */
    readonly store: string,
    /** AMQP prefix `twfault-<random>`. */
    readonly prefix: string,
    /** PostgreSQL schema `tw_fault_<random>`. */
    readonly schema: string,
    /** A temporary directory (the record file lives there). */
    readonly dir: string,
  ) {}

  /** A fresh cluster (no process yet); fails with how to start the services when one is down. */
  static async create(): Promise<Cluster> {
    const [broker, store] = await Promise.all([requireRabbit(), requirePostgres()]);
    const suffix = randomBytes(5).toString('hex');
    const dir = mkdtempSync(join(tmpdir(), 'taskwire-fault-'));
    await prepareTestSchema(`tw_fault_${suffix}`);
    return new Cluster(broker, store, `twfault-${suffix}`, `tw_fault_${suffix}`, dir);
  }

  /** The file the tasks append their `S`/`E` lines to. */
  get recordFile(): string {
    return join(this.dir, 'records.txt');
  }

  /** Every process spawned (dead ones included). */
  get processes(): readonly Proc[] {
    return this.procs;
  }

  private args(): string[] {
    return ['--broker', this.broker, '--store', this.store, '--prefix', this.prefix, '--schema', this.schema];
  }

  private env(): NodeJS.ProcessEnv {
    return { ...process.env, [RECORD_ENV]: this.recordFile, TASKWIRE_LOG_LEVEL: 'info' };
  }

  /** Spawns a worker (with a coordinator unless `coordinator: false`) and waits for its `ready` line. */
  async worker(options: SpawnOptions = {}): Promise<Proc> {
    const args = ['--tasks', FAULT_TASKS, ...this.args(), '--concurrency', String(options.concurrency ?? 8), '--shutdown-grace', '2000'];
    if (options.coordinator === false) args.push('--no-coordinator');
    const proc = spawnProc('worker', args, this.env());
    this.procs.push(proc);
    return options.waitReady === false ? proc : waitReady(proc);
  }

  /** Spawns `n` workers at once and waits until all are ready. */
  workers(n: number, options: SpawnOptions = {}): Promise<Proc[]> {
    return Promise.all(Array.from({ length: n }, () => this.worker(options)));
  }

  /**
   * Keeps `n` workers running, as a process supervisor would: starts them, and
   * spawns a new one whenever one exits (a task that kills its process), until
   * `stop()`. `restarts()` counts the workers spawned to replace dead ones.
   */
  async superviseWorkers(n: number, options: SpawnOptions = {}): Promise<{ stop(): void; restarts(): number }> {
    const mine = await this.workers(n, options);
    let restarts = 0;
    const timer = setInterval(() => {
      for (let alive = mine.filter((proc) => proc.alive).length; alive < n; alive++) {
        restarts++;
        this.worker({ ...options, waitReady: false }).then((proc) => mine.push(proc), () => undefined);
      }
    }, 100);
    return { stop: () => clearInterval(timer), restarts: () => restarts };
  }

  /** Spawns a coordinator alone and waits for its `ready` line. */
  async coordinator(options: Pick<SpawnOptions, 'waitReady'> = {}): Promise<Proc> {
    const proc = spawnProc('coordinator', this.args(), this.env());
    this.procs.push(proc);
    return options.waitReady === false ? proc : waitReady(proc);
  }

  /** A client in the test process (no worker, no coordinator: the processes do the work). */
  async client(): Promise<Client> {
    const client = await connect({ broker: this.broker, store: this.store, prefix: this.prefix, schema: this.schema });
    this.clients.push(client);
    return client;
  }

  /** The records written so far. */
  records(): RecordLine[] {
    return readRecords(this.recordFile);
  }

  /** Distinct nodes whose body ended at least once. */
  finished(): number {
    return finishedKeys(this.records()).size;
  }

  /** Waits until at least `count` distinct bodies have ended. */
  async untilFinished(count: number, timeoutMs = 60_000): Promise<void> {
    await until(() => this.finished() >= count, `${count} finished task bodies`, timeoutMs, 20);
  }

  /** Runs {@link check} on this cluster's records and store. */
  async check(runIds: Iterable<string>, options: CheckOptions = {}): Promise<CheckResult> {
    const store = await openPostgresStore({ url: this.store, schema: this.schema });
    this.stores.push(store);
    return check(this.records(), store, runIds, options);
  }

  /** Kills every process left, closes the clients, drops the schema and deletes the prefix's queues. Idempotent. */
  cleanup(): Promise<void> {
    this.cleaned ??= (async () => {
      await Promise.all(this.procs.map((proc) => kill(proc, 'SIGKILL')));
      await Promise.all(this.clients.splice(0).map((client) => client.close().catch(() => undefined)));
      await Promise.all(this.stores.splice(0).map((store) => store.close().catch(() => undefined)));
      // Each step on its own: a broker that is down must not leave the schema behind, nor the reverse.
      const steps = await Promise.allSettled([
        (async () => {
          await deleteAmqpPrefix({ url: this.broker, prefix: this.prefix, shards: DEFAULT_SHARDS }, ['default']);
        })(),
        (async () => {
          const db = new pg.Client({ connectionString: this.store });
          await db.connect();
          try {
            await db.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`);
          } finally {
            await db.end();
          }
        })(),
      ]);
      rmSync(this.dir, { recursive: true, force: true });
      const failed = steps.find((step): step is PromiseRejectedResult => step.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    })();
    return this.cleaned;
  }
}

/**
 * One cluster per test in the calling `describe`: returns the function that
 * creates it, and registers its cleanup after each test and the killing of
 * leftover processes after all.
 */
export function clusterPerTest(): () => Promise<Cluster> {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.cleanup();
    cluster = undefined;
  });
  afterAll(killLeftovers);
  return async () => (cluster = await Cluster.create());
}
