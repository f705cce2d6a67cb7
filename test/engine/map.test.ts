/**
 * Map nodes in the engine: children as activations numbered by element index,
 * bounded by `concurrency`, a run reloaded from a store in the middle of a
 * map, the saga and cancel reaching a map, and validation of the map fields.
 */
import { describe, expect, it } from 'vitest';
import type { Json } from '../../src/codec/json.js';
import { TaskwireError } from '../../src/errors.js';
import { flow } from '../../src/model/flow.js';
import { childName, parseChildName } from '../../src/model/map.js';
import { task, type AnyTask } from '../../src/model/task.js';
import { findProblems } from '../../src/model/validate.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import type { Store } from '../../src/store/port.js';
import { checkCopiesOnEveryStep, fatal, Harness, oops } from './harness.js';

checkCopiesOnEveryStep();

const source = (items: Json) => task('list', { provides: 'items', apply: () => items });
const child = task('child', { requires: ['items'], apply: () => 0 });
const undoable = task('undoable', { requires: ['items'], apply: () => 0, rollback: () => undefined });
const retried = task('flaky', { requires: ['items'], retry: 1, apply: () => 0 });

/** A run of list -> fan (map over `items`), started and the list provided. */
function mapped(items: Json, options: { concurrency?: number; policy?: 'halt' | 'rollback'; task?: AnyTask } = {}): Harness {
  const fan = (options.task ?? child).s({}, { id: 'fan', each: 'items', ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }) });
  const h = new Harness(flow('m', { onFailure: options.policy ?? 'halt' }).link(source(items).s(), fan));
  h.start();
  h.succeed('list', items);
  return h;
}

/** Element indexes dispatched for `fan` (first attempts), in order. */
const started = (h: Harness): number[] => h.dispatches().filter((d) => d.node === 'fan' && d.attempt === 1).map((d) => d.activation as number);

const childDone = (h: Harness, index: number, result: Json) =>
  h.send({ type: 'task.succeeded', node: 'fan', attempt: h.live.state.activations.get(`fan#${index}`)?.attempt ?? 1, activation: index, result });
const childFailed = (h: Harness, index: number, error = fatal) =>
  h.send({ type: 'task.failed', node: 'fan', attempt: h.live.state.activations.get(`fan#${index}`)?.attempt ?? 1, activation: index, error });

