/**
 * The workloads, as the peer scripts define them (`../shared/bench/peers/README.md`):
 *
 * - W1 `chain`: N tasks in a line, each gets the previous result + 1.
 * - W2 `fanout`: 1 root → width parallel tasks → 1 join summing them.
 * - W2 `fanout-map`: the same in its map/collect form: 1 root → one map node over
 *   `i = [0 … width-1]` (width children) → 1 join collecting their results.
 * - W3 `throughput`: `chains` independent runs a → b → c, all started at once.
 * - W4 `events`: N notifications of `bench.tick` into ONE persistent listener.
 * - `scale`: one flow of n nodes (1 root → n−2 parallel → 1 join, or a tree of
 *   joins), each run in a child process of its own so that its peak RSS is its own.
 *
 * What is timed (`seconds`): from the `tw.start()` call (W4: the first `notify`)
 * until the client has observed the completion (W1/W2: and read the final result).
 * The `Flow` objects are built before that, and the time to build them is reported
 * apart (`build_ms`, `build_s`); `tw.start(flow)` itself (flow definition, validation,
 * the first commit) is inside the timed window.
 *
 * Completion is observed through announcements (`tw.watch`), one subscription per
 * workload, set up before the clock starts; announcements are best effort, so a
 * workload that makes no progress for a while asks the store (`probe`).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { event, flow, type Client, type HistoryEntry, type RunStatus } from '../src/index.js';
import { connectSpec, type ConnectSpec } from './modes.js';
import { percentile, r1, r3, r4 } from './stats.js';
import { fan, fanRoot, inc, joinList, joinOf, scaleJoin, scaleLeaf, scaleRoot, tick } from './tasks.js';

/** Workload names, as given to `--workloads`. */
export const WORKLOAD_NAMES = ['chain', 'fanout', 'fanout-map', 'throughput', 'events', 'scale'] as const;
/** A workload name. */
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

/** Shapes of the scale flow. */
export const SCALE_SHAPES = ['wide', 'tree'] as const;
/** A scale shape: `wide` = 1 root → n−2 parallel → 1 join; `tree` = the parallel nodes joined by groups of 100, then one join. */
export type ScaleShape = (typeof SCALE_SHAPES)[number];

/** What one measured run gives. */
export interface RunResult {
  /** Timed seconds. */
  seconds: number;
  /** Tasks, events or nodes. */
  n: number;
  /** Per-run extra fields (those of the run closest to the median are reported). */
  extra: Record<string, unknown>;
}

/** What a workload run needs. */
export interface WorkloadContext {
  /** The connected client. */
  client: Client;
  /** The clients that start W3's chains, round-robin (`--clients`; the first is `client`). */
  starters: Client[];
  /** Run completions observed through announcements. */
  runs: Settlements;
  /** Give up on one run after this long. */
  timeoutMs: number;
  /** Throws when the mode cannot go on (a dead worker process). */
  check: () => void;
  /** Check every W3 result after the timed window (off for profiling: `--skip-verify`). */
  verify: boolean;
  /** Progress (stderr). */
  log: (message: string) => void;
}

const SETTLED = new Set<RunStatus>(['succeeded', 'failed', 'stalled', 'rolled_back', 'rollback_failed', 'cancelled']);
const RUN_PREFIX = `b${randomBytes(3).toString('hex')}${process.pid.toString(36)}`;
let runSeq = 0;

/** A fresh run id (letters, digits and "-": a single word of an announcement routing key). */
export function newRunId(what: string): string {
  return `${RUN_PREFIX}-${what}-${++runSeq}`;
}

const sleep = (ms: number): { promise: Promise<void>; cancel: () => void } => {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return { promise, cancel: () => clearTimeout(timer) };
};

