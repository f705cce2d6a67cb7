import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import type { FlowDefinition, LinkDefinition } from '../../src/model/definition.js';
import { flow } from '../../src/model/flow.js';
import { event } from '../../src/model/node.js';
import { DEFAULT_RETRY } from '../../src/model/retry.js';
import { task } from '../../src/model/task.js';

/** The seed's tasks. */
const add = task('add', { requires: ['x', 'y'], apply: ({ x, y }: { x: number; y: number }) => x + y });
const mult = task('mult', { requires: ['add', 'y'], apply: ({ add, y }: { add: number; y: number }) => add * y });

/** Runs `fn`, expecting a ConfigError; returns its message. */
function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('TW_CONFIG');
    return (error as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
}

/** Links as `from->to` strings, for compact assertions. */
const edges = (links: readonly LinkDefinition[]): string[] => links.map((l) => `${l.from}->${l.to}${l.inferred ? ' (inferred)' : ''}`);

/** A task with no inputs, providing its own name. */
const unit = (name: string, spec: { requires?: string[]; provides?: string[] } = {}) => task(name, { ...spec, apply: () => name });

describe('task()', () => {
  it('defaults: provides its own name, no retries, no timeout, the default queue', () => {
    expect(add.name).toBe('add');
    expect(add.requires).toEqual(['x', 'y']);
    expect(add.optional).toEqual([]);
    expect(add.provides).toEqual(['add']);
    expect(add.retry).toEqual(DEFAULT_RETRY);
    expect(add.timeoutMs).toBe(0);
    expect(add.queue).toBe('default');
    expect(add.rollback).toBeUndefined();
    expect(Object.isFrozen(add)).toBe(true);
  });

  it('accepts provides as one name or several, retry as a number or a policy', () => {
    expect(task('t', { provides: 'out', apply: () => 1 }).provides).toEqual(['out']);
    expect(task('t', { provides: ['a', 'b'], apply: () => ({ a: 1, b: 2 }) }).provides).toEqual(['a', 'b']);
    expect(task('t', { retry: 3, apply: () => 1 }).retry).toEqual({ ...DEFAULT_RETRY, limit: 3 });
    expect(task('t', { retry: { limit: 2, factor: 3 }, apply: () => 1 }).retry).toEqual({ ...DEFAULT_RETRY, limit: 2, factor: 3 });
  });

  it.each([
    ['an empty name', () => task('', { apply: () => 1 }), /task name expected a name .* got ""/],
    ['a name with a space', () => task('my task', { apply: () => 1 }), /task name .* got "my task"/],
    ['a missing apply', () => task('t', {} as never), /task "t": apply expected a function, got undefined/],
    ['a rollback that is not a function', () => task('t', { apply: () => 1, rollback: 3 as never }), /task "t": rollback expected a function, got number/],
    ['a negative timeout', () => task('t', { apply: () => 1, timeoutMs: -1 }), /task "t": timeoutMs expected a number from 0 and up, got -1/],
    ['an infinite timeout', () => task('t', { apply: () => 1, timeoutMs: Infinity }), /task "t": timeoutMs .* got Infinity/],
    ['a fractional retry limit', () => task('t', { apply: () => 1, retry: 1.5 }), /task "t": retry.limit expected an integer from 0 and up, got 1.5/],
    ['a negative retry limit', () => task('t', { apply: () => 1, retry: -1 }), /task "t": retry.limit expected an integer/],
    ['a factor below 1', () => task('t', { apply: () => 1, retry: { factor: 0.5 } }), /task "t": retry.factor expected a number from 1 and up, got 0.5/],
    ['a jitter above 1', () => task('t', { apply: () => 1, retry: { jitter: 2 } }), /task "t": retry.jitter expected a number from 0 to 1, got 2/],
    ['a string delay', () => task('t', { apply: () => 1, retry: { initialDelayMs: '5' as never } }), /task "t": retry.initialDelayMs .* got 5 \(string\)/],
    ['a bad queue name', () => task('t', { apply: () => 1, queue: 'a b' }), /task "t": queue expected a name/],
    ['requires that is not an array', () => task('t', { apply: () => 1, requires: 'x' as never }), /task "t": requires expected an array of names, got "x"/],
    ['a required name that is not a name', () => task('t', { apply: () => 1, requires: ['ok', 'not ok'] as never }), /task "t": requires\[1\] expected a name .* got "not ok"/],
    ['a duplicated required name', () => task('t', { apply: () => 1, requires: ['x', 'x'] as never }), /task "t": requires names "x" twice/],
    ['an optional input also required', () => task('t', { apply: () => 1, requires: ['x'] as never, optional: ['x'] as never }), /task "t": "x" is both required and optional/],
    ['a provided name that is not a name', () => task('t', { apply: () => 1, provides: [''] }), /task "t": provides\[0\] expected a name/],
  ])('rejects %s with a ConfigError naming the task and the field', (_what, fn, message) => {
    expect(configError(fn)).toMatch(message);
  });
});

