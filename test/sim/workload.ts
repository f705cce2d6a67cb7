/**
 * The workload of a seed: random runs (DAGs with fan-in and fan-out, retries,
 * failures for good, rollbacks under both failure policies, an event with a
 * persistent listener), the live changes and notifications a user makes, and
 * the tasks that execute them. Task bodies write what they did to a ledger,
 * from which executions are counted.
 */
import type { FailurePolicy } from '../../src/model/definition.js';
import { flow, type Flow } from '../../src/model/flow.js';
import { event } from '../../src/model/node.js';
import { task, type AnyTask } from '../../src/model/task.js';
import type { Kind } from './options.js';
import type { Random } from './random.js';
import type { Scheduler, SimProcess } from './scheduler.js';

/** One task node of a run's plan. */
export interface NodePlan {
  /** Node id (`n0`, `n1`, ...; `x` the node removed and added again; `a` the node added live). */
  id: string;
  /** Added to the result, so that every node's result differs. */
  index: number;
  /** Sources; `data` ones feed an input (their result is added to this node's). */
  sources: { from: string; data: boolean }[];
  /** A bound input, added to the result. */
  bound: number;
  /** Attempts 1..failures fail (retryable). */
  failures: number;
  /** Retries allowed by the node's policy. */
  limit: number;
  /** Whether the task has a rollback. */
  undo: boolean;
  /** A poison: its body crashes the worker process executing it, at every delivery (`failures` is then beyond any retry). */
  poison?: true;
  /** A long task: its apply runs longer than a lease (see `long-task`). */
  long?: true;
  /** How long its work takes (simulated ms); by default 1-150 ms, drawn at each execution. */
  durationMs?: number;
}

/** A live change the user makes at a time; its target is chosen from the run's state then. */
export type ActionOp = 'retry-failed' | 'skip-failed' | 'add' | 'remove-readd' | 'remove-listener' | 'cancel';

/** A planned action on a run. */
export interface Action {
  /** Simulated time after the start of the world (ms). */
  at: number;
  /** What to do. */
  op: ActionOp;
}

/** What a run is made of and what happens to it. */
export interface RunPlan {
  /** Run id. */
  id: string;
  /** Failure policy. */
  policy: FailurePolicy;
  /** Task nodes in the flow, in topological order (`x` among them when planned). */
  nodes: NodePlan[];
  /** The node added live (`a`), if planned. */
  spare?: NodePlan;
  /**
   * Event the flow listens to (node `ev`), with a persistent listener `p`, and `q`, a persistent listener of `p`, when `downstream`.
   * `gate`: `p` also listens to this (slow) node, so notifications wait in its backlog until the node succeeds.
   */
  listener?: { event: string; downstream: boolean; gate?: string };
  /** When the run is started (ms after the start of the world). */
  startAt: number;
  /** Live changes. */
  actions: Action[];
  /** Stop the run once the faults end (then it must end, not stay `listening`). */
  stopAtEnd: boolean;
}

/** A planned notification. */
export interface NotifyPlan {
  /** When (ms after the start of the world). */
  at: number;
  /** Event name. */
  event: string;
  /** Payload value: unique in the seed, so each activation names its notification. */
  v: number;
}

/** The whole workload of a seed. */
export interface Workload {
  runs: RunPlan[];
  notifications: NotifyPlan[];
}

/** One execution of a task body, as the body itself recorded it. */
export interface Execution {
  runId: string;
  node: string;
  attempt: number;
  activation?: number;
  kind: 'apply' | 'rollback';
  process: string;
  /** When the body started (simulated epoch ms). */
  at: number;
  /** When its work ended with its process alive (it then returned or threw); unset if its process died first. */
  endedAt?: number;
}

const EVENTS = ['ev-a', 'ev-b'];
/** Share of runs with a long task. */
const LONG_TASK_RUNS = 0.3;
/** How long a long task's work takes (ms): longer than the workers' lease and the consumer timeout. */
export const LONG_TASK_MS = { min: 2500, max: 5000 } as const;
/** The value a skip gives. */
export const SKIP_VALUE = 7;
/** A poison's planned failures: more than any retry gives (for the reference model, it fails for good). */
const POISON_FAILURES = 1000;