/** Options of {@link Countdown.wait}. */
export interface WaitOptions {
  /** Reject after this long. */
  timeoutMs: number;
  /** What is awaited, for the timeout message. */
  what: string;
  /** Called every second: throws to give up (a dead worker). */
  check?: () => void;
  /** Called when nothing was observed for `stallMs`: asks the store, calling `hit` for what is done. */
  probe?: (countdown: Countdown) => Promise<void>;
  /** @default 3000 */
  stallMs?: number;
  /** Adds a diagnosis to the timeout message. */
  diagnose?: () => Promise<string>;
}

/** Counts distinct completions (run ids, activation numbers) until a target. */
export class Countdown {
  private readonly seen = new Set<string | number>();
  private resolveDone: () => void = () => undefined;
  private rejectDone: (error: Error) => void = () => undefined;
  /** Resolves once `target` distinct keys were hit; rejects on a failure. */
  readonly done: Promise<void>;
  /** When the last new key was hit (epoch ms). */
  lastProgressAt = Date.now();

  constructor(readonly target: number) {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    this.done.catch(() => undefined); // observed by wait()
    if (target <= 0) this.resolveDone();
  }

  /** Distinct keys hit so far. */
  get count(): number {
    return this.seen.size;
  }

  /** Whether a key was hit. */
  has(key: string | number): boolean {
    return this.seen.has(key);
  }

  /** Records a completion. */
  hit(key: string | number): void {
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.lastProgressAt = Date.now();
    if (this.seen.size >= this.target) this.resolveDone();
  }

  /** Fails the countdown (a run that did not succeed). */
  fail(error: Error): void {
    this.rejectDone(error);
  }

  /** Waits for the target, checking for stalls and dead workers every second. */
  async wait(options: WaitOptions): Promise<void> {
    const deadline = Date.now() + options.timeoutMs;
    const stallMs = options.stallMs ?? 3000;
    let lastProbe = 0;
    for (;;) {
      const tick = sleep(1000);
      const finished = await Promise.race([this.done.then(() => true), tick.promise.then(() => false)]);
      tick.cancel();
      if (finished) return;
      options.check?.();
      const now = Date.now();
      if (options.probe !== undefined && now - this.lastProgressAt > stallMs && now - lastProbe > stallMs) {
        lastProbe = now;
        await options.probe(this);
        if (this.count >= this.target) return;
      }
      if (Date.now() > deadline) {
        const diagnosis = options.diagnose === undefined ? '' : `; ${await options.diagnose().catch((e: unknown) => `(diagnosis failed: ${(e as Error).message})`)}`;
        throw new Error(`timed out after ${Math.round(options.timeoutMs / 1000)} s: ${this.count}/${this.target} ${options.what}${diagnosis}`);
      }
    }
  }
}

/** Run completions (`run.status` announcements with a settled status), for every run of the client. */
export class Settlements {
  private readonly pending = new Map<string, Countdown>();
  private readonly settled = new Map<string, RunStatus>();
  private cancel: (() => Promise<void>) | undefined;

  private constructor(private readonly client: Client) {}

  /** Subscribes to the run-level announcements of every run. */
  static async open(client: Client): Promise<Settlements> {
    const settlements = new Settlements(client);
    // watch() subscribes to `run.<runId>.#`: with `*.$run`, to `run.*.$run.#` (run-level entries only).
    const subscription = await client.watch((entry) => settlements.onEntry(entry), '*.$run');
    settlements.cancel = () => subscription.cancel();
    return settlements;
  }

  /** A countdown of the given runs (ids chosen before they start, so that no settlement is missed). */
  expect(ids: readonly string[]): Countdown {
    const countdown = new Countdown(ids.length);
    for (const id of ids) {
      const status = this.settled.get(id);
      if (status !== undefined) this.settle(countdown, id, status);
      else this.pending.set(id, countdown);
    }
    return countdown;
  }

  /** Asks the store about up to `limit` runs of the countdown not seen settled yet. */
  async probe(countdown: Countdown, ids: readonly string[], limit = 50): Promise<void> {
    const missing = ids.filter((id) => !countdown.has(id)).slice(0, limit);
    for (const id of missing) {
      const status = (await this.client.run(id).status()).status;
      if (SETTLED.has(status)) {
        this.pending.delete(id);
        this.settle(countdown, id, status);
      }
    }
  }