describe('map nodes', () => {
  it('dispatches one child per element with the element under the each input, and succeeds with the results in element order', () => {
    const h = mapped(['a', 'b', 'c']);
    expect(h.dispatches().filter((d) => d.node === 'fan').map((d) => [d.activation, d.inputs])).toEqual([
      [0, { items: 'a' }],
      [1, { items: 'b' }],
      [2, { items: 'c' }],
    ]);
    childDone(h, 2, 'C');
    childDone(h, 0, 'A');
    expect(h.node('fan').status).toBe('running');
    childDone(h, 1, 'B');
    expect(h.node('fan')).toMatchObject({ status: 'succeeded', result: ['A', 'B', 'C'] });
    expect(h.node('fan').held).toBeUndefined();
    expect(h.status).toBe('succeeded');
  });

  it('keeps at most concurrency children running, starting the next in element order', () => {
    const h = mapped([0, 1, 2, 3, 4], { concurrency: 2 });
    expect(started(h)).toEqual([0, 1]);
    childDone(h, 1, 1);
    expect(started(h)).toEqual([0, 1, 2]);
    childFailed(h, 0, oops); // no retry policy: failed for good
    expect(h.node('fan').status).toBe('failed');
    childDone(h, 2, 2);
    expect(started(h)).toEqual([0, 1, 2]); // a failed map starts no new child
    expect(h.status).toBe('failed');
    h.change({ op: 'retry', node: 'fan', activation: 0 });
    expect(h.node('fan').status).toBe('running');
    expect(started(h)).toEqual([0, 1, 2, 3]);
  });

  it('retrying a failed map node retries its failed children only', () => {
    const h = mapped([0, 1, 2]);
    childFailed(h, 0);
    childFailed(h, 2);
    childDone(h, 1, 1);
    expect(h.status).toBe('failed');
    h.change({ op: 'retry', node: 'fan' });
    const again = h.dispatches().filter((d) => d.node === 'fan' && d.attempt === 2).map((d) => d.activation);
    expect(again).toEqual([0, 2]);
    childDone(h, 0, 0);
    childDone(h, 2, 2);
    expect(h.node('fan')).toMatchObject({ status: 'succeeded', result: [0, 1, 2] });
  });

  it('retries a child under the node retry policy, on its own', () => {
    const h = mapped([0, 1], { task: retried });
    childFailed(h, 1, oops);
    expect(h.live.state.activations.get('fan#1')?.status).toBe('retrying');
    h.send({ type: 'retry.due', node: 'fan', attempt: 2, activation: 1 });
    childDone(h, 1, 'one');
    childDone(h, 0, 'zero');
    expect(h.node('fan').result).toEqual(['zero', 'one']);
  });

  it('fails the node with TW_MAP_INPUT when the each input is not a list, and succeeds at once with [] for an empty one', () => {
    const bad = mapped('abc');
    expect(bad.node('fan')).toMatchObject({ status: 'failed', error: { code: 'TW_MAP_INPUT', retryable: false } });
    expect(bad.dispatches().filter((d) => d.node === 'fan')).toEqual([]);
    const empty = mapped([]);
    expect(empty.node('fan')).toMatchObject({ status: 'succeeded', result: [] });
    expect(empty.status).toBe('succeeded');
  });

  it('under rollback, compensates each completed child, latest first, and cancels the children it cannot start', () => {
    const h = mapped([0, 1, 2, 3], { concurrency: 2, policy: 'rollback', task: undoable });
    childDone(h, 0, 0);
    childDone(h, 2, 2);
    childFailed(h, 1);
    // Child 1's own rollback, then (nothing runs but 3) the saga waits for 3.
    expect(h.dispatches('rollback').map((d) => d.activation)).toEqual([1]);
    h.send({ type: 'rollback.succeeded', node: 'fan', attempt: 1, activation: 1 });
    childDone(h, 3, 3);
    const undo = (index: number) => h.send({ type: 'rollback.succeeded', node: 'fan', attempt: 1, activation: index });
    expect(h.dispatches('rollback').map((d) => d.node + (d.activation ?? ''))).toEqual(['fan1', 'fan3']);
    undo(3);
    undo(2);
    undo(0);
    expect(h.dispatches('rollback').map((d) => d.node + (d.activation ?? ''))).toEqual(['fan1', 'fan3', 'fan2', 'fan0']);
    h.rolledBack('list');
    expect(h.status).toBe('rolled_back');
  });

  it('a saga started elsewhere lets running children finish and cancels the map node with children left to start', () => {
    const other = task('other', { apply: () => 0 });
    const fan = undoable.s({}, { id: 'fan', each: 'items', concurrency: 1 });
    const h = new Harness(flow('m2', { onFailure: 'rollback' }).link(source([0, 1, 2]).s(), fan).add(other.s()));
    h.start();
    h.succeed('list', [0, 1, 2]);
    h.fail('other', fatal);
    expect(h.status).toBe('rolling_back');
    childDone(h, 0, 0);
    expect(h.node('fan').status).toBe('cancelled');
    expect(h.dispatches('rollback').map((d) => d.node + (d.activation ?? ''))).toEqual(['fan0']);
  });

  it('cancel cancels the map node and its running children', () => {
    const h = mapped([0, 1]);
    h.change({ op: 'cancel' });
    expect(h.node('fan').status).toBe('cancelled');
    expect(h.live.state.activations.size).toBe(0);
    expect(h.status).toBe('cancelled');
  });

  it('resume dispatches the running children again, not the map node itself', () => {
    const h = mapped([0, 1, 2]);
    childDone(h, 1, 1);
    const out = h.send({ type: 'resume' });
    expect(out.commands.filter((c) => c.type === 'dispatch').map((c) => (c.type === 'dispatch' ? c.activation : -1))).toEqual([0, 2]);
  });

  it('a map node in a subflow run again as a whole starts its children afresh', () => {
    const inner = flow('inner').link(source([0, 1]).s(), child.s({}, { id: 'fan', each: 'items' }));
    const h = new Harness(flow('outer').add(inner.s({}, { id: 'sub', retry: 1 })));
    h.start();
    h.succeed('sub/list', [0, 1]);
    const signal = (type: 'task.succeeded' | 'task.failed', index: number) =>
      type === 'task.succeeded'
        ? h.send({ type, node: 'sub/fan', attempt: 1, activation: index, result: `r${index}` })
        : h.send({ type, node: 'sub/fan', attempt: 1, activation: index, error: fatal });
    signal('task.succeeded', 0);
    signal('task.failed', 1);
    expect(h.entries('scope.retrying')).toHaveLength(1);
    h.succeed('sub/list', [0, 1]);
    expect(h.live.state.activations.get('sub/fan#1')?.status).toBe('running');
    expect(h.node('sub/fan').held).toBeUndefined();
    signal('task.succeeded', 1);
    expect(h.node('sub/fan').status).toBe('running');
    signal('task.succeeded', 0);
    expect(h.node('sub/fan')).toMatchObject({ status: 'succeeded', result: ['r0', 'r1'] });
    expect(h.status).toBe('succeeded');
  });

  for (const [how, scope] of [
    ['policy rollback', { policy: 'rollback' as const, retry: 0 }],
    ['a scope retry', { policy: 'halt' as const, retry: 1 }],
  ] as const) {
    it(`a subflow compensates the completed children of a map node inside it (${how}), latest first`, () => {
      const inner = flow('inner', { onFailure: scope.policy }).link(source([0, 1, 2]).s(), undoable.s({}, { id: 'fan', each: 'items' }));
      const h = new Harness(flow('outer').add(inner.s({}, { id: 'sub', retry: scope.retry })));
      h.start();
      h.succeed('sub/list', [0, 1, 2]);
      const ref = (index: number) => ({ node: 'sub/fan', attempt: 1, activation: index });
      h.send({ type: 'task.succeeded', ...ref(2), result: 'r2' });
      h.send({ type: 'task.succeeded', ...ref(0), result: 'r0' });
      h.send({ type: 'task.failed', ...ref(1), error: fatal });
      // The failed child's own rollback first; then one compensation at a time, latest completion first.
      expect(h.dispatches('rollback').map((d) => d.activation)).toEqual([1]);
      h.send({ type: 'rollback.succeeded', ...ref(1) });
      expect(h.dispatches('rollback').map((d) => d.activation)).toEqual([1, 0]);
      h.send({ type: 'rollback.succeeded', ...ref(0) });
      expect(h.dispatches('rollback').map((d) => d.activation)).toEqual([1, 0, 2]);
      expect(h.entries(scope.retry > 0 ? 'scope.retrying' : 'scope.failed')).toHaveLength(0);
      h.send({ type: 'rollback.succeeded', ...ref(2) });
      expect(h.entries(scope.retry > 0 ? 'scope.retrying' : 'scope.failed')).toHaveLength(1);
    });
  }

  const stores: [string, () => Store][] = [
    ['memory', () => new MemoryStore()],
    ['sqlite', () => openSqliteStore({ path: ':memory:' })],
  ];
  for (const [name, open] of stores) {
    it(`continues a map reloaded from a ${name} store: held results kept, concurrency counted from the state`, async () => {
      const store = open();
      const h = mapped([0, 1, 2, 3, 4], { concurrency: 2 });
      childDone(h, 1, 'one');
      childFailed(h, 0, oops);
      await h.save(store);
      const loaded = await Harness.load(store);
      expect(loaded.node('fan').held).toEqual([{ seq: 1, result: 'one' }]);
      loaded.change({ op: 'retry', node: 'fan', activation: 0 });
      // 0 (retried) and 2 run: concurrency 2 reached, 3 waits.
      expect(loaded.dispatches().map((d) => [d.activation, d.attempt])).toEqual([[0, 2]]);
      loaded.send({ type: 'task.succeeded', node: 'fan', attempt: 2, activation: 0, result: 'zero' });
      expect(loaded.dispatches().map((d) => d.activation)).toEqual([0, 3]);
      for (const i of [2, 3]) loaded.send({ type: 'task.succeeded', node: 'fan', attempt: 1, activation: i, result: i });
      loaded.send({ type: 'task.succeeded', node: 'fan', attempt: 1, activation: 4, result: 4 });
      expect(loaded.node('fan')).toMatchObject({ status: 'succeeded', result: ['zero', 'one', 2, 3, 4] });
      await loaded.save(store);
      const again = await Harness.load(store);
      expect(again.node('fan').held).toBeUndefined();
      expect(again.node('fan').result).toEqual(['zero', 'one', 2, 3, 4]);
      await store.close();
    });
  }
});