describe('nodes', () => {
  it('take the task name as id by default, or the id given', () => {
    expect(add.s({ x: 1 }).id).toBe('add');
    expect(add.s({ x: 1 }, { id: 'add2' }).id).toBe('add2');
    expect(event('server.created').id).toBe('server.created');
    expect(event('server.created', { id: 'created' }).id).toBe('created');
  });

  it('encode their bound inputs and take node overrides of retry, timeout and queue', () => {
    const def = add.s({ x: 1, y: 2 }, { retry: 2, timeoutMs: 50, queue: 'fast', persistent: true }).definition();
    expect(def).toMatchObject({ id: 'add', kind: 'task', name: 'add', bound: { x: 1, y: 2 }, persistent: true, timeoutMs: 50, queue: 'fast' });
    expect(def.retry).toEqual({ ...DEFAULT_RETRY, limit: 2 });
    expect(def.rollback).toBe(false);
    expect(task('r', { apply: () => 1, rollback: () => undefined }).s().definition().rollback).toBe(true);
  });

  it.each([
    ['a bad id', () => add.s({}, { id: 'a/b' }), /node of task "add": id expected a name .* got "a\/b"/],
    ['a bad retry override', () => add.s({}, { id: 'n', retry: -2 }), /node "n": retry.limit expected an integer/],
    ['a negative timeout override', () => add.s({}, { id: 'n', timeoutMs: -5 }), /node "n": timeoutMs expected a number from 0 and up, got -5/],
    ['a bad queue override', () => add.s({}, { id: 'n', queue: '' }), /node "n": queue expected a name/],
    ['a bad event name', () => event('no spaces'), /event name expected a name/],
  ])('reject %s with a ConfigError', (_what, fn, message) => {
    expect(configError(fn)).toMatch(message);
  });

  it('reject bound values that cannot be encoded, naming the node', () => {
    expect(() => add.s({ x: (() => 1) as never }, { id: 'n' })).toThrow(/bound inputs of node "n"/);
  });
});