  /** Unsubscribes. */
  async close(): Promise<void> {
    await this.cancel?.();
  }

  private onEntry(entry: HistoryEntry): void {
    if (entry.type !== 'run.status' || entry.status === undefined || !SETTLED.has(entry.status)) return;
    this.settled.set(entry.runId, entry.status);
    const countdown = this.pending.get(entry.runId);
    if (countdown === undefined) return;
    this.pending.delete(entry.runId);
    this.settle(countdown, entry.runId, entry.status);
  }

  private settle(countdown: Countdown, id: string, status: RunStatus): void {
    if (status === 'succeeded') countdown.hit(id);
    else void this.failure(id, status).then((error) => countdown.fail(error));
  }

  private async failure(id: string, status: RunStatus): Promise<Error> {
    try {
      const snapshot = await this.client.run(id).status();
      const bad = Object.values(snapshot.nodes)
        .filter((node) => node.status === 'failed' || node.status === 'waiting')
        .slice(0, 3)
        .map((node) => `${node.id}: ${node.status}${node.error === undefined ? '' : ` (${node.error.code ?? node.error.name}: ${node.error.message})`}`);
      return new Error(`run ${id} ended ${status}: ${bad.join('; ')}`);
    } catch (error) {
      return new Error(`run ${id} ended ${status} (status unavailable: ${(error as Error).message})`);
    }
  }
}

/** Waits for runs to settle successfully, probing the store when announcements stop. */
async function waitRuns(ctx: WorkloadContext, countdown: Countdown, ids: readonly string[], what: string): Promise<void> {
  await countdown.wait({
    timeoutMs: ctx.timeoutMs,
    what,
    check: ctx.check,
    probe: (c) => ctx.runs.probe(c, ids),
    diagnose: async () => {
      const first = ids.find((id) => !countdown.has(id));
      if (first === undefined) return 'all settled';
      const snapshot = await ctx.client.run(first).status();
      const counts: Record<string, number> = {};
      for (const node of Object.values(snapshot.nodes)) counts[node.status] = (counts[node.status] ?? 0) + 1;
      return `run ${first} is ${snapshot.status}, nodes ${JSON.stringify(counts)}`;
    },
  });
}

// ---- W1 chain ----------------------------------------------------------------------

/** W1: a line of `n` tasks, each returning the previous result + 1; the last returns `n`. */
export async function chain(ctx: WorkloadContext, n: number): Promise<RunResult> {
  const tb = performance.now();
  const flo = flow('bench-chain');
  let last = inc.s({ v: 0 }, { id: 'h0' });
  flo.add(last);
  for (let i = 1; i < n; i++) {
    const next = inc.s({}, { id: `h${i}` });
    flo.link(last, next);
    last = next;
  }
  const buildMs = performance.now() - tb;
  const id = newRunId('chain');
  const countdown = ctx.runs.expect([id]);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const run = await ctx.client.start(flo, {}, { id });
  await waitRuns(ctx, countdown, [id], 'chain run');
  const value = await run.result(last);
  const seconds = (performance.now() - t0) / 1000;
  const cpuS = cpuSeconds(c0);
  if (value !== n) throw new Error(`chain: the last task returned ${String(value)}, expected ${n}`);
  return { seconds, n, extra: { build_ms: r3(buildMs), cpu_s: r4(cpuS) } };
}

/**
 * CPU time of this process (user + system, every thread: GC included) since `from`, in seconds:
 * unlike the wall time, it barely grows when other processes load the machine. In the embedded
 * modes it is the whole cost of the workload; with amqp-pg only the client's part.
 */
export function cpuSeconds(from: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1e6;
}

// ---- W2 fanout ---------------------------------------------------------------------