describe('map fields', () => {
  it('names children node[i] and reads them back', () => {
    expect(childName('fan', 3)).toBe('fan[3]');
    expect(parseChildName('fan[3]')).toEqual({ node: 'fan', index: 3 });
    expect(parseChildName('fan')).toBeUndefined();
  });

  it('refuses each on an input the task does not require, bad concurrency, and collect of an input it does not take, naming the node and field', () => {
    const message = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        expect(error).toBeInstanceOf(TaskwireError);
        expect((error as TaskwireError).code).toBe('TW_CONFIG');
        return (error as Error).message;
      }
      throw new Error('expected an error');
    };
    expect(message(() => child.s({}, { id: 'fan', each: 'nope' }))).toMatch(/node "fan": each names input "nope", which its task does not require/);
    expect(message(() => child.s({}, { id: 'fan', each: 'items', concurrency: 0 }))).toMatch(/node "fan": concurrency expected a positive integer, got 0/);
    expect(message(() => child.s({}, { id: 'fan', each: 'items', concurrency: 1.5 }))).toMatch(/concurrency expected a positive integer, got 1.5/);
    expect(message(() => child.s({}, { id: 'fan', concurrency: 2 }))).toMatch(/node "fan": concurrency bounds the children of a map node/);
    expect(message(() => child.s({}, { id: 'fan', each: 'items', persistent: true }))).toMatch(/node "fan": each cannot be used on a persistent listener/);
    expect(message(() => child.s({}, { id: 'j', collect: 'values' }))).toMatch(/node "j": collect names input "values", which its task does not take/);
  });

  it('lets several sources feed a collecting input (no duplicate-provider problem), and refuses them otherwise', () => {
    const a = task('a', { provides: 'v', apply: () => 1 });
    const b = task('b', { provides: 'v', apply: () => 2 });
    const join = task('join', { requires: ['v'], apply: () => 0 });
    const collector = join.s({}, { collect: 'v' });
    const collecting = flow('ok').link(a.s(), collector).link(b.s(), collector);
    expect(findProblems(collecting.definition())).toEqual([]);
    const joined = join.s();
    const plain = flow('dup').link(a.s(), joined).link(b.s(), joined);
    expect(findProblems(plain.definition())).toMatchObject([{ kind: 'duplicate-provider', nodes: ['join', 'a', 'b'] }]);
  });
});