/**
 * Draws a seed's workload. `faultWindowMs`: changes and notifications happen before it ends.
 * `long`: the stream that picks long tasks (its own, so that the other draws do not move).
 */
export function generateWorkload(random: Random, skip: ReadonlySet<Kind>, faultWindowMs: number, long: Random): Workload {
  const runs: RunPlan[] = [];
  const count = random.int(2, 5);
  for (let r = 0; r < count; r++) {
    const run = generateRun(random, skip, `r${r}`, faultWindowMs);
    if (!skip.has('long-task') && long.chance(LONG_TASK_RUNS)) long.pick(run.nodes).long = true;
    runs.push(run);
  }
  const notifications: NotifyPlan[] = [];
  const n = random.int(0, 8);
  for (let i = 0; i < n; i++) notifications.push({ at: random.int(0, faultWindowMs), event: random.pick(EVENTS), v: i + 1 });
  if (!skip.has('notification-burst') && random.chance(0.1)) burst(random, runs, notifications, faultWindowMs);
  // Drawn last, so that the rest of the workload is the same with and without it.
  if (!skip.has('poison') && random.chance(0.2)) {
    const run = random.pick(runs);
    run.nodes.push({ id: 'z', index: 70, sources: [], bound: 0, failures: POISON_FAILURES, limit: random.int(0, 1), undo: false, poison: true });
  }
  return { runs, notifications };
}

/** The event of {@link burst}. */
const BURST_EVENT = 'ev-burst';

/**
 * A run whose persistent listener also waits for a slow node, and 30-60
 * notifications of its event: most wait in the listener's backlog (defect 11:
 * each one must append a row, not rewrite the whole backlog).
 */
function burst(random: Random, runs: RunPlan[], notifications: NotifyPlan[], window: number): void {
  const startAt = random.int(0, Math.floor(window / 4));
  const gate: NodePlan = { id: 'n0', index: 0, sources: [], bound: random.int(-50, 50), failures: 0, limit: 0, undo: false, durationMs: random.int(3000, 7000) };
  runs.push({ id: 'rb', policy: 'halt', nodes: [gate], startAt, actions: [], stopAtEnd: false, listener: { event: BURST_EVENT, downstream: false, gate: gate.id } });
  const count = random.int(30, 60);
  const first = notifications.length + 1;
  for (let i = 0; i < count; i++) notifications.push({ at: random.int(startAt + 1, window), event: BURST_EVENT, v: first + i });
}