/** W2: root(x = 7) → `width` × fan(root + i) → join(sum); n = width + 2. */
export async function fanout(ctx: WorkloadContext, width: number): Promise<RunResult> {
  const tb = performance.now();
  const flo = flow('bench-fanout');
  const root = fanRoot.s({ x: 7 }, { id: 'root' });
  const join = joinOf(width).s({}, { id: 'join' });
  flo.add(root);
  for (let i = 0; i < width; i++) {
    const node = fan.s({ i }, { id: `f${i}` });
    flo.link(root, node);
    flo.link(node, join, { map: { [`v${i}`]: 'fan' } });
  }
  const buildMs = performance.now() - tb;
  return timeFanout(ctx, 'fanout', flo, width, buildMs, {});
}

/**
 * W2 in its map/collect form: root(x = 7) → fan over the flow input `i = [0 … width-1]` (one map
 * node, `width` children computing root + i) → join-list(sum of its collected
 * `values`); n = width + 2 tasks, as W2.
 */
export async function fanoutMap(ctx: WorkloadContext, width: number): Promise<RunResult> {
  const tb = performance.now();
  const root = fanRoot.s({ x: 7 }, { id: 'root' });
  const children = fan.s({}, { id: 'fan', each: 'i' });
  const join = joinList.s({}, { id: 'join', collect: 'values' });
  const flo = flow('bench-fanout-map').link(root, children).link(children, join, { map: { values: 'fan' } });
  const buildMs = performance.now() - tb;
  // The list is the flow input `i` (built before the clock starts, encoded inside the timed start).
  return timeFanout(ctx, 'fanout-map', flo, width, buildMs, { i: Array.from({ length: width }, (_, i) => i) });
}

/** Runs a W2 flow (either form): timed from `tw.start()` to the join's sum read, which it checks. */
async function timeFanout(ctx: WorkloadContext, name: string, flo: ReturnType<typeof flow>, width: number, buildMs: number, inputs: Record<string, unknown>): Promise<RunResult> {
  const id = newRunId(name);
  const countdown = ctx.runs.expect([id]);
  const t0 = performance.now();
  const run = await ctx.client.start(flo, inputs, { id });
  await waitRuns(ctx, countdown, [id], `${name} run`);
  const value = await run.result('join');
  const seconds = (performance.now() - t0) / 1000;
  const expected = 7 * width + (width * (width - 1)) / 2;
  if (value !== expected) throw new Error(`${name}: the join returned ${String(value)}, expected ${expected}`);
  return { seconds, n: width + 2, extra: { width, build_ms: r3(buildMs) } };
}

// ---- W3 throughput -----------------------------------------------------------------

/** W3: `chains` runs of a(v = i) → b → c started at once (no await between starts); c returns i + 3. */
export async function throughput(ctx: WorkloadContext, chains: number): Promise<RunResult> {
  const tb = performance.now();
  const flows = Array.from({ length: chains }, (_, i) => {
    const a = inc.s({ v: i }, { id: 'a' });
    const b = inc.s({}, { id: 'b' });
    const c = inc.s({}, { id: 'c' });
    return flow('bench-throughput').link(a, b).link(b, c);
  });
  const buildMs = performance.now() - tb;
  const ids = flows.map(() => newRunId('tp'));
  const countdown = ctx.runs.expect(ids);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(flows.map((flo, i) => (ctx.starters[i % ctx.starters.length] as Client).start(flo, {}, { id: ids[i] as string })));
  const submitS = (performance.now() - t0) / 1000;
  await waitRuns(ctx, countdown, ids, 'throughput runs');
  const seconds = (performance.now() - t0) / 1000;
  const cpuS = cpuSeconds(c0);
  // Not timed: every chain computed the right value.
  let wrong = 0;
  if (ctx.verify) for (let i = 0; i < chains; i++) if ((await ctx.client.run(ids[i] as string).result('c')) !== i + 3) wrong++;
  if (wrong > 0) throw new Error(`throughput: ${wrong} of ${chains} chains returned a wrong value`);
  return { seconds, n: 3 * chains, extra: { chains, submit_s: r4(submitS), build_ms: r3(buildMs), cpu_s: r4(cpuS) } };
}

