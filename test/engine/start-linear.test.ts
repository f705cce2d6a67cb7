/**
 * The start phase of a flow (definition with inferred links, validation,
 * `createRun`, the coordinator's copy, the `start` step and the first commit to
 * each store) must stay linear in the number of nodes: a 100,000-node flow took
 * 744 s when fan-in readiness and link inference were quadratic, 13 s after.
 * The work is counted (see `test/support/work-counter.ts`), not timed: ten
 * times the nodes must cost about ten times the elements visited (quadratic
 * code costs ~100 times).
 */
import { describe, expect, it } from 'vitest';
import { createRun } from '../../src/engine/create.js';
import { copyRun } from '../../src/engine/state.js';
import { liveRun } from '../../src/engine/live.js';
import { emptyOutput } from '../../src/engine/step-context.js';
import { step } from '../../src/engine/step.js';
import { flow, type Flow } from '../../src/model/flow.js';
import { task } from '../../src/model/task.js';
import { validateFlow } from '../../src/model/validate.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import type { Store } from '../../src/store/port.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { stepCommit } from '../../src/store/step-commit.js';
import { countWork } from '../support/work-counter.js';

const root = task('root', { provides: 'seed', apply: () => 1 });
const leaf = task('leaf', { requires: ['seed'], provides: 'leaf', apply: ({ seed }: { seed: number }) => seed });
const join = task('join', { provides: 'done', apply: () => true });
const inc = task('inc', { requires: ['v'], provides: 'v', apply: ({ v }: { v: number }) => v + 1 });

/** The flows, by shape, of `n` nodes. */
const SHAPES: Record<string, (n: number) => Flow> = {
  // The bench's scale flow: 1 root -> n - 2 parallel -> 1 join, explicit links.
  wide: (n) => {
    const flo = flow('wide');
    const r = root.s({}, { id: 'root' });
    const j = join.s({}, { id: 'join' });
    flo.add(r);
    for (let i = 0; i < n - 2; i++) {
      const p = leaf.s({}, { id: `p${i}` });
      flo.link(r, p).link(p, j);
    }
    return flo;
  },
  // The same fan-out with links inferred from names.
  inferred: (n) => flow('inferred').add(root.s({}, { id: 'root' }), ...Array.from({ length: n - 1 }, (_, i) => leaf.s({}, { id: `p${i}` }))),
  // A line of n nodes: deep, one ready node at a time.
  chain: (n) => {
    const flo = flow('chain');
    let last = inc.s({ v: 0 }, { id: 'h0' });
    flo.add(last);
    for (let i = 1; i < n; i++) {
      const next = inc.s({}, { id: `h${i}` });
      flo.link(last, next);
      last = next;
    }
    return flo;
  },
};

/** What `tw.start()` does with a flow, up to and including the first commit. */
async function startPhase(flo: Flow, store: Store): Promise<void> {
  const definition = flo.definition();
  validateFlow(definition, { inputs: {}, isKnownTask: () => true });
  const live = liveRun(createRun(definition, { id: 'run-1', inputs: {}, validate: true, now: 1000 }));
  copyRun(live.state);
  const out = step(live, { type: 'start' }, 1000, emptyOutput());
  live.state.rev = 1;
  const { conflicts } = await store.commit([stepCommit(live.state, 0, out, [])]);
  expect(conflicts).toEqual([]);
}

const STORES: [string, () => Store][] = [
  ['memory', () => new MemoryStore()],
  ['sqlite', () => openSqliteStore({ path: ':memory:' })],
];

const N = 300;

describe.each(STORES)('the start phase is linear in the number of nodes [%s store]', (_name, makeStore) => {
  it.each(Object.keys(SHAPES))('%s flow: 10x the nodes, at most 12x the work', async (shape) => {
    const work: number[] = [];
    for (const n of [N, 10 * N]) {
      const flo = (SHAPES[shape] as (n: number) => Flow)(n); // building the flow is the caller's, not counted
      const store = makeStore();
      try {
        work.push(await countWork(() => startPhase(flo, store)));
      } finally {
        await store.close?.();
      }
    }
    const [small, large] = work as [number, number];
    expect(small).toBeGreaterThan(N); // something was counted
    expect(large / small, `work for ${N} nodes: ${small}; for ${10 * N}: ${large}`).toBeLessThan(12);
  });
});