function generateRun(random: Random, skip: ReadonlySet<Kind>, id: string, window: number): RunPlan {
  const policy: FailurePolicy = random.chance(0.4) ? 'rollback' : 'halt';
  // Without rollback functions, a saga has nothing to undo (defect 1 when skipped: every node has one).
  const noUndo = policy === 'rollback' && !skip.has('rollback-without-undo') && random.chance(0.3);
  const undo = (): boolean => (policy === 'rollback' ? !noUndo : random.chance(0.4));
  const size = random.int(1, 6);
  const nodes: NodePlan[] = [];
  for (let i = 0; i < size; i++) {
    const sources: NodePlan['sources'] = [];
    for (let s = 0, fanIn = i === 0 ? 0 : random.int(0, Math.min(3, i)); s < fanIn; s++) {
      const from = `n${random.int(0, i - 1)}`;
      if (!sources.some((x) => x.from === from)) sources.push({ from, data: random.chance(0.7) });
    }
    const limit = random.int(0, 2);
    const node: NodePlan = { id: `n${i}`, index: i, sources, bound: random.int(-50, 50), failures: random.int(0, limit), limit, undo: undo() };
    if (random.chance(0.15)) {
      // Fails for good; a node with a rollback fails again after one retry only when defect 2 is not skipped.
      node.failures = node.limit + 1 + (skip.has('retry-fails-again') && node.undo ? 0 : random.int(0, 1));
    }
    nodes.push(node);
  }
  const startAt = random.int(0, Math.floor(window / 3));
  const actions: Action[] = [];
  const at = (): number => random.int(startAt + 1, window);
  const plan: RunPlan = { id, policy, nodes, startAt, actions, stopAtEnd: false };
  if (random.chance(0.4)) {
    plan.listener = { event: random.pick(EVENTS), downstream: !skip.has('listener-order') && random.chance(0.5) };
    plan.stopAtEnd = random.chance(0.5);
    // (p cannot be removed while q needs its value.)
    if (!skip.has('remove-listener') && !plan.listener.downstream && random.chance(0.3)) {
      actions.push({ at: at(), op: 'remove-listener' });
      plan.stopAtEnd = true;
    }
  }
  if (policy === 'halt') {
    if (random.chance(0.5)) actions.push({ at: at(), op: 'retry-failed' });
    if (random.chance(0.3)) actions.push({ at: at(), op: 'retry-failed' });
    if (random.chance(0.2)) actions.push({ at: at(), op: 'skip-failed' });
    if (random.chance(0.3)) {
      plan.spare = { id: 'a', index: 50, sources: [{ from: random.pick(nodes).id, data: true }], bound: random.int(-50, 50), failures: random.int(0, 1), limit: 1, undo: false };
      actions.push({ at: at(), op: 'add' });
    }
    if (!skip.has('remove-readd') && random.chance(0.3)) {
      nodes.push({ id: 'x', index: 60, sources: [{ from: 'n0', data: true }], bound: 1, failures: 0, limit: 0, undo: false });
      actions.push({ at: at(), op: 'remove-readd' });
    }
  }
  if (random.chance(0.05)) actions.push({ at: at(), op: 'cancel' });
  actions.sort((a, b) => a.at - b.at);
  return plan;
}

/** The result a node computes from its inputs: bound + index + the data inputs. */
export function computeResult(plan: NodePlan, inputs: Record<string, unknown>): number {
  let sum = plan.index;
  for (const value of Object.values(inputs)) sum += value as number;
  return sum;
}

/** The persistent listener's result for a notification. */
export const listenerResult = (v: number): number => 2 * v + 1;

/** The downstream persistent listener's result for a value of p. */
export const downstreamResult = (p: number): number => p + 1000;

/** What task bodies need from the world. */
export interface TaskWorld {
  scheduler: Scheduler;
  random: Random;
  /** Durations of long tasks (a stream of their own). */
  slow: Random;
  /** Called when a long task's body starts (the world may take the store down meanwhile). */
  longStarted(): void;
  /** Called when an apply fails as planned (its retry is due soon: the world may take the store down). */
  plannedFailure(): void;
  ledger: Execution[];
  /** Crashes a process (a poison task's body kills its worker), which restarts later. */
  crash(process: SimProcess): void;
}

/**
 * Work that takes simulated time; it fails when the process executing it has
 * crashed meanwhile (the worker code then unwinds and its timers are released).
 * With its ledger `entry`, that entry gets `endedAt` when it ends with its process alive.
 */
export function work(world: TaskWorld, process: SimProcess, entry?: Execution, plan?: Pick<NodePlan, 'long' | 'durationMs'>): Promise<void> {
  const long = plan?.long === true;
  const ms = long ? world.slow.int(LONG_TASK_MS.min, LONG_TASK_MS.max) : (plan?.durationMs ?? world.random.int(1, 150));
  if (long) world.longStarted();
  return new Promise((resolve, reject) =>
    world.scheduler.after(ms, () => {
      if (!process.alive) return reject(new Error('process crashed'));
      if (entry !== undefined) entry.endedAt = world.scheduler.now;
      resolve();
    }),
  );
}

/** Task name of a plan's node (tasks are per run: their `requires` differ). */
export const taskName = (run: RunPlan, node: string): string => `${run.id}.${node}`;