// ---- W4 events ---------------------------------------------------------------------

/**
 * W4: one run, `event('bench.tick') → tick` (persistent); `n` notifications fired
 * without awaiting each; done when `n` activations succeeded. Latency of an
 * activation = its `finishedAt` (recorded by the coordinator) − the notify call's
 * time (both `Date.now()`, ms).
 */
export async function events(ctx: WorkloadContext, n: number): Promise<RunResult> {
  const flo = flow('bench-events').link(event('bench.tick', { id: 'tick_event', provides: ['i'] }), tick.s({}, { id: 'tick', persistent: true }));
  const id = newRunId('events');
  const activations = new Countdown(n);
  const subscription = await ctx.client.watch((entry) => {
    if (entry.type === 'node.succeeded' && entry.activation !== undefined) activations.hit(entry.activation);
  }, `${id}.tick.node.succeeded`);
  const run = await ctx.client.start(flo, {}, { id });
  const submitted = new Float64Array(n);
  let seconds: number;
  let submitS: number;
  try {
    const t0 = performance.now();
    const notified: Promise<string[]>[] = new Array<Promise<string[]>>(n);
    for (let i = 0; i < n; i++) {
      submitted[i] = Date.now();
      notified[i] = ctx.client.notify('bench.tick', { i });
    }
    const runIds = await Promise.all(notified);
    submitS = (performance.now() - t0) / 1000;
    const strays = runIds.filter((ids) => ids.length !== 1 || ids[0] !== id).length;
    if (strays > 0) throw new Error(`events: ${strays} notifications did not reach exactly the benchmark's run (another run listens to bench.tick?)`);
    await activations.wait({
      timeoutMs: ctx.timeoutMs,
      what: 'activations succeeded',
      check: ctx.check,
      probe: async (c) => {
        for (const a of await allActivations(run.id, ctx.client)) if (a.status === 'succeeded') c.hit(a.seq);
      },
      diagnose: async () => `run ${id} is ${(await run.status()).status}`,
    });
    seconds = (performance.now() - t0) / 1000;
  } finally {
    await subscription.cancel();
    const stopped = ctx.runs.expect([id]);
    await run.stop();
    await stopped.wait({ timeoutMs: 60_000, what: 'events run stopped', probe: (c) => ctx.runs.probe(c, [id]) }).catch((error: unknown) => ctx.log(`events: ${(error as Error).message}`));
  }
  // Not timed: every activation, its input and its finish time.
  const latencies: number[] = [];
  let succeeded = 0;
  for (const a of await allActivations(id, ctx.client)) {
    if (a.status !== 'succeeded') continue;
    succeeded++;
    const i = (a.inputs as { i?: unknown }).i;
    if (typeof i === 'number' && a.finishedAt !== undefined) latencies.push(a.finishedAt - (submitted[i] as number));
  }
  if (succeeded !== n) throw new Error(`events: ${succeeded} activations succeeded, expected ${n}`);
  latencies.sort((x, y) => x - y);
  return {
    seconds,
    n,
    extra: {
      submit_s: r4(submitS),
      p50_ms: latencies.length > 0 ? r3(percentile(latencies, 50) as number) : null,
      p99_ms: latencies.length > 0 ? r3(percentile(latencies, 99) as number) : null,
      max_ms: latencies.length > 0 ? r3(latencies[latencies.length - 1] as number) : null,
    },
  };
}

async function allActivations(runId: string, client: Client): Promise<Awaited<ReturnType<ReturnType<Client['run']>['activations']>>> {
  const handle = client.run(runId);
  const all: Awaited<ReturnType<typeof handle.activations>> = [];
  let after = 0;
  for (;;) {
    const page = await handle.activations('tick', { after, limit: 1000 });
    all.push(...page);
    if (page.length < 1000) return all;
    after = (page[page.length - 1] as { seq: number }).seq;
  }
}

// ---- scale ---------------------------------------------------------------------------

