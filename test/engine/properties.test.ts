/**
 * Property tests of the engine against a reference evaluator: random DAGs,
 * random failure plans (of applies and rollbacks), random delivery order,
 * duplicated signals. Persistent listeners are in `listener-properties.test.ts`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Json } from '../../src/codec/json.js';
import type { Change, Command, DispatchCommand, EngineEvent } from '../../src/engine/events.js';
import type { NodeState } from '../../src/engine/state.js';
import type { FailurePolicy } from '../../src/model/definition.js';
import { flow } from '../../src/model/flow.js';
import { task } from '../../src/model/task.js';
import { Harness, oops, expectRefusedWithoutTrace, prng, snapshot } from './harness.js';

/** One node of a generated DAG: sources have lower indexes; `data` sources feed an input. */
interface NodePlan {
  sources: { from: number; data: boolean }[];
  bound: number;
  /** How many times the node fails (retryable) before it succeeds. */
  failures: number;
  /** Retries allowed; below `failures` the node fails for good. */
  limit: number;
  /** Its task's rollback (policy rollback only): none, one that succeeds, one that fails. */
  undo: 'none' | 'ok' | 'fails';
}

interface Plan {
  nodes: NodePlan[];
  onFailure: FailurePolicy;
}

type Duplicates = 'none' | 'immediate' | 'delayed';

/** Whether a node fails more often than it may retry. */
const failsForGood = (spec: NodePlan): boolean => spec.failures > spec.limit;

const id = (i: number): string => `n${i}`;
const indexOf = (node: string): number => Number(node.slice(1));

/** A node with index `i`; `exhaust` makes it fail more often than it may retry. */
const nodePlan = (i: number, exhaust: fc.Arbitrary<boolean>): fc.Arbitrary<NodePlan> =>
  fc
    .record({
      sources: i === 0 ? fc.constant<NodePlan['sources']>([]) : fc.uniqueArray(fc.record({ from: fc.nat({ max: i - 1 }), data: fc.boolean() }), { selector: (s) => s.from, maxLength: 4 }),
      bound: fc.integer({ min: -100, max: 100 }),
      failures: fc.nat({ max: 3 }),
      slack: fc.nat({ max: 2 }),
      exhaust,
      undo: fc.constantFrom<NodePlan['undo']>('none', 'ok', 'ok', 'fails'),
    })
    .map(({ slack, exhaust: fails, ...rest }) =>
      fails ? { ...rest, failures: Math.max(1, rest.failures), limit: Math.max(1, rest.failures) - 1 } : { ...rest, limit: rest.failures + slack },
    );

/** A DAG of 1-25 nodes; with `exhaustRate` > 0, at least one node fails for good. */
function planArb(onFailure: FailurePolicy, exhaustRate = 0): fc.Arbitrary<Plan> {
  const exhaust = exhaustRate > 0 ? fc.double({ min: 0, max: 1, noNaN: true }).map((x) => x < exhaustRate) : fc.constant(false);
  return fc.integer({ min: 1, max: 25 }).chain((n) =>
    fc
      .tuple(fc.tuple(...Array.from({ length: n }, (_, i) => nodePlan(i, exhaust))), fc.nat({ max: n - 1 }))
      .map(([nodes, forced]) => {
        if (exhaustRate > 0 && !nodes.some(failsForGood)) {
          const node = nodes[forced] as NodePlan;
          nodes[forced] = { ...node, failures: Math.max(1, node.failures), limit: Math.max(1, node.failures) - 1 };
        }
        return { nodes, onFailure };
      }),
  );
}

/** The flow of a plan: node i requires `b` (bound) and its data sources' values, and computes their sum + i. */
function buildFlow(plan: Plan) {
  const flo = flow('generated', { onFailure: plan.onFailure });
  const nodes = plan.nodes.map((spec, i) =>
    task(id(i), {
      requires: ['b', ...spec.sources.filter((s) => s.data).map((s) => id(s.from))],
      retry: { limit: spec.limit, initialDelayMs: 10, factor: 2, maxDelayMs: 50, jitter: 0.5 },
      apply: () => 0,
      ...(plan.onFailure === 'rollback' && spec.undo !== 'none' ? { rollback: () => undefined } : {}),
    }).s({ b: spec.bound }),
  );
  nodes.forEach((node, i) => {
    flo.add(node);
    for (const source of plan.nodes[i]?.sources ?? []) flo.link(nodes[source.from] as typeof node, node);
  });
  return flo;
}

