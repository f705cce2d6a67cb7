/**
 * Conditional links as data: a flow definition with conditions (a subflow's
 * included) and the `condition` change survive a JSON round trip through the
 * codec; a malformed condition is refused naming the field.
 */
import { describe, expect, it } from 'vitest';
import { decodeChange, decodeFlowDefinition } from '../../src/codec/definitions.js';
import { condition, flow, task } from '../../src/index.js';

const a = task('rt-a', { apply: () => 1 });
const b = task('rt-b', { provides: ['ok', 'n'], apply: () => ({ ok: true, n: 2 }) });
const c = task('rt-c', { apply: () => 3 });
const yes = condition('rt-yes', () => true);

describe('codec: conditional links', () => {
  it('a flow definition with conditions round-trips through JSON, subflows flattened with their conditions', () => {
    const [bNode, cNode] = [b.s(), c.s()];
    const inner = flow('rt-inner').link(bNode, cNode, { when: yes, on: 'ok', depth: 'node' });
    const sub = inner.s({}, { id: 'sub' });
    const outer = flow('rt-outer').link(a.s(), sub, { when: yes });
    const definition = outer.definition();
    expect(definition.links).toEqual([
      { from: 'sub/rt-b', to: 'sub/rt-c', map: {}, inferred: false, condition: { name: 'rt-yes', on: 'ok', depth: 'node' } },
      { from: 'rt-a', to: 'sub/rt-b', map: {}, inferred: false, condition: { name: 'rt-yes', depth: 'downstream' } },
    ]);
    expect(decodeFlowDefinition(JSON.parse(JSON.stringify(outer)))).toEqual(definition);
    expect(outer.conditions()).toEqual([yes]);
  });

  it('refuses a malformed condition, naming the field', () => {
    const link = { from: 'x', to: 'y', map: {}, inferred: false };
    const raw = (condition: unknown) => ({ name: 'f', nodes: [], links: [{ ...link, condition }], onFailure: 'halt' });
    expect(() => decodeFlowDefinition(raw({ name: 'c', depth: 'all' }))).toThrow(/links\[0\]\.condition\.depth/);
    expect(() => decodeFlowDefinition(raw({ name: '__proto__', depth: 'node' }))).toThrow(/links\[0\]\.condition\.name/);
    expect(() => decodeFlowDefinition(raw({ depth: 'node' }))).toThrow(/links\[0\]\.condition\.name/);
  });

  it('the condition change round-trips, null removing it', () => {
    const set = { op: 'condition', from: 'x', to: 'y', condition: { name: 'c', on: 'v', depth: 'node' } };
    expect(decodeChange(JSON.parse(JSON.stringify(set)))).toEqual(set);
    const removed = { op: 'condition', from: 'x', to: 'y', condition: null };
    expect(decodeChange(removed)).toEqual(removed);
    expect(() => decodeChange({ op: 'condition', from: 'x', to: 'y' })).toThrow(/condition/);
  });
});
