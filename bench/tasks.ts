/**
 * The benchmark's tasks: trivial arithmetic, so that every figure is
 * orchestration overhead. The bench process builds its flows from these, and
 * the distributed workers load this module
 * (`taskwire worker --tasks bench/tasks.ts`): only the names travel.
 *
 * Node ids used with these tasks never contain dots (they are words of the
 * announcement routing keys the bench listens to).
 */
import { task, type AnyTask } from '../src/index.js';

/** W1 (chain) and W3 (throughput): returns `v + 1`, published as `v`, so `inc → inc` links need no map. */
export const inc = task('bench.inc', {
  requires: ['v'],
  provides: 'v',
  apply: ({ v }: { v: number }) => v + 1,
});

/** W2 root: returns its bound `x`, published as `root`. */
export const fanRoot = task('bench.root', {
  requires: ['x'],
  provides: 'root',
  apply: ({ x }: { x: number }) => x,
});

/** W2 parallel task: `root + i`, published as `fan`. */
export const fan = task('bench.fan', {
  requires: ['root', 'i'],
  provides: 'fan',
  apply: ({ root, i }: { root: number; i: number }) => root + i,
});

/** Sums every numeric input (the W2 join; its inputs are named by the node definition). */
function sumInputs(inputs: Record<string, unknown>): number {
  let sum = 0;
  for (const value of Object.values(inputs)) if (typeof value === 'number') sum += value;
  return sum;
}

/** W2 join as the workers know it: only the name and the code travel, so no declared inputs are needed here. */
export const join = task('bench.join', { provides: 'sum', apply: sumInputs });

const joins = new Map<number, AnyTask>();

/**
 * The W2 join for `width` parallel tasks, with inputs `v0 … v<width-1>` (taskwire has
 * no variadic fan-in: a task declares every input it waits for). Memoised, because a
 * process may register only one task object per name.
 */
export function joinOf(width: number): AnyTask {
  let known = joins.get(width);
  if (known === undefined) {
    const requires = Array.from({ length: width }, (_, i) => `v${i}`);
    known = task('bench.join', { requires, provides: 'sum', apply: sumInputs });
    joins.set(width, known);
  }
  return known;
}

/** W2 in its map/collect form (`fanout-map`): sums the list its collecting input `values` receives. */
export const joinList = task('bench.join-list', {
  requires: ['values'],
  provides: 'sum',
  apply: ({ values }: { values: number[] }) => values.reduce((sum, value) => sum + value, 0),
});

/** W4 persistent listener: one activation per `bench.tick` notification; returns the payload's `i`. */
export const tick = task('bench.tick', {
  requires: ['i'],
  provides: 'tick',
  apply: ({ i }: { i: number }) => i,
});

/** Scale root: published as `seed`. */
export const scaleRoot = task('bench.scale.root', {
  provides: 'seed',
  apply: () => 1,
});

/** Scale parallel node: `seed + 1`. */
export const scaleLeaf = task('bench.scale.leaf', {
  requires: ['seed'],
  provides: 'leaf',
  apply: ({ seed }: { seed: number }) => seed + 1,
});

/** Scale join (and intermediate joins of the `tree` shape): an ordering-only listener. */
export const scaleJoin = task('bench.scale.join', {
  provides: 'done',
  apply: () => true,
});
