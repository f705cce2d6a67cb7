/**
 * The three ways the benchmark runs taskwire:
 *
 * - `memory`: embedded, `connect({ store: 'memory' })`: in-process transport, the
 *   worker and the coordinator in the bench process.
 * - `sqlite`: embedded on a temporary SQLite file (a fresh file per workload).
 * - `amqp-pg`: distributed: RabbitMQ + PostgreSQL, 2 worker processes
 *   (`bin/taskwire.js worker`, each with its coordinator) and a client in the bench
 *   process; its own AMQP prefix and PostgreSQL schema, deleted at the end.
 *
 * A {@link ConnectSpec} is what a process needs to connect a client to a mode, so
 * that the scale workload's child processes connect the same way.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { connect, type Client } from '../src/index.js';
import { deleteAmqpPrefix } from '../src/transport/amqp/index.js';
import { DEFAULT_SHARDS } from '../src/store/postgres/shard-count.js';

/** Mode names, as given to `--modes`. */
export const MODE_NAMES = ['memory', 'sqlite', 'amqp-pg'] as const;
/** A mode name. */
export type ModeName = (typeof MODE_NAMES)[number];

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** The CLI the distributed workers run. */
const BIN = join(ROOT, 'bin', 'taskwire.js');
/** The tasks module the distributed workers load. */
export const TASKS_MODULE = join(ROOT, 'bench', 'tasks.ts');

/** How a process connects a client to a mode (JSON: passed to the scale child processes). */
export type ConnectSpec =
  | { mode: 'memory'; concurrency: number }
  | { mode: 'sqlite'; dir: string; concurrency: number }
  | { mode: 'amqp-pg'; broker: string; store: string; prefix: string; schema: string };

/** A connected client for one workload (or one scale run). */
export interface Session {
  /** The client. */
  client: Client;
  /** Closes the client and removes what the session created (a SQLite file). */
  close(): Promise<void>;
}

/** Options of the modes, from the command line. */
export interface ModeOptions {
  /** AMQP URL (amqp-pg). */
  broker: string;
  /** PostgreSQL URL (amqp-pg). */
  pgUrl: string;
  /** `--concurrency` of each distributed worker. */
  workerConcurrency: number;
  /** Number of distributed worker processes. */
  workers: number;
  /** Worker concurrency of the embedded modes. */
  embeddedConcurrency: number;
  /** Extra node flags of the worker processes (`--cpu-prof --cpu-prof-dir=...`). */
  workerNodeArgs: string[];
  /** Start the workers with a Prometheus endpoint, so that {@link Mode.scrape} can read them. */
  workerMetrics: boolean;
  /** Progress output. */
  log: (message: string) => void;
}

/** A mode, set up: sessions on demand, then `close()`. */
export interface Mode {
  /** Mode name. */
  readonly name: ModeName;
  /** `system` of the JSON lines (`taskwire-<mode>`). */
  readonly system: string;
  /** How it runs, for the `config` field. */
  readonly config: string;
  /** Versions of what it runs on. */
  readonly versions: Record<string, string>;
  /** What a process needs to connect a client. */
  spec(): ConnectSpec;
  /** Connects a client for one workload. */
  session(): Promise<Session>;
  /** Throws when the mode cannot go on (a worker process died), naming what happened. */
  check(): void;
  /** The workers' metrics of interest, summed over workers and labels (empty unless `workerMetrics`). */
  scrape(): Promise<Record<string, number>>;
  /** Stops workers and deletes what the mode created. Idempotent. */
  close(): Promise<void>;
}

const TASKWIRE_VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** The checked-out commit (read-only git commands), `+dirty` when src/ has uncommitted changes. */
function sourceCommit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}

const COMMIT = sourceCommit();

/** Versions common to every mode. */
function baseVersions(): Record<string, string> {
  return { taskwire: TASKWIRE_VERSION, commit: COMMIT, node: process.versions.node };
}

let sessionSeq = 0;

/** Connects a client to a mode described by `spec` (in the bench process or a scale child). */
export async function connectSpec(spec: ConnectSpec): Promise<Session> {
  switch (spec.mode) {
    case 'memory': {
      const client = await connect({ store: 'memory', concurrency: spec.concurrency });
      return { client, close: () => client.close() };
    }
    case 'sqlite': {
      const file = join(spec.dir, `bench-${process.pid}-${++sessionSeq}.db`);
      const client = await connect({ store: file, concurrency: spec.concurrency });
      return {
        client,
        close: async () => {
          await client.close();
          for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
        },
      };
    }
    case 'amqp-pg': {
      const client = await connect({ broker: spec.broker, store: spec.store, prefix: spec.prefix, schema: spec.schema });
      return { client, close: () => client.close() };
    }
  }
}

