/**
 * `npm run faults`: the peers' fault scenario on the real services. 2,000 tasks
 * of 20-50 ms (200 runs × 10 independent `fault.work` nodes) on 2 worker
 * processes (concurrency 8, kept alive by a supervisor that respawns a dead one,
 * as systemd or Kubernetes would) and 2 coordinator processes (active and
 * standby); at 30 % of the bodies ended, one fault:
 *
 * - `none`: no fault, the baseline;
 * - `worker-kill`: SIGKILL of a worker;
 * - `coordinator-kill`: SIGKILL of the active coordinator;
 * - `broker-restart`: `rabbitmqctl stop_app`, then `start_app`;
 * - `postgres-restart`: `pg_ctlcluster <version> main restart`;
 * - `poison-message`: a malformed dispatch published onto the work queue;
 * - `task-exit`: a run whose task calls `process.exit(1)` every time (retry
 *   limit 1), killing the worker that runs it;
 * - `poison`: both at once.
 *
 * Counts come from what the task bodies did (the record file of
 * `test/fixtures/fault-tasks.ts`), reconciled with the store by the checker of
 * `test/distributed/harness.ts`. Per fault it prints: lost, executed twice,
 * recorded twice, seconds from the fault to full throughput again (the first
 * 0.5 s window after the fault with at least 80 % of the median rate before it),
 * and where the poison ended. The two restarts cut every other user of the
 * services: run them on a machine of your own (`bench/faults-services.ts`
 * always brings the service back up).
 *
 *   npm run faults -- --help
 */
import { Buffer } from 'node:buffer';
import { parseArgs } from 'node:util';
import { Connection } from 'rabbitmq-client';
import type { RunHandle } from '../src/index.js';
import { type Outage, restartPostgres, restartRabbit } from './faults-services.js';
import { parallelFlow, poisonFlow } from '../test/fixtures/fault-tasks.js';
import { Cluster, kill, killLeftovers, type Proc, type RecordLine, until } from '../test/distributed/harness.js';

const SCENARIOS = ['none', 'worker-kill', 'coordinator-kill', 'broker-restart', 'postgres-restart', 'poison-message', 'task-exit', 'poison'] as const;
type Scenario = (typeof SCENARIOS)[number];

const WIDTH = 10;
const WINDOW_MS = 500;

interface Figures {
  scenario: Scenario;
  tasks: number;
  lost: number;
  executedTwice: number;
  recordedTwice: number;
  recoverySeconds: number | undefined;
  /** From the start to the last innocent body's end. */
  innocentSeconds: number;
  seconds: number;
  /** For a service restart: how long it was down, and the seconds from its return to full throughput. */
  outage?: string;
  poison?: string;
}

