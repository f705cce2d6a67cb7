/**
 * Property tests of map nodes against a reference evaluator: a list of random
 * length feeds a map node (random `concurrency`, retry limit and failures per
 * element) whose results a collecting join receives with another source's
 * value. Signals arrive in a random order, refused changes are tried at random
 * points (each must leave no trace). Under `halt`, failed children are retried
 * by hand until the run succeeds; under `rollback`, a child failing for good
 * makes the saga compensate every completed child once, latest first.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Change, Command, DispatchCommand, EngineEvent } from '../../src/engine/events.js';
import { activationKey, type ActivationState } from '../../src/engine/state.js';
import { flow } from '../../src/model/flow.js';
import { task } from '../../src/model/task.js';
import { expectRefusedWithoutTrace, fatal, Harness, oops, prng } from './harness.js';

interface Plan {
  /** Elements of the list (their values are 100 + index). */
  length: number;
  /** The map's concurrency (undefined: no bound). */
  concurrency: number | undefined;
  /** Retry limit of every child. */
  limit: number;
  /** Picks how often each element fails. */
  salt: number;
  policy: 'halt' | 'rollback';
}

const planArb: fc.Arbitrary<Plan> = fc.record({
  length: fc.nat({ max: 12 }),
  concurrency: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  limit: fc.nat({ max: 2 }),
  salt: fc.nat(),
  policy: fc.constantFrom<Plan['policy']>('halt', 'rollback'),
});

const value = (index: number): number => 100 + index;
const compute = (item: number): number => item * 2;

/** How many times element `item` fails (retryably) before it succeeds. */
function failures(plan: Plan, item: number): number {
  return prng(plan.salt ^ (item * 7919))() < 0.6 ? 0 : 1 + Math.floor(prng(plan.salt + item)() * 3);
}

function buildFlow(plan: Plan) {
  const list = task('list', { provides: 'items', apply: () => [] as number[] });
  const double = task('double', {
    requires: ['items'],
    provides: 'n',
    retry: { limit: plan.limit, initialDelayMs: 10, factor: 2, maxDelayMs: 50, jitter: 0.5 },
    apply: () => 0,
    rollback: () => undefined,
  });
  const other = task('other', { provides: 'n', apply: () => 0, rollback: () => undefined });
  const join = task('join', { requires: ['all'], apply: () => 0 });
  const fan = double.s({}, { id: 'fan', each: 'items', ...(plan.concurrency === undefined ? {} : { concurrency: plan.concurrency }) });
  const collector = join.s({}, { collect: 'all' });
  return flow('mapped', { onFailure: plan.policy })
    .link(list.s(), fan)
    .link(other.s(), collector, { map: { all: 'n' } })
    .link(fan, collector, { map: { all: 'n' } });
}

/** The signal a worker (or the timer) sends back for a command. */
function respond(plan: Plan, h: Harness, command: Command): EngineEvent {
  if (command.type === 'schedule') {
    h.now = Math.max(h.now, command.dueAt);
    return { type: 'retry.due', node: command.node, attempt: command.attempt, ...(command.activation === undefined ? {} : { activation: command.activation }) };
  }
  const dispatch = command as DispatchCommand;
  const ref = { node: dispatch.node, attempt: dispatch.attempt, ...(dispatch.activation === undefined ? {} : { activation: dispatch.activation }) };
  if (dispatch.kind === 'rollback') return { type: 'rollback.succeeded', ...ref };
  if (dispatch.node === 'list') return { type: 'task.succeeded', ...ref, result: Array.from({ length: plan.length }, (_, i) => value(i)) };
  if (dispatch.node === 'other') return { type: 'task.succeeded', ...ref, result: -1 };
  if (dispatch.node === 'join') return { type: 'task.succeeded', ...ref, result: dispatch.inputs['all'] ?? null };
  const item = dispatch.inputs['items'] as number;
  if (dispatch.attempt <= failures(plan, item)) return { type: 'task.failed', ...ref, error: plan.policy === 'rollback' && dispatch.attempt > plan.limit ? fatal : oops };
  return { type: 'task.succeeded', ...ref, result: compute(item) };
}

interface Trace {
  /** Compensations of completed children, in dispatch order, as each child was. */
  compensations: ActivationState[];
  /**
   * The most children live (running or retrying) after a step that started a
   * new child: at most `concurrency` (a retry by hand starts its child at once,
   * even beyond it, but no new child starts until the count is below it again).
   */
  peak: number;
  /** First-attempt dispatches of children after the map node failed (under halt, before any retry by hand). */
  startedAfterFailure: number;
}

function liveChildren(h: Harness): number {
  let live = 0;
  for (const a of h.live.state.activations.values()) if (a.node === 'fan' && (a.status === 'running' || a.status === 'retrying')) live++;
  return live;
}