/** The task of node i: the sum of its inputs plus its index. */
const compute = (node: string, inputs: Record<string, Json>): number => Object.values(inputs).reduce<number>((sum, v) => sum + (v as number), indexOf(node));

/** Reference evaluator: results in topological (index) order; undefined where a node is never reached. */
function reference(plan: Plan): (number | undefined)[] {
  const results: (number | undefined)[] = [];
  plan.nodes.forEach((spec, i) => {
    const blocked = spec.sources.some((s) => results[s.from] === undefined) || failsForGood(spec);
    results[i] = blocked ? undefined : spec.sources.reduce((sum, s) => sum + (s.data ? (results[s.from] as number) : 0), spec.bound + i);
  });
  return results;
}

/** Nodes downstream of a node that fails for good. */
function blockedBy(plan: Plan): boolean[] {
  const blocked: boolean[] = [];
  plan.nodes.forEach((spec, i) => {
    blocked[i] = spec.sources.some((s) => blocked[s.from] === true || failsForGood(plan.nodes[s.from] as NodePlan));
  });
  return blocked;
}

/** What a driven run observed besides its final state. */
interface Trace {
  /** Saga rollbacks (of completed nodes), in dispatch order. */
  sagaRollbacks: string[];
  /** Apply dispatches after the saga started. */
  appliesInSaga: number;
}

/** How a plan is driven. */
interface DriveOptions {
  /** Whether each signal is delivered twice (at once or later). */
  duplicates?: Duplicates;
  /** Whether invalid changes are tried at random points (each must be refused and leave no trace). */
  refused?: boolean;
  /** Whether, once the run settles, each failed node is retried or skipped by hand (then the run is driven again). */
  repair?: boolean;
}

/**
 * Runs a plan to the end: pending dispatches and retries are carried out in a
 * random order; see {@link DriveOptions} for the rest.
 */
function drive(plan: Plan, seed: number, { duplicates = 'none', refused = false, repair = false }: DriveOptions = {}): { h: Harness; trace: Trace } {
  const h = new Harness(buildFlow(plan));
  const random = prng(seed);
  /** Commands to carry out, and signals to deliver a second time. */
  const pending: (Command | { replay: EngineEvent })[] = [];
  const trace: Trace = { sagaRollbacks: [], appliesInSaga: 0 };
  const observe = (commands: Command[]): void => {
    for (const command of commands) {
      if (command.type === 'dispatch') checkDispatch(h, command, trace);
      if (command.type === 'dispatch' || command.type === 'schedule') pending.push(command);
    }
  };
  const settle = (): void => {
    for (let guard = 0; pending.length > 0; guard++) {
      if (guard > 5000) throw new Error('the run does not settle');
      if (refused && random() < 0.05) refuse(h, random);
      const [item] = pending.splice(Math.floor(random() * pending.length), 1) as [(typeof pending)[number]];
      h.now += 1;
      if ('replay' in item) {
        expect(h.send(item.replay).history).toEqual([]);
        continue;
      }
      const event = respond(plan, h, item);
      observe(h.send(event).commands);
      if (duplicates === 'immediate') {
        const again = h.send(event);
        expect(again.history).toEqual([]);
        expect(again.commands).toEqual([]);
      }
      if (duplicates === 'delayed') pending.push({ replay: event });
    }
  };
  observe(h.start().commands);
  settle();
  const healthy = reference({ ...plan, nodes: plan.nodes.map((spec) => ({ ...spec, failures: 0 })) });
  // Repairing a node lets its listeners run, which may fail in turn: repair until nothing fails.
  for (let failed = repair ? failedNodes(h) : []; failed.length > 0; failed = failedNodes(h)) {
    for (const node of failed.sort(() => random() - 0.5)) {
      const change: Change = random() < 0.5 ? { op: 'retry', node } : { op: 'skip', node, result: healthy[indexOf(node)] as number };
      observe(h.change(change).commands);
    }
    settle();
  }
  return { h, trace };
}