describe('flow()', () => {
  it('links the seed: add -> mult, mult listening to add', () => {
    const flo = flow('My-distributed-flow');
    flo.link(add.s({ x: 1, y: 2 }), mult.s({ y: 3 }));
    const def = flo.definition();
    expect(def.name).toBe('My-distributed-flow');
    expect(def.onFailure).toBe('halt');
    expect(def.nodes.map((n) => n.id)).toEqual(['add', 'mult']);
    expect(def.links).toEqual([{ from: 'add', to: 'mult', map: {}, inferred: false }]);
    expect(flo.tasks().map((t) => t.name)).toEqual(['add', 'mult']);
  });

  it('keeps a link map (listener input -> provided name)', () => {
    const server = unit('kickServer');
    const install = unit('installWordpress', { requires: ['address'] });
    const def = flow('wp').link(server.s(), install.s(), { map: { address: 'kickServer' } }).definition();
    expect(def.links).toEqual([{ from: 'kickServer', to: 'installWordpress', map: { address: 'kickServer' }, inferred: false }]);
  });

  it('rejects a map whose values are not names', () => {
    expect(configError(() => flow('f').link(add.s(), mult.s(), { map: { add: 3 as never } }))).toMatch(/link "add" -> "mult": map.add expected a string, got number/);
  });

  it('rejects a bad flow name or failure policy', () => {
    expect(configError(() => flow(''))).toMatch(/flow name expected a name/);
    expect(configError(() => flow('f', { onFailure: 'explode' as never }))).toMatch(/flow "f": onFailure expected "halt" or "rollback", got "explode"/);
  });

  it('infers links from provides/requires names', () => {
    const def = flow('f').add(add.s({ x: 1, y: 2 }), mult.s({ y: 3 })).definition();
    expect(def.links).toEqual([{ from: 'add', to: 'mult', map: {}, inferred: true }]);
  });

  it('infers nothing for bound inputs, and infers for inputs provided by multi-name tasks', () => {
    const pair = unit('pair', { provides: ['a', 'b'] });
    const useA = unit('useA', { requires: ['a'] });
    const useB = unit('useB', { requires: ['b'] });
    const def = flow('f').add(pair.s(), useA.s(), useB.s({ b: 1 })).definition();
    expect(edges(def.links)).toEqual(['pair->useA (inferred)']);
  });

  it('infers links for optional inputs like required ones, unless bound', () => {
    const tip = task('tip', { provides: 'hint', apply: () => 'x' });
    const reader = task('reader', { optional: ['hint'], apply: () => 1 });
    expect(edges(flow('f').add(reader.s(), tip.s()).definition().links)).toEqual(['tip->reader (inferred)']);
    expect(edges(flow('f').add(reader.s({ hint: 'given' }), tip.s()).definition().links)).toEqual([]);
  });

  it('mixes explicit and inferred links, never doubling an explicit one', () => {
    const a = unit('a');
    const b = unit('b');
    const c = unit('c', { requires: ['a', 'b'] });
    const orderOnly = unit('d');
    const cNode = c.s();
    const flo = flow('f').link(a.s(), cNode).add(b.s()).link(orderOnly.s(), cNode);
    // The same node object is included once even when used twice.
    expect(flo.nodes.map((n) => n.id)).toEqual(['a', 'c', 'b', 'd']);
    const def = flo.definition();
    expect(edges(def.links)).toEqual(['a->c', 'd->c', 'b->c (inferred)']);
  });

  it('does not infer an input that an explicit link feeds through its map', () => {
    const other = unit('other');
    const a = unit('a');
    const c = unit('c', { requires: ['a'] });
    const def = flow('f').add(a.s()).link(other.s(), c.s(), { map: { a: 'other' } }).definition();
    expect(edges(def.links)).toEqual(['other->c']);
  });

  it('links every provider of a name, leaving the duplicate to validation', () => {
    const a1 = unit('x1', { provides: ['a'] });
    const a2 = unit('x2', { provides: ['a'] });
    const c = unit('c', { requires: ['a'] });
    expect(edges(flow('f').add(a1.s(), a2.s(), c.s()).definition().links)).toEqual(['x1->c (inferred)', 'x2->c (inferred)']);
  });

  it('is plain JSON: a JSON round trip gives the same definition', () => {
    const created = event('server.created', { provides: ['ip'] });
    const open = event('anything');
    const lb = unit('lb', { requires: ['ip'] });
    const flo = flow('f', { onFailure: 'rollback' })
      .link(add.s({ x: 1, y: 2 }, { retry: { limit: 2, jitter: 0 } }), mult.s({ y: 3 }, { timeoutMs: 10 }))
      .link(created, lb.s({}, { persistent: true }))
      .add(open);
    const def: FlowDefinition = flo.definition();
    const text = JSON.stringify(flo);
    expect(JSON.parse(text)).toEqual(def);
    expect(JSON.parse(JSON.stringify(def))).toEqual(def);
    expect(text).not.toContain('apply');
    // Definitions are fresh copies: changing one does not change the flow.
    def.nodes[0]?.requires.push('z');
    expect(flo.definition().nodes[0]?.requires).toEqual(['x', 'y']);
  });
});