/** Completions (`E` lines of innocent runs) per window, from `start`. */
function rates(records: RecordLine[], start: number, end: number): number[] {
  const counts = new Array<number>(Math.max(1, Math.ceil((end - start) / WINDOW_MS))).fill(0);
  for (const record of records) {
    if (record.kind !== 'E' || record.at < start || record.at >= end) continue;
    const index = Math.floor((record.at - start) / WINDOW_MS);
    counts[index] = (counts[index] ?? 0) + 1;
  }
  return counts;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/**
 * Seconds from `faultAt` to the end of the first window, from `from` on, with at
 * least 80 % of the median rate before the fault. A service restart passes the
 * moment the service answered again as `from`: the bodies in flight while it
 * stops would otherwise count as full throughput.
 */
function recovery(records: RecordLine[], firstStart: number, faultAt: number, end: number, from = faultAt): number | undefined {
  const before = rates(records, firstStart, faultAt).slice(1, -1); // the first and last windows are partial
  const baseline = median(before);
  const after = rates(records, from, end).slice(0, -1);
  const index = after.findIndex((count) => count >= 0.8 * baseline);
  return index === -1 ? undefined : (from - faultAt + (index + 1) * WINDOW_MS) / 1000;
}

/** A coordinator process that steps runs now: one that has gained a shard (with shards, each owns its share). */
async function shardOwner(coordinators: Proc[]): Promise<Proc> {
  return until(() => coordinators.find((proc) => proc.alive && proc.logs().some((line) => line.msg === 'shard gained: stepping its runs')), 'a coordinator owning a shard', 30_000);
}

async function publishMalformedDispatch(cluster: Cluster): Promise<void> {
  const raw = new Connection({ url: cluster.broker, connectionName: 'taskwire faults' });
  raw.on('error', () => undefined);
  const publisher = raw.createPublisher({ confirm: true });
  try {
    await publisher.send(
      { exchange: '', routingKey: `${cluster.prefix}.work.default`, messageId: 'poison-not-json', contentType: 'application/json', durable: true },
      Buffer.from('{"not json', 'utf8'),
    );
  } finally {
    await publisher.close();
    await raw.close();
  }
}

/** How many messages wait in the cluster's `<prefix>.dead` queue. */
async function deadLetters(cluster: Cluster): Promise<number> {
  const raw = new Connection({ url: cluster.broker, connectionName: 'taskwire faults' });
  raw.on('error', () => undefined);
  try {
    return (await raw.queueDeclare({ queue: `${cluster.prefix}.dead`, passive: true })).messageCount;
  } finally {
    await raw.close();
  }
}

async function runScenario(scenario: Scenario, tasks: number): Promise<Figures> {
  const cluster = await Cluster.create();
  try {
    const coordinators = [await cluster.coordinator(), await cluster.coordinator()];
    const supervisor = await cluster.superviseWorkers(2, { concurrency: 8, coordinator: false });
    const tw = await cluster.client();
    const started = Date.now();
    const runs = await Promise.all(Array.from({ length: tasks / WIDTH }, (_, k) => tw.start(parallelFlow(`faults-${k}`, WIDTH, k * WIDTH))));
    await cluster.untilFinished(Math.ceil(tasks * 0.3), 300_000);
    const faultAt = Date.now();
    let poison: RunHandle | undefined;
    let outage: Outage | undefined;
    if (scenario === 'worker-kill') {
      const victim = cluster.processes.find((proc) => proc.role === 'worker' && proc.alive);
      if (victim !== undefined) await kill(victim, 'SIGKILL');
    } else if (scenario === 'coordinator-kill') {
      await kill(await shardOwner(coordinators), 'SIGKILL');
    } else if (scenario === 'broker-restart') {
      outage = await restartRabbit();
    } else if (scenario === 'postgres-restart') {
      outage = await restartPostgres();
    }
    if (scenario === 'poison-message' || scenario === 'poison') await publishMalformedDispatch(cluster);
    if (scenario === 'task-exit' || scenario === 'poison') poison = await tw.start(poisonFlow('faults-poison'));
    for (const run of runs) await run.wait({ timeoutMs: 600_000 });
    const poisonEnd = poison === undefined ? undefined : await poison.wait({ timeoutMs: 600_000 });
    const end = Date.now();
    supervisor.stop();
    const result = await cluster.check(
      runs.map((run) => run.id),
      { label: scenario },
    );
    const records = cluster.records().filter((record) => record.runId !== poison?.id);
    const figures: Figures = {
      scenario,
      tasks,
      lost: result.lost.length,
      executedTwice: result.reExecutions.length,
      recordedTwice: result.recordedTwice.length,
      recoverySeconds: scenario === 'none' ? undefined : recovery(records, started, faultAt, end, outage?.upAt),
      innocentSeconds: (Math.max(...records.map((record) => record.at)) - started) / 1000,
      seconds: (end - started) / 1000,
    };
    if (outage !== undefined) {
      const { downAt, upAt } = outage;
      const completedWhileDown = records.filter((record) => record.kind === 'E' && record.at >= downAt && record.at < upAt).length;
      const baseline = median(rates(records, started, faultAt).slice(1, -1));
      const during = rates(records, faultAt, upAt);
      figures.outage =
        `stop took ${((downAt - faultAt) / 1000).toFixed(1)} s, answering again ${((upAt - faultAt) / 1000).toFixed(1)} s after the fault began; ` +
        `${completedWhileDown} bodies ended between the stop and the answer; bodies ended per ${WINDOW_MS} ms: median ${baseline} before the fault, ` +
        `${Math.min(...during)}-${Math.max(...during)} until the answer; ${supervisor.restarts()} worker restarts`;
    }
    if (scenario === 'poison-message') {
      figures.poison = `${await deadLetters(cluster)} message(s) in ${cluster.prefix}.dead; ${supervisor.restarts()} worker restarts`;
    }
    if (poisonEnd !== undefined) {
      const node = poisonEnd.nodes['poison'];
      const deaths = cluster.records().filter((record) => record.runId === poison?.id);
      const lastDeath = Math.max(...deaths.map((record) => record.at));
      const after = recovery(records, started, lastDeath, end);
      const innocentsLeft = records.filter((record) => record.kind === 'E' && record.at > lastDeath).length;
      figures.poison =
        `run ${poisonEnd.status}, node ${node?.status} at attempt ${node?.attempt} with ${node?.error?.code ?? 'no error'}; ` +
        `${deaths.length} executions (each killed its worker) over ${((lastDeath - faultAt) / 1000).toFixed(1)} s, ${supervisor.restarts()} worker restarts; ` +
        `after the last one: ${innocentsLeft} innocent bodies ended, full throughput ${after === undefined ? 'n/a' : `after ${after.toFixed(1)} s`}; ` +
        `${await deadLetters(cluster)} message(s) in ${cluster.prefix}.dead`;
    }
    return figures;
  } finally {
    await cluster.cleanup();
  }
}

const HELP = `npm run faults -- [--scenarios <list>] [--tasks <n>]

Runs the peers' fault scenario on the real services (RabbitMQ at
TASKWIRE_TEST_AMQP_URL, PostgreSQL at TASKWIRE_TEST_PG_URL, or the local
defaults): <n> tasks of 20-50 ms on 2 worker processes and 2 coordinators;
one fault at 30 % of the bodies ended.

  --scenarios <list>  comma-separated, in order (default: all):
                        none              no fault (the baseline)
                        worker-kill       kill -9 of a worker process
                        coordinator-kill  kill -9 of the active coordinator
                        broker-restart    rabbitmqctl stop_app / start_app
                        postgres-restart  pg_ctlcluster <version> main restart
                        poison-message    a malformed dispatch on the work queue
                        task-exit         a task that calls process.exit(1)
                                          every time (it kills its worker)
                        poison            poison-message and task-exit at once
  --tasks <n>         a multiple of ${WIDTH} (default 2000)
  --help              this text

broker-restart and postgres-restart cut every other user of those services.

Examples:
  npm run faults -- --scenarios worker-kill
  npm run faults -- --scenarios broker-restart,postgres-restart --tasks 1000
`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { scenarios: { type: 'string' }, tasks: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help === true) {
    console.log(HELP);
    return;
  }
  const scenarios = (values.scenarios?.split(',') ?? [...SCENARIOS]) as Scenario[];
  for (const scenario of scenarios) if (!SCENARIOS.includes(scenario)) throw new Error(`unknown scenario "${scenario}": ${SCENARIOS.join(', ')}`);
  const tasks = Number(values.tasks ?? 2000);
  if (!Number.isInteger(tasks) || tasks < WIDTH || tasks % WIDTH !== 0) throw new Error(`--tasks must be a multiple of ${WIDTH}`);
  const all: Figures[] = [];
  try {
    for (const scenario of scenarios) {
      console.error(`[faults] ${scenario}: ${tasks} tasks of 20-50 ms, 2 workers (concurrency 8), 2 coordinators`);
      const figures = await runScenario(scenario, tasks);
      console.log(JSON.stringify(figures));
      all.push(figures);
    }
  } finally {
    await killLeftovers();
  }
  console.error('\nscenario          lost  executed twice  recorded twice  s to full throughput  innocents done (s)  total s');
  for (const f of all) {
    const recovered = f.recoverySeconds === undefined ? 'n/a' : f.recoverySeconds.toFixed(1);
    console.error(`${f.scenario.padEnd(16)}  ${String(f.lost).padStart(4)}  ${String(f.executedTwice).padStart(14)}  ${String(f.recordedTwice).padStart(14)}  ${recovered.padStart(20)}  ${f.innocentSeconds.toFixed(1).padStart(18)}  ${f.seconds.toFixed(1).padStart(7)}`);
    if (f.outage !== undefined) console.error(`  outage: ${f.outage}`);
    if (f.poison !== undefined) console.error(`  poison: ${f.poison}`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