/** Ids of the run's failed nodes. */
const failedNodes = (h: Harness): string[] => [...h.live.state.nodes.values()].filter((n) => n.status === 'failed').map((n) => n.def.id);

/**
 * Tries a change that the run's state makes invalid (a self link, an unknown
 * node, a retry of a node that has not failed, a skip or replace of a running
 * or finished node, a cancel or retry during the saga): it must be refused
 * with a TaskwireError and leave no trace.
 */
function refuse(h: Harness, random: () => number): void {
  const nodes = [...h.live.state.nodes.values()];
  const node = nodes[Math.floor(random() * nodes.length)] as NodeState;
  const id = node.def.id;
  const changes: Change[] = [
    { op: 'link', from: id, to: id },
    { op: 'unlink', from: id, to: id },
    { op: 'remove', node: 'ghost' },
  ];
  if (node.status !== 'failed' && node.status !== 'cancelled') changes.push({ op: 'retry', node: id });
  if (['running', 'succeeded', 'skipped'].includes(node.status)) changes.push({ op: 'skip', node: id, result: 0 }, { op: 'replace', node: id, with: {} });
  if (h.live.state.saga) changes.push({ op: 'cancel' }, { op: 'retry', node: id });
  const change = changes[Math.floor(random() * changes.length)] as Change;
  expectRefusedWithoutTrace(h, change);
}

/** The signal a worker (or the timer) sends back for a command. */
function respond(plan: Plan, h: Harness, command: Command): EngineEvent {
  if (command.type === 'schedule') {
    h.now = Math.max(h.now, command.dueAt);
    return { type: 'retry.due', node: command.node, attempt: command.attempt };
  }
  const dispatch = command as DispatchCommand;
  const spec = plan.nodes[indexOf(dispatch.node)] as NodePlan;
  if (dispatch.kind === 'rollback') {
    const ref = { node: dispatch.node, attempt: dispatch.attempt };
    return spec.undo === 'fails' ? { type: 'rollback.failed', ...ref, error: undoFailure } : { type: 'rollback.succeeded', ...ref };
  }
  if (dispatch.attempt <= spec.failures) return { type: 'task.failed', node: dispatch.node, attempt: dispatch.attempt, error: oops };
  return { type: 'task.succeeded', node: dispatch.node, attempt: dispatch.attempt, result: compute(dispatch.node, dispatch.inputs) };
}

/** Invariants checked as each dispatch appears. */
function checkDispatch(h: Harness, command: DispatchCommand, trace: Trace): void {
  const state = h.live.state;
  if (command.kind === 'apply') {
    for (const link of h.node(command.node).sources) expect(['succeeded', 'skipped']).toContain(h.node(link.from).status);
    if (state.saga) trace.appliesInSaga++;
    return;
  }
  if (h.node(command.node).status !== 'succeeded') return; // a failed node's own rollback
  trace.sagaRollbacks.push(command.node);
  const busy = [...state.nodes.values()].filter((n) => n.status === 'running' || (n.undo === 'running' && n.def.id !== command.node));
  expect(busy.map((n) => n.def.id)).toEqual([]);
}

/** What a rollback that fails throws. */
const undoFailure = { name: 'Error', message: 'cannot undo', retryable: true };

/** Attempt numbers of a node's apply dispatches. */
const attempts = (h: Harness, node: string): number[] => h.dispatches().filter((d) => d.node === node).map((d) => d.attempt);

const consecutive = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

const duplicatesArb = fc.constantFrom<Duplicates>('none', 'immediate', 'delayed');
const seedArb = fc.integer();

