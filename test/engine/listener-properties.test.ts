/**
 * Property tests of persistent listeners against a reference evaluator: an
 * event notified several times feeds a random tree of persistent listeners
 * (each listening to the event or to an earlier listener); activations fail
 * and retry at random, signals arrive in a random order, invalid changes are
 * tried at random points (each must be refused and leave no trace), and the
 * run either ends with `stop()` (after failed activations are retried by hand)
 * or fails a one-shot node and rolls back (a saga that compensates every
 * completed activation).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Change, Command, DispatchCommand, EngineEvent } from '../../src/engine/events.js';
import { activationKey, type ActivationState } from '../../src/engine/state.js';
import { flow } from '../../src/model/flow.js';
import { event } from '../../src/model/node.js';
import { task } from '../../src/model/task.js';
import { fatal, Harness, oops, expectRefusedWithoutTrace, prng } from './harness.js';

/** Listener i listens to the event (`source` -1) or to listener `source` < i. */
interface ListenerSpec {
  source: number;
  /** Its task's rollback: none, one that succeeds, one that fails. */
  undo: 'none' | 'ok' | 'fails';
}

interface Plan {
  listeners: ListenerSpec[];
  /** How many times the event is notified. */
  notifications: number;
  /** Retry limit of every listener. */
  limit: number;
  /** Picks how often each activation fails. */
  salt: number;
  /** Whether a one-shot node fails (at a random time) and the saga runs. */
  saga: boolean;
}

const EVENT = 'tick';
const id = (i: number): string => `l${i}`;
const indexOf = (node: string): number => Number(node.slice(1));
/** Input name of listener i: the event's field, or its source listener's id. */
const inputOf = (spec: ListenerSpec): string => (spec.source < 0 ? 'v' : id(spec.source));

const planArb: fc.Arbitrary<Plan> = fc.integer({ min: 1, max: 6 }).chain((n) =>
  fc.record({
    listeners: fc.tuple(
      ...Array.from({ length: n }, (_, i) =>
        fc.record({ source: fc.integer({ min: -1, max: i - 1 }), undo: fc.constantFrom<ListenerSpec['undo']>('none', 'ok', 'ok', 'fails') }),
      ),
    ),
    notifications: fc.integer({ min: 1, max: 6 }),
    limit: fc.nat({ max: 2 }),
    salt: fc.nat(),
    saga: fc.boolean(),
  }),
);

/** How many times the activation of listener i with input `value` fails (retryably) before it succeeds. */
function failures(plan: Plan, i: number, value: number): number {
  return prng(plan.salt ^ (i * 7919) ^ value)() < 0.6 ? 0 : 1 + Math.floor(prng(plan.salt + value + i)() * 3);
}

/** What listener i computes from its input. */
const compute = (i: number, value: number): number => value + i + 1;

/** Reference: per listener, the input of each activation in notification order, and the result of each (undefined: failed for good). */
function reference(plan: Plan): { inputs: number[]; results: (number | undefined)[] }[] {
  const outputs: (number | undefined)[][] = [];
  return plan.listeners.map((spec, i) => {
    const upstream = spec.source < 0 ? Array.from({ length: plan.notifications }, (_, k) => (k + 1) * 1000) : (outputs[spec.source] as (number | undefined)[]);
    const inputs = upstream.filter((v): v is number => v !== undefined);
    const results = inputs.map((v) => (failures(plan, i, v) > plan.limit ? undefined : compute(i, v)));
    outputs[i] = results;
    return { inputs, results };
  });
}

function buildFlow(plan: Plan) {
  const flo = flow('listeners', { onFailure: 'rollback' });
  const tick = event(EVENT, { provides: ['v'] });
  const nodes = plan.listeners.map((spec, i) =>
    task(id(i), {
      requires: [inputOf(spec)],
      retry: { limit: plan.limit, initialDelayMs: 10, factor: 2, maxDelayMs: 50, jitter: 0.5 },
      apply: () => 0,
      ...(spec.undo === 'none' ? {} : { rollback: () => undefined }),
    }).s({}, { persistent: true }),
  );
  nodes.forEach((node, i) => {
    const source = (plan.listeners[i] as ListenerSpec).source;
    flo.link(source < 0 ? tick : (nodes[source] as typeof node), node);
  });
  if (plan.saga) flo.add(task('doomed', { apply: () => 0 }).s());
  return flo;
}

const undoFailure = { name: 'Error', message: 'cannot undo', retryable: true };

