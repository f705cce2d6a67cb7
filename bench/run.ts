/**
 * `npm run bench`: taskwire on the peer workloads, in three modes, with the same
 * JSON lines as the peer scripts (`../shared/bench/peers/`): one line per
 * (mode, workload) on stdout (per (mode, size) for `scale`), progress and a
 * table on stderr. See `docs/benchmarks.md`.
 *
 *   npm run bench                                  # every mode and workload, 3 runs each
 *   npm run bench -- --smoke                       # CI: tiny sizes, 1 run, memory + sqlite (< 30 s)
 *   npm run bench -- --modes memory --workloads chain,throughput --runs 5
 *   npm run bench -- --peers /tmp/peers/bullmq.jsonl   # ratios against peer lines in the table
 *   npm run bench -- --peer-scripts /tmp/peers/node/bullmq-bench.mjs   # BullMQ run right before and after, ratios to both
 */
import { appendFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { MODE_NAMES, openMode, workerLines, type Mode, type ModeName, type ModeOptions, type Session } from './modes.js';
import { loadPeers, runPeerScripts, summaryTable, type PeerLine, type Rec } from './peers.js';
import { median, medianIndex, r1, r3, r4, spreadPct } from './stats.js';
import {
  chain,
  events,
  fanout,
  fanoutMap,
  scaleChild,
  scaleRun,
  SCALE_SHAPES,
  Settlements,
  throughput,
  WORKLOAD_NAMES,
  type RunResult,
  type ScaleChildSpec,
  type ScaleShape,
  type WorkloadContext,
  type WorkloadName,
} from './workloads.js';

const HELP = `taskwire benchmark: W1 chain, W2 fanout (and fanout-map, its map/collect form), W3 throughput, W4 events, scale; modes memory, sqlite, amqp-pg.

  --modes a,b            ${MODE_NAMES.join(',')} (default: all; --smoke: memory,sqlite)
  --workloads a,b        ${WORKLOAD_NAMES.join(',')} (default: all)
  --runs n               measured runs per workload, after the warm-up (default 3; --smoke: 1)
  --warmup-s s           unreported warm-up: full-size runs (W4: 2,000 notifications) repeated until s seconds
                         have passed, at least one (1; --smoke: 0): short workloads need many runs before the JIT settles
  --chain-n n            W1 tasks (200)
  --fanout-width n       W2 parallel tasks, fanout and fanout-map (1000; n = width + 2)
  --throughput-chains n  W3 chains of 3 tasks (1000)
  --events-n n           W4 notifications (10000)
  --scale-n a,b,c        scale flow sizes in nodes (10000,30000,100000)
  --scale-shape s        wide (1 root -> n-2 parallel -> 1 join) or tree (joins of 100, then one join) (wide)
  --scale-runs n         runs per scale size, one child process each (default: --runs)
  --scale-node-args="…"  extra node flags for the scale children, e.g. --scale-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof"
  --worker-node-args="…" extra node flags for the amqp-pg worker processes (same use)
  --clients n            amqp-pg, W3: start the chains from n clients (connections) round-robin (1)
  --worker-metrics       amqp-pg: read the workers' Prometheus metrics around the measured runs (worker_metrics field)
  --timeout s            give up on one run of W1-W4 after s seconds (300)
  --scale-timeout s      give up on one scale run after s seconds (600); larger sizes are then skipped
  --broker url           amqp-pg: RabbitMQ (amqp://guest:guest@127.0.0.1:5672)
  --pg url               amqp-pg: PostgreSQL (postgres://postgres@127.0.0.1:5432/test)
  --workers n            amqp-pg: worker processes (2)
  --concurrency n        amqp-pg: --concurrency of each worker (64)
  --embedded-concurrency n  memory/sqlite: worker concurrency (16, the library default)
  --peers f1,f2          peer JSONL files (bullmq-bench.mjs output, ...): ratios and targets in the table
  --peer-scripts s1,s2   peer scripts (e.g. a copy of ../shared/bench/peers/node/bullmq-bench.mjs, its npm ci done) run
                         with node right before and right after taskwire: their lines (with "phase") join the output,
                         the table gives the ratio to each, and a ratio target must hold against both
  --out file             also append the JSON lines to this file
  --smoke                tiny sizes, 1 run, memory + sqlite (what CI runs)
  --skip-verify          do not read back every W3 result after the timed window (cleaner CPU profiles)
`;

async function main(): Promise<number> {
  const { values: opt } = parseArgs({
    options: {
      modes: { type: 'string' },
      workloads: { type: 'string' },
      runs: { type: 'string' },
      'chain-n': { type: 'string' },
      'fanout-width': { type: 'string' },
      'throughput-chains': { type: 'string' },
      'events-n': { type: 'string' },
      'scale-n': { type: 'string' },
      'scale-shape': { type: 'string', default: 'wide' },
      'scale-runs': { type: 'string' },
      'scale-node-args': { type: 'string', default: '' },
      'worker-node-args': { type: 'string', default: '' },
      'worker-metrics': { type: 'boolean', default: false },
      clients: { type: 'string' },
      timeout: { type: 'string' },
      'warmup-s': { type: 'string' },
      'scale-timeout': { type: 'string', default: '600' },
      broker: { type: 'string', default: process.env['TASKWIRE_BENCH_BROKER_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672' },
      pg: { type: 'string', default: process.env['TASKWIRE_BENCH_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test' },
      workers: { type: 'string', default: '2' },
      concurrency: { type: 'string', default: '64' },
      'embedded-concurrency': { type: 'string', default: '16' },
      peers: { type: 'string' },
      'peer-scripts': { type: 'string' },
      out: { type: 'string' },
      smoke: { type: 'boolean', default: false },
      'skip-verify': { type: 'boolean', default: false },
      'scale-child': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (opt['scale-child'] !== undefined) {
    await scaleChild(JSON.parse(opt['scale-child']) as ScaleChildSpec);
    return Number(process.exitCode ?? 0);
  }
  if (opt.help) {
    process.stderr.write(HELP);
    return 0;
  }
  const smoke = opt.smoke;
  const int = (value: string | undefined, fallback: number, what: string): number => {
    const n = value === undefined ? fallback : Number(value);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${what} expected a whole number, got ${value}`);
    return n;
  };
  const list = <T extends string>(value: string | undefined, fallback: readonly T[], allowed: readonly T[], what: string): T[] => {
    if (value === undefined) return [...fallback];
    const items = value.split(',').map((s) => s.trim()).filter(Boolean);
    for (const item of items) if (!allowed.includes(item as T)) throw new Error(`--${what}: unknown "${item}" (expected ${allowed.join(', ')})`);
    return items as T[];
  };
  const modes = list<ModeName>(opt.modes, smoke ? ['memory', 'sqlite'] : MODE_NAMES, MODE_NAMES, 'modes');
  const workloads = list<WorkloadName>(opt.workloads, WORKLOAD_NAMES, WORKLOAD_NAMES, 'workloads');
  const runs = int(opt.runs, smoke ? 1 : 3, 'runs');
  if (runs < 1) throw new Error('--runs must be at least 1');
  const clients = int(opt.clients, 1, 'clients');
  if (clients < 1) throw new Error('--clients must be at least 1');
  if (clients > 1 && (modes.some((m) => m !== 'amqp-pg') || workloads.some((w) => w !== 'throughput'))) {
    throw new Error('--clients applies to --modes amqp-pg --workloads throughput only (embedded modes have one process; other workloads start one run)');
  }
  const sizes = {
    chain: int(opt['chain-n'], smoke ? 20 : 200, 'chain-n'),
    fanout: int(opt['fanout-width'], smoke ? 20 : 1000, 'fanout-width'),
    'fanout-map': int(opt['fanout-width'], smoke ? 20 : 1000, 'fanout-width'),
    throughput: int(opt['throughput-chains'], smoke ? 20 : 1000, 'throughput-chains'),
    events: int(opt['events-n'], smoke ? 100 : 10_000, 'events-n'),
    scale: (opt['scale-n'] ?? (smoke ? '1000' : '10000,30000,100000')).split(',').map((s) => int(s.trim(), 0, 'scale-n')).sort((a, b) => a - b),
  };
  const shape = opt['scale-shape'] as ScaleShape;
  if (!SCALE_SHAPES.includes(shape)) throw new Error(`--scale-shape: expected ${SCALE_SHAPES.join(' or ')}, got ${shape}`);
  const scaleRuns = int(opt['scale-runs'], runs, 'scale-runs');
  const timeoutMs = int(opt.timeout, smoke ? 20 : 300, 'timeout') * 1000;
  const warmupMs = Number(opt['warmup-s'] ?? (smoke ? 0 : 1)) * 1000;
  if (!Number.isFinite(warmupMs) || warmupMs < 0) throw new Error(`--warmup-s expected a number of seconds, got ${opt['warmup-s']}`);
  const scaleTimeoutMs = int(opt['scale-timeout'], 600, 'scale-timeout') * 1000;
  const peers: PeerLine[] = loadPeers(opt.peers);
  const peerScripts = (opt['peer-scripts'] ?? '').split(',').filter(Boolean);
  const log = (message: string): void => void process.stderr.write(`[bench] ${message}\n`);
  const modeOptions: ModeOptions = {
    broker: opt.broker,
    pgUrl: opt.pg,
    workers: int(opt.workers, 2, 'workers'),
    workerConcurrency: int(opt.concurrency, 64, 'concurrency'),
    embeddedConcurrency: int(opt['embedded-concurrency'], 16, 'embedded-concurrency'),
    workerNodeArgs: opt['worker-node-args'].split(' ').filter(Boolean),
    workerMetrics: opt['worker-metrics'],
    log,
  };
  const records: Rec[] = [];
  const write = (rec: Rec | PeerLine): void => {
    const line = JSON.stringify(rec);
    process.stdout.write(`${line}\n`);
    if (opt.out !== undefined) appendFileSync(opt.out, `${line}\n`);
  };
  const emit = (rec: Rec): void => {
    records.push(rec);
    write(rec);
  };
  const measurePeers = async (phase: 'before' | 'after'): Promise<void> => {
    const lines = await runPeerScripts(peerScripts, phase, log);
    for (const line of lines) write(line);
    peers.push(...lines);
  };

  let current: Mode | undefined;
  const interrupt = (): void => {
    log('interrupted: stopping workers and cleaning up');
    void (current?.close() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);

  const started = performance.now();
  log(`modes ${modes.join(',')}; workloads ${workloads.join(',')}; runs ${runs}; sizes ${JSON.stringify(sizes)}${smoke ? ' (smoke)' : ''}`);
  await measurePeers('before');
  for (const modeName of modes) {
    let mode: Mode;
    try {
      mode = await openMode(modeName, modeOptions);
    } catch (error) {
      log(`mode ${modeName} could not start: ${(error as Error).message}`);
      emit({ system: `taskwire-${modeName}`, workload: '*', error: `mode could not start: ${(error as Error).message}` });
      continue;
    }
    current = mode;
    try {
      for (const workload of workloads) {
        if (workload === 'scale') {
          await runScale(mode, sizes.scale, shape, scaleRuns, scaleTimeoutMs, opt['scale-node-args'], emit, log);
        } else {
          const size = sizes[workload];
          // Unreported warm-up runs at full size (W4: 2,000 notifications), so that the JIT has settled.
          const warmup = workload === 'events' ? Math.min(size, 2000) : size;
          emit(await runWorkload(mode, workload, size, { size: warmup, ms: warmupMs }, runs, timeoutMs, { verify: !opt['skip-verify'], clients }, log));
        }
      }
    } finally {
      await mode.close();
      current = undefined;
    }
  }
  await measurePeers('after');
  log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  process.stderr.write(`\n${summaryTable(records, peers)}\n`);
  return records.some((rec) => rec.error !== undefined) ? 1 : 0;
}

const RUNNERS: Record<Exclude<WorkloadName, 'scale'>, (ctx: WorkloadContext, size: number) => Promise<RunResult>> = { chain, fanout, 'fanout-map': fanoutMap, throughput, events };

/** Warm-up, then `runs` measured runs of one workload in one mode, on a fresh client. */
async function runWorkload(
  mode: Mode,
  workload: Exclude<WorkloadName, 'scale'>,
  size: number,
  warmup: { size: number; ms: number },
  runs: number,
  timeoutMs: number,
  { verify, clients }: { verify: boolean; clients: number },
  log: (m: string) => void,
): Promise<Rec> {
  const base: Rec = { system: mode.system, workload, ...(clients > 1 ? { clients } : {}) };
  const results: RunResult[] = [];
  const loadBefore = r1(loadavg()[0] ?? 0);
  let workerMetrics: Record<string, number> | undefined;
  let warmups = 0;
  let phase = 'connect';
  try {
    const session = await mode.session();
    // More clients (--clients): their own connections, starting W3's chains beside the first.
    const more: Session[] = [];
    try {
      for (let k = 1; k < clients; k++) more.push(await mode.session());
      const settlements = await Settlements.open(session.client);
      const starters = [session.client, ...more.map((s) => s.client)];
      const ctx: WorkloadContext = { client: session.client, starters, runs: settlements, timeoutMs, check: () => mode.check(), verify, log };
      phase = `warm-up (size ${warmup.size})`;
      const tw = performance.now();
      do {
        await RUNNERS[workload](ctx, warmup.size);
        warmups++;
      } while (performance.now() - tw < warmup.ms && warmups < 200);
      log(`${mode.name} ${workload}: warm-up ${warmups} run(s) of size ${warmup.size} in ${((performance.now() - tw) / 1000).toFixed(3)} s`);
      const before = await mode.scrape();
      for (let k = 0; k < runs; k++) {
        phase = `run ${k + 1}/${runs} (size ${size})`;
        const result = await RUNNERS[workload](ctx, size);
        results.push(result);
        log(`${mode.name} ${workload} run ${k + 1}/${runs}: ${result.seconds.toFixed(4)} s ${JSON.stringify(result.extra)}`);
      }
      workerMetrics = workerMetricsDelta(before, await mode.scrape(), runs);
      await settlements.close();
    } finally {
      for (const extra of more) await withTimeout(extra.close(), 30_000, 'closing a client');
      await withTimeout(session.close(), 30_000, 'closing the client');
    }
  } catch (error) {
    const message = `${phase}: ${(error as Error).message}`;
    log(`${mode.name} ${workload} FAILED in ${message}`);
    for (const line of workerLines()) log(line);
    return { ...base, n: results[0]?.n ?? size, error: message, runs_s: results.map((r) => r4(r.seconds)), config: mode.config, versions: mode.versions };
  }
  const seconds = results.map((r) => r.seconds);
  const med = median(seconds);
  const n = (results[0] as RunResult).n;
  const rec: Rec = { ...base, n, seconds: r4(med), tasks_per_s: r1(n / med) };
  if (workload === 'chain') rec['per_hop_ms'] = r4((med / n) * 1000);
  if (workload === 'events') rec['events_per_s'] = rec['tasks_per_s'];
  Object.assign(rec, (results[medianIndex(seconds)] as RunResult).extra);
  rec['runs_s'] = seconds.map(r4);
  rec['spread_pct'] = r1(spreadPct(seconds));
  const cpu = results.map((r) => r.extra['cpu_s']).filter((c): c is number => typeof c === 'number');
  if (cpu.length === results.length) {
    // The process's CPU seconds per run (chain, throughput): n per CPU second barely moves with the machine's load.
    rec['cpu_runs_s'] = cpu;
    rec['tasks_per_cpu_s'] = r1(n / median(cpu));
    rec['cpu_spread_pct'] = r1(spreadPct(cpu));
  }
  rec['warmup_runs'] = warmups;
  rec['load_avg_1m'] = [loadBefore, r1(loadavg()[0] ?? 0)];
  if (workerMetrics !== undefined) rec['worker_metrics'] = workerMetrics;
  rec['config'] = `${mode.config}; ${HOW[workload]}`;
  rec['versions'] = mode.versions;
  return rec;
}

/** Per measured run: what the workers did (from their Prometheus counters), or undefined without `--worker-metrics`. */
function workerMetricsDelta(before: Record<string, number>, after: Record<string, number>, runs: number): Record<string, number> | undefined {
  if (Object.keys(after).length === 0) return undefined;
  const d = (name: string): number => ((after[name] ?? 0) - (before[name] ?? 0)) / runs;
  const commits = d('taskwire_store_commit_duration_seconds_count');
  const dispatched = d('taskwire_queue_wait_seconds_count');
  const executed = d('taskwire_task_duration_seconds_count');
  return {
    tasks_started: r1(d('taskwire_tasks_started_total')),
    steps: r1(d('taskwire_engine_steps_total')),
    commits: r1(commits),
    commit_ms_mean: commits > 0 ? r3((d('taskwire_store_commit_duration_seconds_sum') / commits) * 1000) : 0,
    queue_wait_ms_mean: dispatched > 0 ? r3((d('taskwire_queue_wait_seconds_sum') / dispatched) * 1000) : 0,
    task_ms_mean: executed > 0 ? r3((d('taskwire_task_duration_seconds_sum') / executed) * 1000) : 0,
    worker_cpu_s: r3(d('process_cpu_seconds_total')),
  };
}

const HOW: Record<WorkloadName, string> = {
  chain: 'one run of N bench.inc nodes linked in a line; timed from tw.start() to the last result read (Flow object built before: build_ms)',
  fanout: 'one run: root -> width x bench.fan -> bench.join (inputs v0..v<width-1>); timed from tw.start() to the join result read',
  'fanout-map': 'W2 as map/collect: root -> one bench.fan node with each: i over [0..width-1] (width children) -> bench.join-list (collect: values); timed from tw.start() to the join result read',
  throughput: 'N runs a -> b -> c (bench.inc) started without awaiting each (Promise.all of tw.start); timed until every run settled (announcements)',
  events: "one run event('bench.tick') -> bench.tick (persistent); N tw.notify() fired without awaiting each; timed until N activations succeeded; latency = activation finishedAt - notify call time",
  scale: 'one run of n nodes in a child process of its own (warm-up run of <=1000 nodes first); seconds = tw.start() to settled; build_s = building the Flow object; peak_rss_mb = the child maxRSS',
};

/** The scale workload: per size, `runs` child processes; a timeout skips the larger sizes. */
async function runScale(mode: Mode, sizes: number[], shape: ScaleShape, runs: number, timeoutMs: number, nodeArgs: string, emit: (rec: Rec) => void, log: (m: string) => void): Promise<void> {
  let skipBecause: string | undefined;
  for (const n of sizes) {
    const base: Rec = { system: mode.system, workload: 'scale', n, shape };
    if (skipBecause !== undefined) {
      emit({ ...base, error: `skipped: ${skipBecause}`, config: mode.config, versions: mode.versions });
      continue;
    }
    const results: Record<string, number>[] = [];
    const loadBefore = r1(loadavg()[0] ?? 0);
    let failure: string | undefined;
    for (let k = 0; k < runs && failure === undefined; k++) {
      let runId: string | undefined;
      const r = await scaleRun({
        connect: mode.spec(),
        n,
        shape,
        warmup: n <= 1000 ? 100 : 1000,
        timeoutMs,
        nodeArgs: nodeArgs.split(' ').filter(Boolean),
        log,
        onStarted: (id) => (runId = id),
      });
      if (r.error !== undefined || r.seconds === undefined) {
        failure = `run ${k + 1}/${runs}: ${r.error ?? 'no result'}`;
        if (runId !== undefined && mode.name === 'amqp-pg') await cancelRun(mode, runId, log);
        break;
      }
      results.push(r as unknown as Record<string, number>);
      log(`${mode.name} scale n=${n} run ${k + 1}/${runs}: ${r.seconds.toFixed(3)} s (build ${r.build_s?.toFixed(3)} s, start ${r.start_s?.toFixed(3)} s (cpu ${r.start_cpu_s?.toFixed(3)}), run ${r.run_s?.toFixed(3)} s (cpu ${r.run_cpu_s?.toFixed(3)})), peak RSS ${r.peak_rss_mb} MB`);
    }
    if (failure !== undefined) {
      log(`${mode.name} scale n=${n} FAILED: ${failure}`);
      for (const line of workerLines()) log(line);
      skipBecause = `scale n=${n} failed (${failure.slice(0, 120)})`;
      emit({ ...base, error: failure, runs_s: results.map((r) => r4(r['seconds'] as number)), config: mode.config, versions: mode.versions });
      continue;
    }
    const seconds = results.map((r) => r['seconds'] as number);
    const med = median(seconds);
    const mid = results[medianIndex(seconds)] as Record<string, number>;
    emit({
      ...base,
      seconds: r4(med),
      us_per_node: r1((med / n) * 1e6),
      tasks_per_s: r1(n / med),
      peak_rss_mb: Math.max(...results.map((r) => r['peak_rss_mb'] as number)),
      build_s: r4(mid['build_s'] as number),
      start_s: r4(mid['start_s'] as number),
      run_s: r4(mid['run_s'] as number),
      start_cpu_s: r4(mid['start_cpu_s'] as number),
      run_cpu_s: r4(mid['run_cpu_s'] as number),
      start_us_per_node: r1(((mid['start_s'] as number) / n) * 1e6),
      start_cpu_us_per_node: r1(((mid['start_cpu_s'] as number) / n) * 1e6),
      total_s: r4((mid['build_s'] as number) + (mid['seconds'] as number)),
      rss_before_mb: mid['rss_before_mb'],
      heap_used_mb: mid['heap_used_mb'],
      runs_s: seconds.map(r4),
      peak_rss_runs_mb: results.map((r) => r['peak_rss_mb']),
      spread_pct: r1(spreadPct(seconds)),
      load_avg_1m: [loadBefore, r1(loadavg()[0] ?? 0)],
      config: `${mode.config}; ${HOW.scale}; shape ${shape}`,
      versions: mode.versions,
    });
  }
}

async function cancelRun(mode: Mode, runId: string, log: (m: string) => void): Promise<void> {
  try {
    const session = await mode.session();
    try {
      await withTimeout(session.client.run(runId).cancel(), 60_000, `cancelling run ${runId}`);
      log(`cancelled run ${runId} (its child process was killed)`);
    } finally {
      await withTimeout(session.close(), 30_000, 'closing the client');
    }
  } catch (error) {
    log(`could not cancel run ${runId}: ${(error as Error).message}`);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer after ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`[bench] ${(error as Error).stack ?? String(error)}\n`);
    process.exit(2);
  },
);