/** The tasks of a workload, with bodies bound to one process (for its ledger entries and its crash). */
export function buildTasks(workload: Workload, world: TaskWorld, process: SimProcess): Map<string, AnyTask> {
  const tasks = new Map<string, AnyTask>();
  const record = (entry: Omit<Execution, 'process' | 'at'>): Execution => {
    const execution = { ...entry, process: process.name, at: world.scheduler.now };
    world.ledger.push(execution);
    return execution;
  };
  for (const run of workload.runs) {
    for (const plan of [...run.nodes, ...(run.spare === undefined ? [] : [run.spare])]) {
      const name = taskName(run, plan.id);
      tasks.set(
        name,
        task(name, {
          requires: ['b', ...plan.sources.filter((s) => s.data).map((s) => s.from)],
          provides: plan.id,
          retry: { limit: plan.limit, initialDelayMs: 20, factor: 2, maxDelayMs: 200, jitter: 0.5 },
          apply: async (inputs: Record<string, unknown>, ctx) => {
            const entry = record({ runId: ctx.runId, node: ctx.nodeId, attempt: ctx.attempt, kind: 'apply' });
            if (plan.poison === true) {
              world.crash(process);
              throw new Error('process crashed');
            }
            await work(world, process, entry, plan);
            if (ctx.attempt <= plan.failures) {
              world.plannedFailure();
              throw new Error(`planned failure of ${plan.id}, attempt ${ctx.attempt}`);
            }
            return computeResult(plan, inputs);
          },
          ...(plan.undo
            ? {
                rollback: async (_inputs: Record<string, unknown>, ctx: { runId: string; nodeId: string; attempt: number }) => {
                  await work(world, process, record({ runId: ctx.runId, node: ctx.nodeId, attempt: ctx.attempt, kind: 'rollback' }));
                },
              }
            : {}),
        }),
      );
    }
    if (run.listener !== undefined) {
      const name = taskName(run, 'p');
      tasks.set(
        name,
        task(name, {
          requires: ['v'],
          provides: 'p',
          retry: { limit: 1, initialDelayMs: 20, factor: 2, maxDelayMs: 100, jitter: 0 },
          apply: async ({ v }: { v: number }, ctx) => {
            const entry = { runId: ctx.runId, node: ctx.nodeId, attempt: ctx.attempt, kind: 'apply' as const };
            await work(world, process, record(ctx.activation === undefined ? entry : { ...entry, activation: ctx.activation }));
            if (v % 3 === 0 && ctx.attempt === 1) throw new Error(`planned failure of p for v=${v}`);
            return listenerResult(v);
          },
        }),
      );
      if (run.listener.downstream) {
        const name = taskName(run, 'q');
        tasks.set(
          name,
          task(name, {
            requires: ['p'],
            provides: 'q',
            apply: async ({ p }: { p: number }, ctx) => {
              const entry = { runId: ctx.runId, node: ctx.nodeId, attempt: ctx.attempt, kind: 'apply' as const };
              await work(world, process, record(ctx.activation === undefined ? entry : { ...entry, activation: ctx.activation }));
              return downstreamResult(p);
            },
          }),
        );
      }
    }
  }
  return tasks;
}

/** The flow of a run plan, built from the client's tasks. */
export function buildFlow(run: RunPlan, tasks: ReadonlyMap<string, AnyTask>): Flow {
  const flo = flow(`sim-${run.id}`, { onFailure: run.policy });
  const nodes = new Map(run.nodes.map((plan) => [plan.id, (tasks.get(taskName(run, plan.id)) as AnyTask).s({ b: plan.bound }, { id: plan.id })]));
  for (const plan of run.nodes) {
    const node = nodes.get(plan.id) as ReturnType<AnyTask['s']>;
    flo.add(node);
    for (const source of plan.sources) flo.link(nodes.get(source.from) as typeof node, node);
  }
  if (run.listener !== undefined) {
    const ev = event(run.listener.event, { id: 'ev', provides: ['v'] });
    const p = (tasks.get(taskName(run, 'p')) as AnyTask).s({}, { id: 'p', persistent: true });
    flo.link(ev, p);
    if (run.listener.gate !== undefined) flo.link(nodes.get(run.listener.gate) as ReturnType<AnyTask['s']>, p);
    if (run.listener.downstream) flo.link(p, (tasks.get(taskName(run, 'q')) as AnyTask).s({}, { id: 'q', persistent: true }));
  }
  return flo;
}
