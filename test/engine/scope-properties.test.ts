/**
 * Property tests of subflow scopes: a node `p`, then a generated subflow `s`
 * (a random DAG with random rollbacks, a failure plan per scope attempt, its
 * own policy and scope retries), then a node `q`, under a random run policy;
 * outcomes delivered in random order. Checked against what the scope rules
 * say: how many scope attempts run, which completed nodes each failed attempt
 * compensates (each once, latest completion first), the final run status,
 * and that the run always settles.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DispatchCommand, HistoryEntry } from '../../src/engine/events.js';
import { SETTLED } from '../../src/engine/state.js';
import type { FailurePolicy } from '../../src/model/definition.js';
import { flow } from '../../src/model/flow.js';
import { task } from '../../src/model/task.js';
import { Harness, fatal, prng } from './harness.js';

interface ScopePlan {
  /** Per inner node: its sources (lower indexes) and whether its task has a rollback. */
  nodes: { sources: number[]; rollback: boolean }[];
  /** Per scope attempt (0..retry): the inner nodes that fail for good in it. */
  failing: number[][];
  scopePolicy: FailurePolicy;
  retry: number;
  runPolicy: FailurePolicy;
  seed: number;
}

const planArb: fc.Arbitrary<ScopePlan> = fc.integer({ min: 1, max: 6 }).chain((n) =>
  fc.integer({ min: 0, max: 2 }).chain((retry) =>
    fc.record({
      nodes: fc.tuple(
        ...Array.from({ length: n }, (_, i) =>
          fc.record({ sources: i === 0 ? fc.constant<number[]>([]) : fc.uniqueArray(fc.nat({ max: i - 1 }), { maxLength: 3 }), rollback: fc.boolean() }),
        ),
      ),
      failing: fc.tuple(...Array.from({ length: retry + 1 }, () => fc.uniqueArray(fc.nat({ max: n - 1 }), { maxLength: 2 }))),
      scopePolicy: fc.constantFrom<FailurePolicy>('halt', 'rollback'),
      retry: fc.constant(retry),
      runPolicy: fc.constantFrom<FailurePolicy>('halt', 'rollback'),
      seed: fc.integer(),
    }),
  ),
);

function buildFlow(plan: ScopePlan) {
  const withRollback = { apply: () => 0, rollback: () => undefined };
  const sub = flow('sub', { onFailure: plan.scopePolicy });
  const nodes = plan.nodes.map((spec, i) => task(`n${i}`, spec.rollback ? withRollback : { apply: () => 0 }).s());
  plan.nodes.forEach((spec, i) => {
    sub.add(nodes[i] as (typeof nodes)[number]);
    for (const from of spec.sources) sub.link(nodes[from] as (typeof nodes)[number], nodes[i] as (typeof nodes)[number]);
  });
  const subflow = sub.s({}, { id: 's', retry: plan.retry });
  return flow('outer', { onFailure: plan.runPolicy }).link(task('p', withRollback).s(), subflow).link(subflow, task('q', { apply: () => 0 }).s());
}

/** Runs a plan to its end: every pending dispatch answered, in an order drawn from the plan's seed. */
function run(plan: ScopePlan): Harness {
  const h = new Harness(buildFlow(plan));
  const random = prng(plan.seed);
  const pending: { command: DispatchCommand; scopeAttempt: number }[] = [];
  const take = (from: number): void => {
    const attempt = h.live.state.scopes?.['s']?.attempt ?? 0;
    for (const command of h.commands.slice(from)) if (command.type === 'dispatch') pending.push({ command, scopeAttempt: attempt });
  };
  let seen = 0;
  h.start();
  take(seen);
  seen = h.commands.length;
  for (let steps = 0; pending.length > 0; steps++) {
    expect(steps).toBeLessThan(500);
    const [{ command, scopeAttempt }] = pending.splice(Math.floor(random() * pending.length), 1) as [(typeof pending)[number]];
    const ref = { node: command.node, attempt: command.attempt };
    if (command.kind === 'rollback') h.send({ type: 'rollback.succeeded', ...ref });
    else {
      const index = command.node.startsWith('s/n') ? Number(command.node.slice(3)) : -1;
      const fails = index >= 0 && (plan.failing[scopeAttempt] ?? []).includes(index);
      h.send(fails ? { type: 'task.failed', ...ref, error: fatal } : { type: 'task.succeeded', ...ref, result: 0 });
    }
    take(seen);
    seen = h.commands.length;
  }
  return h;
}

/** The history split at each scope entry: one segment per scope attempt. */
function attempts(history: readonly HistoryEntry[]): HistoryEntry[][] {
  const segments: HistoryEntry[][] = [[]];
  for (const entry of history) {
    (segments.at(-1) as HistoryEntry[]).push(entry);
    if (entry.type === 'scope.retrying') segments.push([]);
  }
  return segments;
}

describe('subflow scopes (property)', () => {
  it('run the scope attempts the plan calls for, compensate each failed one in reverse completion order, and settle', () => {
    fc.assert(
      fc.property(planArb, (plan) => {
        const h = run(plan);
        expect(SETTLED.has(h.status)).toBe(true);
        const succeedsAt = plan.failing.findIndex((failing) => failing.length === 0);
        const retries = h.entries('scope.retrying');
        if (succeedsAt >= 0) {
          expect(h.status).toBe('succeeded');
          expect(retries).toHaveLength(succeedsAt);
          expect(h.entries('scope.failed')).toHaveLength(0);
        } else {
          expect(retries).toHaveLength(plan.retry);
          // A scope that compensates fails once; one under halt passes on each failure of its last attempt.
          const failures = h.entries('scope.failed').length;
          if (plan.scopePolicy === 'rollback') expect(failures).toBe(1);
          else expect(failures).toBe((attempts(h.history).at(-1) ?? []).filter((e) => e.type === 'node.failed').length);
          expect(h.status).toBe(plan.runPolicy === 'halt' ? 'failed' : 'rolled_back');
          expect(h.dispatched()).not.toContain('q');
          expect(h.dispatched('rollback').includes('p')).toBe(plan.runPolicy === 'rollback');
        }
        const segments = attempts(h.history);
        segments.forEach((segment, a) => {
          const failed = a < segments.length - 1 || succeedsAt < 0;
          const compensates = failed && (plan.scopePolicy === 'rollback' || a < plan.retry || plan.runPolicy === 'rollback');
          const completed = segment.filter((e) => e.type === 'node.succeeded' && e.node?.startsWith('s/') === true).map((e) => e.node as string);
          const owed = completed.filter((id) => plan.nodes[Number(id.slice(3))]?.rollback === true);
          // A node that fails for good runs its own rollback: not a compensation.
          const failedHere = new Set(segment.filter((e) => e.type === 'node.failed').map((e) => e.node));
          const undone = segment.filter((e) => e.type === 'rollback.started' && e.node?.startsWith('s/') === true && !failedHere.has(e.node)).map((e) => e.node as string);
          // Each inner node runs at most once per scope attempt (no node retries in the plan).
          expect(new Set(segment.filter((e) => e.type === 'node.queued').map((e) => e.node)).size).toBe(segment.filter((e) => e.type === 'node.queued').length);
          if (!compensates) expect(undone).toEqual([]);
          else if (plan.scopePolicy === 'rollback' || a < plan.retry) expect(undone).toEqual([...owed].reverse());
          else expect([...undone].sort()).toEqual([...owed].sort()); // the run's saga: every owed one, in its own order
        });
      }),
      { numRuns: 300 },
    );
  });
});