/** What a scale child process is asked to do (JSON on its command line). */
export interface ScaleChildSpec {
  /** How to connect. */
  connect: ConnectSpec;
  /** Nodes of the measured flow. */
  n: number;
  /** Nodes of the warm-up flow (0: none). */
  warmup: number;
  /** Flow shape. */
  shape: ScaleShape;
  /** Give up after this long (the parent kills the child a little later). */
  timeoutMs: number;
}

/** What a scale child prints (one JSON line on stdout). */
export interface ScaleChildResult {
  /** The run started (printed first, so that the parent can cancel it on a timeout). */
  started?: string;
  seconds?: number;
  build_s?: number;
  start_s?: number;
  run_s?: number;
  /** CPU time of the process (user + system, every thread: GC included) during the start phase; less sensitive to other processes than `start_s`. */
  start_cpu_s?: number;
  /** CPU time of the process during the run phase. */
  run_cpu_s?: number;
  rss_before_mb?: number;
  peak_rss_mb?: number;
  heap_used_mb?: number;
  error?: string;
}

/** Builds the scale flow: exactly `n` nodes. */
function scaleFlow(n: number, shape: ScaleShape): ReturnType<typeof flow> {
  if (n < 3) throw new Error(`scale: at least 3 nodes, got ${n}`);
  const flo = flow(`bench-scale-${shape}`);
  const root = scaleRoot.s({}, { id: 'root' });
  const join = scaleJoin.s({}, { id: 'join' });
  flo.add(root);
  if (shape === 'wide') {
    for (let i = 0; i < n - 2; i++) {
      const leaf = scaleLeaf.s({}, { id: `p${i}` });
      flo.link(root, leaf);
      flo.link(leaf, join);
    }
    return flo;
  }
  // tree: L parallel nodes, G = ceil(L / 100) group joins, L + G = n − 2.
  let leaves = Math.floor(((n - 2) * 100) / 101);
  while (leaves + Math.ceil(leaves / 100) < n - 2) leaves++;
  while (leaves + Math.ceil(leaves / 100) > n - 2) leaves--;
  const groups = n - 2 - leaves;
  const per = Math.ceil(leaves / groups);
  let made = 0;
  for (let g = 0; g < groups; g++) {
    const group = scaleJoin.s({}, { id: `g${g}` });
    for (let k = 0; k < per && made < leaves; k++, made++) {
      const leaf = scaleLeaf.s({}, { id: `p${made}` });
      flo.link(root, leaf);
      flo.link(leaf, group);
    }
    flo.link(group, join);
  }
  return flo;
}

/** One scale run in this process: build, start, wait until the run settles. */
async function scaleOnce(
  client: Client,
  runs: Settlements,
  n: number,
  shape: ScaleShape,
  timeoutMs: number,
  onStarted?: (id: string) => void,
): Promise<{ build_s: number; start_s: number; run_s: number; start_cpu_s: number; run_cpu_s: number }> {
  const tb = performance.now();
  const flo = scaleFlow(n, shape);
  if (flo.nodes.length !== n) throw new Error(`scale: built ${flo.nodes.length} nodes, expected ${n}`);
  const t0 = performance.now();
  const id = newRunId(`scale${n}`);
  const countdown = runs.expect([id]);
  onStarted?.(id);
  const c0 = process.cpuUsage();
  await client.start(flo, {}, { id });
  const t1 = performance.now();
  const startCpuS = cpuSeconds(c0);
  const c1 = process.cpuUsage();
  // A settled 100k-node run is rarely missed: probe (a full status()) once a minute at most.
  await countdown.wait({ timeoutMs, what: `scale run of ${n} nodes`, stallMs: 60_000, probe: (c) => runs.probe(c, [id]) });
  const t2 = performance.now();
  return { build_s: (t0 - tb) / 1000, start_s: (t1 - t0) / 1000, run_s: (t2 - t1) / 1000, start_cpu_s: startCpuS, run_cpu_s: cpuSeconds(c1) };
}