/** The signal a worker (or the timer) sends back for a command. */
function respond(plan: Plan, h: Harness, command: Command): EngineEvent {
  if (command.type === 'schedule') {
    h.now = Math.max(h.now, command.dueAt);
    return { type: 'retry.due', node: command.node, attempt: command.attempt, activation: command.activation as number };
  }
  const dispatch = command as DispatchCommand;
  const ref = { node: dispatch.node, attempt: dispatch.attempt, ...(dispatch.activation === undefined ? {} : { activation: dispatch.activation }) };
  if (dispatch.node === 'doomed') return { type: 'task.failed', ...ref, error: fatal };
  const i = indexOf(dispatch.node);
  const spec = plan.listeners[i] as ListenerSpec;
  if (dispatch.kind === 'rollback') return spec.undo === 'fails' ? { type: 'rollback.failed', ...ref, error: undoFailure } : { type: 'rollback.succeeded', ...ref };
  const value = dispatch.inputs[inputOf(spec)] as number;
  if (dispatch.attempt <= failures(plan, i, value)) return { type: 'task.failed', ...ref, error: oops };
  return { type: 'task.succeeded', ...ref, result: compute(i, value) };
}

interface Trace {
  /** Compensations of completed activations, in dispatch order, with the activation as it was. */
  compensations: ActivationState[];
  /** Apply dispatches after the saga started. */
  appliesInSaga: number;
  /** Result of each succeeded activation, by node and activation seq. */
  results: Map<string, Map<number, number>>;
}

/**
 * Runs a plan to the end: notifications (in order) and pending commands are
 * carried out in a random order, with refused changes tried at random points;
 * with `repair`, failed activations are then retried by hand until none is left.
 */
function drive(plan: Plan, seed: number, repair = false): { h: Harness; trace: Trace } {
  const h = new Harness(buildFlow(plan));
  const random = prng(seed);
  const pending: (Command | 'notify')[] = Array.from({ length: plan.notifications }, () => 'notify' as const);
  const trace: Trace = { compensations: [], appliesInSaga: 0, results: new Map() };
  let notified = 0;
  const observe = (commands: Command[]): void => {
    for (const command of commands) {
      if (command.type === 'dispatch' && command.kind === 'apply' && h.live.state.saga) trace.appliesInSaga++;
      if (command.type === 'dispatch' && command.kind === 'rollback' && command.activation !== undefined) {
        const activation = h.live.state.activations.get(activationKey(command.node, command.activation)) as ActivationState;
        if (activation.status === 'succeeded') trace.compensations.push(structuredClone(activation));
      }
      if (command.type === 'dispatch' || command.type === 'schedule') pending.push(command);
    }
  };
  const settle = (): void => {
    for (let guard = 0; pending.length > 0; guard++) {
      if (guard > 5000) throw new Error('the run does not settle');
      if (random() < 0.05) refuse(plan, h, random);
      const [item] = pending.splice(Math.floor(random() * pending.length), 1) as [(typeof pending)[number]];
      h.now += 1;
      if (item === 'notify') {
        observe(h.notify(EVENT, { v: ++notified * 1000 }).commands);
        continue;
      }
      const signal = respond(plan, h, item);
      observe(h.send(signal).commands);
      if (signal.type === 'task.succeeded' && signal.activation !== undefined) {
        const byNode = trace.results.get(signal.node) ?? new Map<number, number>();
        trace.results.set(signal.node, byNode.set(signal.activation, signal.result as number));
      }
    }
  };
  observe(h.start().commands);
  settle();
  const failedActivations = (): ActivationState[] => [...h.live.state.activations.values()].filter((a) => a.status === 'failed');
  for (let failed = repair ? failedActivations() : []; failed.length > 0; failed = failedActivations()) {
    for (const a of failed) observe(h.change({ op: 'retry', node: a.node, activation: a.seq }).commands);
    settle();
  }
  return { h, trace };
}

/**
 * Tries a change the run's state makes invalid: a retry of an activation that
 * has not failed, a removal of an unknown node, during the saga a cancel or the
 * removal of a listener whose completed activations it owes compensations.
 * It must be refused with a TaskwireError and leave no trace.
 */
function refuse(plan: Plan, h: Harness, random: () => number): void {
  const state = h.live.state;
  const changes: Change[] = [{ op: 'remove', node: 'ghost' }];
  for (const a of state.activations.values()) if (a.status !== 'failed') changes.push({ op: 'retry', node: a.node, activation: a.seq });
  if (state.saga) changes.push({ op: 'cancel' });
  plan.listeners.forEach((spec, i) => {
    const owed = [...state.activations.values()].some((a) => a.node === id(i) && a.compensate === true && a.undo === undefined);
    if (spec.undo !== 'none' && owed) changes.push({ op: 'remove', node: id(i) });
  });
  const change = changes[Math.floor(random() * changes.length)] as Change;
  expectRefusedWithoutTrace(h, change);
}