/** Runs a plan: commands carried out in a random order, refused changes tried at random; with `repair`, failed children retried by hand until none is left. */
function drive(plan: Plan, seed: number, repair: boolean): { h: Harness; trace: Trace } {
  const h = new Harness(buildFlow(plan));
  const random = prng(seed);
  const pending: Command[] = [];
  const trace: Trace = { compensations: [], peak: 0, startedAfterFailure: 0 };
  let repairing = false;
  const observe = (commands: Command[]): void => {
    let started = false;
    for (const command of commands) {
      if (command.type === 'dispatch' && command.kind === 'apply' && command.node === 'fan' && command.attempt === 1) started = true;
      if (command.type === 'dispatch' && command.kind === 'rollback' && command.activation !== undefined) {
        const child = h.live.state.activations.get(activationKey(command.node, command.activation)) as ActivationState;
        if (child.status === 'succeeded') trace.compensations.push(structuredClone(child));
      }
      if (command.type === 'dispatch' && command.kind === 'apply' && command.node === 'fan' && command.attempt === 1 && h.node('fan').status === 'failed' && !repairing) trace.startedAfterFailure++;
      if (command.type === 'dispatch' || command.type === 'schedule') pending.push(command);
    }
    if (started || !repairing) trace.peak = Math.max(trace.peak, liveChildren(h));
  };
  const settle = (): void => {
    for (let guard = 0; pending.length > 0; guard++) {
      if (guard > 5000) throw new Error('the run does not settle');
      if (random() < 0.05) refuse(h, random);
      const [command] = pending.splice(Math.floor(random() * pending.length), 1) as [Command];
      h.now += 1;
      observe(h.send(respond(plan, h, command)).commands);
    }
  };
  observe(h.start().commands);
  settle();
  const failed = (): ActivationState[] => [...h.live.state.activations.values()].filter((a) => a.node === 'fan' && a.status === 'failed');
  for (let left = repair ? failed() : []; left.length > 0; left = failed()) {
    repairing = true;
    // By name, as a user would: `fan[i]`'s activation.
    for (const child of left) observe(h.change({ op: 'retry', node: 'fan', activation: child.seq }).commands);
    settle();
  }
  return { h, trace };
}

/** A change the state makes invalid (a retry of a child that has not failed, of an unknown node): refused, no trace. */
function refuse(h: Harness, random: () => number): void {
  const changes: Change[] = [{ op: 'remove', node: 'ghost' }];
  for (const a of h.live.state.activations.values()) if (a.node === 'fan' && a.status !== 'failed') changes.push({ op: 'retry', node: 'fan', activation: a.seq });
  expectRefusedWithoutTrace(h, changes[Math.floor(random() * changes.length)] as Change);
}

describe('map node properties', () => {
  it('halt, failed children retried by hand: every element runs once per attempt, never more than concurrency at once, and the join collects the results in element order', () => {
    fc.assert(
      fc.property(
        planArb.map((plan) => ({ ...plan, policy: 'halt' as const })),
        fc.integer(),
        (plan, seed) => {
          const { h, trace } = drive(plan, seed, true);
          const elements = Array.from({ length: plan.length }, (_, i) => value(i));
          expect(h.status).toBe('succeeded');
          expect(h.node('fan').result).toEqual(elements.map(compute));
          expect(h.node('join').result).toEqual([-1, ...elements.map(compute)]);
          const firsts = h.dispatches().filter((d) => d.node === 'fan' && d.attempt === 1);
          expect(firsts.map((d) => d.activation).sort((a, b) => (a as number) - (b as number))).toEqual(elements.map((_, i) => i));
          expect(firsts.map((d) => d.inputs['items'])).toEqual(firsts.map((d) => value(d.activation as number)));
          expect(trace.peak).toBeLessThanOrEqual(plan.concurrency ?? plan.length);
          expect(trace.startedAfterFailure).toBe(0);
          // Every child's attempts: its failures (its retries, then by hand), then one success.
          for (const [i, item] of elements.entries()) {
            const tries = h.dispatches().filter((d) => d.node === 'fan' && d.activation === i).map((d) => d.attempt);
            expect(tries).toEqual(Array.from({ length: failures(plan, item) + 1 }, (_, a) => a + 1));
          }
          expect(h.node('fan').held).toBeUndefined();
          expect([...h.live.state.activations.values()]).toEqual([]);
        },
      ),
    );
  });

  it('rollback: a child failing for good compensates every completed child once, latest completion first, and nothing new starts', () => {
    fc.assert(
      fc.property(
        planArb.map((plan) => ({ ...plan, policy: 'rollback' as const })),
        fc.integer(),
        (plan, seed) => {
          const { h, trace } = drive(plan, seed, false);
          const elements = Array.from({ length: plan.length }, (_, i) => value(i));
          const doomed = elements.some((item) => failures(plan, item) > plan.limit);
          if (!doomed) {
            expect(h.status).toBe('succeeded');
            expect(h.node('join').result).toEqual([-1, ...elements.map(compute)]);
            return;
          }
          expect(h.status).toBe('rolled_back');
          const succeeded = h.history.filter((e) => e.type === 'node.succeeded' && e.node === 'fan' && e.activation !== undefined).map((e) => e.activation);
          expect(trace.compensations.map((c) => c.seq).sort((a, b) => a - b)).toEqual([...succeeded].sort((a, b) => (a as number) - (b as number)));
          const order = trace.compensations.map((c) => c.doneSeq as number);
          expect(order).toEqual([...order].sort((a, b) => b - a));
          for (const child of trace.compensations) expect(child.result).toBe(compute(child.inputs['items'] as number));
          expect(h.dispatches().filter((d) => d.node === 'join')).toEqual([]);
          expect(trace.peak).toBeLessThanOrEqual(plan.concurrency ?? plan.length);
          expect(['failed', 'cancelled']).toContain(h.node('fan').status);
        },
      ),
    );
  });
});