/** Sets up a mode (for amqp-pg: migrates its schema and starts the worker processes). */
export async function openMode(name: ModeName, options: ModeOptions): Promise<Mode> {
  switch (name) {
    case 'memory':
      return embeddedMode('memory', { mode: 'memory', concurrency: options.embeddedConcurrency }, `embedded: connect({ store: 'memory' }), in-process transport, worker (concurrency ${options.embeddedConcurrency}) and coordinator in the bench process`, {});
    case 'sqlite': {
      const dir = mkdtempSync(join(tmpdir(), 'taskwire-bench-'));
      const db = new Database(':memory:');
      const sqlite = (db.prepare('select sqlite_version() as v').get() as { v: string }).v;
      db.close();
      const mode = embeddedMode(
        'sqlite',
        { mode: 'sqlite', dir, concurrency: options.embeddedConcurrency },
        `embedded: connect({ store: '<tmp>/bench-*.db' }) (a new SQLite file per workload, WAL, synchronous NORMAL), in-process transport, worker (concurrency ${options.embeddedConcurrency}) and coordinator in the bench process`,
        { sqlite, 'better-sqlite3': packageVersion('better-sqlite3') },
      );
      return { ...mode, close: async () => rmSync(dir, { recursive: true, force: true }) };
    }
    case 'amqp-pg':
      return distributedMode(options);
  }
}

function embeddedMode(name: 'memory' | 'sqlite', spec: ConnectSpec, config: string, versions: Record<string, string>): Mode {
  return {
    name,
    system: `taskwire-${name}`,
    config,
    versions: { ...baseVersions(), ...versions },
    spec: () => spec,
    session: () => connectSpec(spec),
    check: () => undefined,
    scrape: async () => ({}),
    close: async () => undefined,
  };
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

// ---- distributed ---------------------------------------------------------------

interface WorkerProcess {
  child: ChildProcess;
  pid: number;
  lines: string[];
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  exited: Promise<void>;
}

/** Worker processes still running, whatever mode started them: killed by pid if the bench exits abruptly. */
const liveWorkers = new Set<WorkerProcess>();
process.on('exit', () => {
  for (const worker of liveWorkers) {
    try {
      process.kill(worker.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

function spawnWorker(nodeArgs: string[], args: string[]): WorkerProcess {
  const child = spawn(process.execPath, [...nodeArgs, BIN, 'worker', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TASKWIRE_LOG_LEVEL: 'info' } });
  if (child.pid === undefined) throw new Error('could not spawn a worker process');
  const worker: WorkerProcess = { child, pid: child.pid, lines: [], exit: undefined, exited: Promise.resolve() };
  worker.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      worker.exit = { code, signal };
      liveWorkers.delete(worker);
      resolve();
    });
  });
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      for (const line of parts) if (line !== '') worker.lines.push(line);
      if (worker.lines.length > 400) worker.lines.splice(0, worker.lines.length - 200);
    });
  }
  liveWorkers.add(worker);
  return worker;
}

function readyLine(line: string): { metricsPort?: number } | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(line) as { msg?: unknown; metricsPort?: number };
    return parsed.msg === 'ready' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

const isReady = (line: string): boolean => readyLine(line) !== undefined;

/** Metric families summed by {@link Mode.scrape} (counters, and histograms' `_sum`/`_count`). */
const SCRAPED = [
  'taskwire_tasks_started_total',
  'taskwire_engine_steps_total',
  'taskwire_store_commit_duration_seconds_sum',
  'taskwire_store_commit_duration_seconds_count',
  'taskwire_queue_wait_seconds_sum',
  'taskwire_queue_wait_seconds_count',
  'taskwire_task_duration_seconds_sum',
  'taskwire_task_duration_seconds_count',
  'process_cpu_seconds_total',
];

async function scrapeWorkers(workers: WorkerProcess[]): Promise<Record<string, number>> {
  const sums: Record<string, number> = {};
  for (const worker of workers) {
    const port = worker.lines.map(readyLine).find((ready) => ready?.metricsPort !== undefined)?.metricsPort;
    if (port === undefined) continue;
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const line of text.split('\n')) {
      const match = /^([a-z_]+)(?:\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
      if (match === null || !SCRAPED.includes(match[1] as string)) continue;
      sums[match[1] as string] = (sums[match[1] as string] ?? 0) + Number(match[2]);
    }
  }
  return sums;
}