/** The scale child's main: warm-up, one measured run, one JSON line on stdout. */
export async function scaleChild(spec: ScaleChildSpec): Promise<void> {
  const say = (result: ScaleChildResult): void => void process.stdout.write(`${JSON.stringify(result)}\n`);
  const session = await connectSpec(spec.connect);
  const runs = await Settlements.open(session.client);
  let phase = 'warm-up';
  const t0 = performance.now();
  const progress = setInterval(() => {
    process.stderr.write(`[scale ${spec.connect.mode} n=${spec.n} pid ${process.pid}] ${phase}, ${((performance.now() - t0) / 1000).toFixed(0)} s, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB\n`);
  }, 15_000);
  progress.unref();
  try {
    if (spec.warmup >= 3) await scaleOnce(session.client, runs, spec.warmup, spec.shape, spec.timeoutMs);
    phase = 'measured run';
    const rssBefore = process.memoryUsage().rss;
    const r = await scaleOnce(session.client, runs, spec.n, spec.shape, spec.timeoutMs, (id) => say({ started: id }));
    const heapUsed = process.memoryUsage().heapUsed;
    say({
      seconds: r.start_s + r.run_s,
      build_s: r.build_s,
      start_s: r.start_s,
      run_s: r.run_s,
      start_cpu_s: r.start_cpu_s,
      run_cpu_s: r.run_cpu_s,
      rss_before_mb: r1(rssBefore / 2 ** 20),
      peak_rss_mb: r1(process.resourceUsage().maxRSS / 1024),
      heap_used_mb: r1(heapUsed / 2 ** 20),
    });
  } catch (error) {
    say({ error: (error as Error).message });
    process.exitCode = 1;
  } finally {
    clearInterval(progress);
    await runs.close();
    await session.close();
  }
}

/** Options of {@link scaleRun}. */
export interface ScaleRunOptions {
  /** The child's connect spec. */
  connect: ConnectSpec;
  n: number;
  shape: ScaleShape;
  warmup: number;
  timeoutMs: number;
  /** Extra node flags for the child (`--cpu-prof`, ...). */
  nodeArgs: string[];
  log: (message: string) => void;
  /** Called with the run id when the child started its run (to cancel it if the child is killed). */
  onStarted?: (id: string) => void;
}

const RUN_SCRIPT = fileURLToPath(new URL('./run.ts', import.meta.url));

/** Runs one scale measurement in a child process (killed by its pid after the timeout). */
export function scaleRun(options: ScaleRunOptions): Promise<ScaleChildResult & { killed?: boolean }> {
  const spec: ScaleChildSpec = { connect: options.connect, n: options.n, warmup: options.warmup, shape: options.shape, timeoutMs: options.timeoutMs };
  // The child runs under the same loader as this process (tsx's --import flags are in execArgv).
  const child = spawn(process.execPath, [...process.execArgv, ...options.nodeArgs, RUN_SCRIPT, '--scale-child', JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve) => {
    let result: ScaleChildResult = {};
    let killed = false;
    let rest = '';
    const stderrTail: string[] = [];
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        try {
          const parsed = JSON.parse(line) as ScaleChildResult;
          if (parsed.started !== undefined) options.onStarted?.(parsed.started);
          else result = parsed;
        } catch {
          // not ours
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) {
        if (line === '') continue;
        if (line.startsWith('[scale')) options.log(line);
        stderrTail.push(line);
        if (stderrTail.length > 30) stderrTail.shift();
      }
    });
    const timer = setTimeout(() => {
      killed = true;
      if (child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }, options.timeoutMs + 30_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (killed) resolve({ error: `killed after ${Math.round((options.timeoutMs + 30_000) / 1000)} s (no result)`, killed });
      else if (result.seconds === undefined && result.error === undefined) resolve({ error: `child exited (code ${code}, signal ${signal}) without a result: ${stderrTail.slice(-8).join(' | ')}` });
      else resolve(result);
    });
  });
}