/** Apply dispatches of a listener's activations (first attempts), by activation seq. */
function activations(h: Harness, node: string): DispatchCommand[] {
  return h
    .dispatches()
    .filter((d) => d.node === node && d.attempt === 1)
    .sort((a, b) => (a.activation as number) - (b.activation as number));
}

describe('persistent listener properties', () => {
  it('without a failure: one activation per notification of the source, in notification order, the latest result kept; stop() ends the run', () => {
    fc.assert(
      fc.property(
        planArb.map((plan) => ({ ...plan, saga: false })),
        fc.integer(),
        (plan, seed) => {
          const { h } = drive(plan, seed);
          const expected = reference(plan);
          plan.listeners.forEach((spec, i) => {
            const { inputs, results } = expected[i] as (typeof expected)[number];
            const runs = activations(h, id(i));
            expect(runs.map((d) => d.inputs[inputOf(spec)])).toEqual(inputs);
            for (const [k, dispatch] of runs.entries()) {
              const tries = h.dispatches().filter((d) => d.node === id(i) && d.activation === dispatch.activation).map((d) => d.attempt);
              expect(tries).toEqual(Array.from({ length: Math.min(failures(plan, i, inputs[k] as number), plan.limit) + 1 }, (_, a) => a + 1));
            }
            const done = results.filter((r) => r !== undefined);
            const node = h.node(id(i));
            expect(node.result).toBe(done.at(-1));
            expect(node.emitted ?? 0).toBe(done.length);
            expect(node.held).toBeUndefined();
          });
          expect(h.status).toBe('listening');
          h.change({ op: 'stop' });
          expect(h.status).toBe('succeeded');
        },
      ),
    );
  });

  it('failed activations retried by hand until they succeed: every notification reaches every listener; result is the latest activation\'s', () => {
    fc.assert(
      fc.property(
        planArb.map((plan) => ({ ...plan, saga: false })),
        fc.integer(),
        (plan, seed) => {
          const { h, trace } = drive(plan, seed, true);
          const healthy = reference({ ...plan, limit: 3 }); // every activation eventually succeeds
          plan.listeners.forEach((spec, i) => {
            const { inputs, results } = healthy[i] as (typeof healthy)[number];
            const sorted = (values: number[]): number[] => [...values].sort((a, b) => a - b);
            expect(sorted(activations(h, id(i)).map((d) => d.inputs[inputOf(spec)] as number))).toEqual(sorted(inputs));
            const done = trace.results.get(id(i)) ?? new Map<number, number>();
            expect(sorted([...done.values()])).toEqual(sorted(results as number[]));
            const node = h.node(id(i));
            expect(node.result).toBe(done.get(Math.max(...done.keys())));
            expect(node.emitted ?? 0).toBe(inputs.length);
          });
          expect([...h.live.state.activations.values()].filter((a) => a.status !== 'succeeded')).toEqual([]);
          h.change({ op: 'stop' });
          expect(h.status).toBe('succeeded');
        },
      ),
    );
  });

  it('saga: every completed activation with a rollback is compensated once, with its own inputs and result, latest completion first; nothing new starts', () => {
    fc.assert(
      fc.property(
        planArb.map((plan) => ({ ...plan, saga: true })),
        fc.integer(),
        (plan, seed) => {
          const { h, trace } = drive(plan, seed);
          expect(trace.appliesInSaga).toBe(0);
          const owed = h.live.state.activations;
          const completed = [...owed.values()].filter((a) => a.status === 'succeeded');
          for (const a of completed) expect((plan.listeners[indexOf(a.node)] as ListenerSpec).undo).not.toBe('none');
          const latestFirst = [...completed].sort((a, b) => (b.doneSeq as number) - (a.doneSeq as number));
          expect(trace.compensations.map((a) => [a.node, a.seq, a.inputs, a.result])).toEqual(latestFirst.map((a) => [a.node, a.seq, a.inputs, a.result]));
          for (const a of completed) expect(a.undo).toBe((plan.listeners[indexOf(a.node)] as ListenerSpec).undo === 'fails' ? 'failed' : 'done');
          // Every succeeded activation of a listener with a rollback is owed: compare with what the listeners emitted.
          plan.listeners.forEach((spec, i) => {
            if (spec.undo !== 'none') expect(completed.filter((a) => a.node === id(i))).toHaveLength(h.node(id(i)).emitted ?? 0);
          });
          const anyFailed = [...owed.values()].some((a) => a.undo === 'failed');
          expect(h.status).toBe(anyFailed ? 'rollback_failed' : 'rolled_back');
        },
      ),
    );
  });
});