describe('engine properties', () => {
  it('every node succeeds once, after all its sources, with the reference result', () => {
    fc.assert(
      fc.property(planArb('halt'), seedArb, duplicatesArb, (plan, seed, duplicates) => {
        const { h } = drive(plan, seed, { duplicates, refused: true });
        const expected = reference(plan);
        plan.nodes.forEach((spec, i) => {
          expect(attempts(h, id(i))).toEqual(consecutive(spec.failures + 1));
          expect(h.node(id(i))).toMatchObject({ status: 'succeeded', result: expected[i] });
        });
        expect(h.entries('node.succeeded')).toHaveLength(plan.nodes.length);
        expect(h.status).toBe('succeeded');
        expect(h.commands.filter((c) => c.type === 'finished')).toEqual([{ type: 'finished', runId: 'run-1', status: 'succeeded' }]);
      }),
    );
  });

  it('halt: nodes not downstream of a failure succeed, downstream ones never run, the run fails', () => {
    fc.assert(
      fc.property(planArb('halt', 0.15), seedArb, duplicatesArb, (plan, seed, duplicates) => {
        const { h } = drive(plan, seed, { duplicates, refused: true });
        const expected = reference(plan);
        const blocked = blockedBy(plan);
        plan.nodes.forEach((spec, i) => {
          const node = h.node(id(i));
          if (blocked[i]) {
            expect(attempts(h, id(i))).toEqual([]);
            expect(node.status).toBe('waiting');
          } else if (failsForGood(spec)) {
            expect(attempts(h, id(i))).toEqual(consecutive(spec.limit + 1));
            expect(node.status).toBe('failed');
          } else {
            expect(node).toMatchObject({ status: 'succeeded', result: expected[i] });
          }
        });
        expect(h.status).toBe('failed');
      }),
    );
  });

  it('rollback: completed nodes with a rollback are rolled back once each, in reverse completion order, nothing new starts; rollback_failed iff one failed', () => {
    fc.assert(
      fc.property(planArb('rollback', 0.15), seedArb, (plan, seed) => {
        const { h, trace } = drive(plan, seed, { refused: true });
        const undo = (node: string): NodePlan['undo'] => (plan.nodes[indexOf(node)] as NodePlan).undo;
        const completed = h.entries('node.succeeded').map((e) => e.node as string);
        expect(trace.sagaRollbacks).toEqual(completed.filter((node) => undo(node) !== 'none').reverse());
        expect(trace.appliesInSaga).toBe(0);
        for (const node of completed) expect(h.node(node).undo).toBe({ none: undefined, ok: 'done', fails: 'failed' }[undo(node)]);
        const failedForGood = [...h.live.state.nodes.values()].filter((n) => n.status === 'failed');
        expect(failedForGood.length).toBeGreaterThan(0);
        for (const node of failedForGood) expect(node.undo).toBe({ none: undefined, ok: 'done', fails: 'failed' }[undo(node.def.id)]);
        const undone = [...completed, ...failedForGood.map((n) => n.def.id)];
        expect(h.status).toBe(undone.some((node) => undo(node) === 'fails') ? 'rollback_failed' : 'rolled_back');
        expect(h.commands.filter((c) => c.type === 'finished')).toEqual([{ type: 'finished', runId: 'run-1', status: h.status }]);
      }),
    );
  });

  it('halt, then each failed node retried or skipped by hand: the run succeeds with the reference results', () => {
    fc.assert(
      fc.property(planArb('halt', 0.15), seedArb, (plan, seed) => {
        const { h } = drive(plan, seed, { refused: true, repair: true });
        const healthy = reference({ ...plan, nodes: plan.nodes.map((spec) => ({ ...spec, failures: 0 })) });
        plan.nodes.forEach((spec, i) => {
          const node = h.node(id(i));
          expect(node.result).toBe(healthy[i]);
          expect(failsForGood(spec) ? ['succeeded', 'skipped'] : ['succeeded']).toContain(node.status);
        });
        expect(h.status).toBe('succeeded');
      }),
    );
  });

  it('delivering every signal twice changes nothing', () => {
    fc.assert(
      fc.property(fc.oneof(planArb('halt'), planArb('halt', 0.15), planArb('rollback', 0.15)), seedArb, (plan, seed) => {
        const once = drive(plan, seed).h;
        const twice = drive(plan, seed, { duplicates: 'immediate' }).h;
        expect(snapshot(twice.live)).toEqual(snapshot(once.live));
        expect(twice.history).toEqual(once.history);
        expect(twice.commands).toEqual(once.commands);
      }),
    );
  });
});
