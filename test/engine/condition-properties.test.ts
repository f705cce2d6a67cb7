/**
 * Conditional links in the engine's property tests: random DAGs whose links
 * carry random conditions (on the source's result) and depths, run to the
 * end, against a reference evaluator of the rules in docs/conditions.md
 * (a node runs if any conditional link into it holds; skipped when all are
 * false; a source skipped with depth `downstream` skips its listeners).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRun, liveRun, step, type DispatchCommand } from '../../src/engine/index.js';
import { condition, ConditionRegistry } from '../../src/model/condition.js';
import type { FlowDefinition, LinkDefinition, NodeDefinition } from '../../src/model/definition.js';
import { DEFAULT_RETRY } from '../../src/model/retry.js';

const registry = new ConditionRegistry().register(
  condition('even', (v: number) => v % 2 === 0),
  condition('odd', (v: number) => v % 2 === 1),
  condition('big', (v: number) => v >= 5),
);
const PREDICATES: Record<string, (v: number) => boolean> = { even: (v) => v % 2 === 0, odd: (v) => v % 2 === 1, big: (v) => v >= 5 };

const node = (id: string): NodeDefinition => ({ id, kind: 'task', name: 't', bound: {}, requires: [], optional: [], provides: [id], persistent: false, rollback: false, retry: DEFAULT_RETRY, timeoutMs: 0, queue: 'default' });

type LinkSpec = { from: number; to: number; condition: string | undefined; depth: 'node' | 'downstream' };

const graphs = fc.integer({ min: 2, max: 8 }).chain((n) =>
  fc.record({
    results: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: n, maxLength: n }),
    links: fc.uniqueArray(
      fc
        .tuple(fc.integer({ min: 0, max: n - 1 }), fc.integer({ min: 0, max: n - 1 }), fc.constantFrom(undefined, 'even', 'odd', 'big'), fc.constantFrom('node' as const, 'downstream' as const))
        .filter(([a, b]) => a < b)
        .map(([from, to, cond, depth]): LinkSpec => ({ from, to, condition: cond, depth })),
      { selector: (l) => `${l.from}-${l.to}`, maxLength: 14 },
    ),
  }),
);

/** The reference: each node's outcome in index order (links go from lower to higher indexes). */
function reference(n: number, links: readonly LinkSpec[], results: readonly number[]): { status: string; depth?: string }[] {
  const outcome: { status: string; depth?: string }[] = [];
  for (let j = 0; j < n; j++) {
    const incoming = links.filter((l) => l.to === j);
    if (incoming.some((l) => l.condition === undefined && outcome[l.from]?.depth === 'downstream')) {
      outcome.push({ status: 'skipped', depth: 'downstream' });
      continue;
    }
    const conditional = incoming.filter((l) => l.condition !== undefined);
    const holds = conditional.some((l) => outcome[l.from]?.status === 'succeeded' && (PREDICATES[l.condition as string] as (v: number) => boolean)(results[l.from] as number));
    if (conditional.length > 0 && !holds) outcome.push({ status: 'skipped', depth: conditional.some((l) => l.depth === 'downstream') ? 'downstream' : 'node' });
    else outcome.push({ status: 'succeeded' });
  }
  return outcome;
}

describe('engine properties: conditional links', () => {
  it('every node runs or is skipped as the reference says, and the run succeeds', () => {
    fc.assert(
      fc.property(graphs, ({ results, links }) => {
        const n = results.length;
        const ids = results.map((_, i) => `n${i}`);
        const linkDefs: LinkDefinition[] = links.map((l) => {
          const def: LinkDefinition = { from: ids[l.from] as string, to: ids[l.to] as string, map: {}, inferred: false };
          if (l.condition !== undefined) def.condition = { name: l.condition, depth: l.depth };
          return def;
        });
        const definition: FlowDefinition = { name: 'conds', nodes: ids.map(node), links: linkDefs, onFailure: 'halt' };
        const live = liveRun(createRun(definition, { id: 'r', inputs: {}, validate: true, now: 0 }));
        let pending: DispatchCommand[] = step(live, { type: 'start' }, 1, undefined, registry).commands.filter((c): c is DispatchCommand => c.type === 'dispatch');
        for (let guard = 0; pending.length > 0 && guard < 100; guard++) {
          const next: DispatchCommand[] = [];
          for (const command of pending) {
            const result = results[Number(command.node.slice(1))] as number;
            next.push(...step(live, { type: 'task.succeeded', node: command.node, attempt: command.attempt, result }, 2, undefined, registry).commands.filter((c): c is DispatchCommand => c.type === 'dispatch'));
          }
          pending = next;
        }
        const expected = reference(n, links, results);
        const actual = ids.map((id) => {
          const state = live.state.nodes.get(id);
          return state?.skip === undefined ? { status: state?.status as string } : { status: state.status, depth: state.skip.depth };
        });
        expect(actual).toEqual(expected);
        expect(live.state.status).toBe('succeeded');
      }),
      { numRuns: 300 },
    );
  });
});