async function waitReady(worker: WorkerProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!worker.lines.some(isReady)) {
    if (worker.exit !== undefined) throw new Error(`worker ${worker.pid} exited (${JSON.stringify(worker.exit)}) before it was ready:\n${worker.lines.slice(-20).join('\n')}`);
    if (Date.now() > deadline) throw new Error(`worker ${worker.pid} not ready after ${timeoutMs} ms:\n${worker.lines.slice(-20).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function stopWorker(worker: WorkerProcess, log: (m: string) => void): Promise<void> {
  if (worker.exit !== undefined) return;
  try {
    process.kill(worker.pid, 'SIGTERM');
  } catch {
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const stopped = await Promise.race([worker.exited.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 20_000)))]);
  clearTimeout(timer);
  if (!stopped) {
    log(`worker ${worker.pid} did not stop within 20 s of SIGTERM: SIGKILL`);
    try {
      process.kill(worker.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
    await worker.exited;
  }
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 15_000 }, (error, stdout) => resolve(error === null ? stdout.trim() : 'unknown'));
  });
}

async function distributedMode(options: ModeOptions): Promise<Mode> {
  const suffix = randomBytes(4).toString('hex');
  const prefix = `twbench-${suffix}`;
  const schema = `tw_bench_${suffix}`;
  const spec: ConnectSpec = { mode: 'amqp-pg', broker: options.broker, store: options.pgUrl, prefix, schema };
  const versions: Record<string, string> = { ...baseVersions(), 'rabbitmq-client': packageVersion('rabbitmq-client'), pg: packageVersion('pg') };
  const db = new pg.Client({ connectionString: options.pgUrl });
  await db.connect();
  try {
    versions['postgresql'] = ((await db.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? 'unknown').split(' ')[0] ?? 'unknown';
  } finally {
    await db.end();
  }
  versions['rabbitmq'] = await run('rabbitmqctl', ['version']);

  // Migrate the schema once before the workers start (they would also, under an advisory lock).
  const first = await connectSpec(spec);
  await first.close();

  const workers: WorkerProcess[] = [];
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await Promise.all(workers.map((worker) => stopWorker(worker, options.log)));
      try {
        // Every shard's queues (a bench schema has the default number), deleted without declaring them.
        await deleteAmqpPrefix({ url: options.broker, prefix, shards: DEFAULT_SHARDS }, ['default']);
      } catch (error) {
        options.log(`amqp-pg cleanup: cannot delete the AMQP prefix ${prefix}: ${(error as Error).message}`);
      }
      // A few attempts: PostgreSQL may be restarting (other test suites share it).
      let dropped = false;
      for (let attempt = 1; attempt <= 5 && !dropped; attempt++) {
        const cleaner = new pg.Client({ connectionString: options.pgUrl });
        try {
          await cleaner.connect();
          await cleaner.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
          dropped = true;
        } catch (error) {
          options.log(`amqp-pg cleanup: cannot drop schema ${schema} (attempt ${attempt}/5): ${(error as Error).message}`);
          if (attempt < 5) await new Promise((resolve) => setTimeout(resolve, 2000));
        } finally {
          await cleaner.end().catch(() => undefined);
        }
      }
      options.log(`amqp-pg: workers stopped; prefix ${prefix} deleted; schema ${schema} ${dropped ? 'dropped' : 'NOT dropped (drop it by hand)'}`);
    })();
    return closing;
  };

  try {
    const args = ['--tasks', TASKS_MODULE, '--broker', options.broker, '--store', options.pgUrl, '--prefix', prefix, '--schema', schema, '--concurrency', String(options.workerConcurrency)];
    if (options.workerMetrics) args.push('--metrics-port', '0');
    for (let i = 0; i < options.workers; i++) workers.push(spawnWorker(options.workerNodeArgs, args));
    const t0 = performance.now();
    await Promise.all(workers.map((worker) => waitReady(worker, 60_000)));
    options.log(`amqp-pg: ${workers.length} worker processes ready (pids ${workers.map((w) => w.pid).join(', ')}) in ${((performance.now() - t0) / 1000).toFixed(1)} s; prefix ${prefix}, schema ${schema}`);
  } catch (error) {
    await close();
    throw error;
  }

  return {
    name: 'amqp-pg',
    system: 'taskwire-amqp-pg',
    config:
      `distributed: RabbitMQ + PostgreSQL; ${options.workers} worker processes (node bin/taskwire.js worker --tasks bench/tasks.ts --concurrency ${options.workerConcurrency}, ` +
      `each with its coordinator); client in the bench process (connect({ broker, store, prefix, schema }): no worker, no coordinator loop)`,
    versions,
    spec: () => spec,
    session: () => connectSpec(spec),
    scrape: () => scrapeWorkers(workers),
    check: () => {
      const dead = workers.find((worker) => worker.exit !== undefined);
      if (dead !== undefined) throw new Error(`worker process ${dead.pid} exited (${JSON.stringify(dead.exit)}); its last lines:\n${dead.lines.slice(-20).join('\n')}`);
    },
    close,
  };
}

/** The last log lines of every worker of a mode, for a diagnosis (empty for embedded modes). */
export function workerLines(): string[] {
  return [...liveWorkers].flatMap((worker) => worker.lines.slice(-10).map((line) => `[worker ${worker.pid}] ${line}`));
}
