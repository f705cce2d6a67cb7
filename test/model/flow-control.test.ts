/**
 * Flow-control options: a task's `limit` and `rate`, a node's `priority`,
 * checked where they are given (the error names the task or node and the
 * field), carried in the node's definition as data, and checked again when a
 * definition arrives as JSON.
 */
import { describe, expect, it } from 'vitest';
import { decodeFlowDefinition } from '../../src/codec/definitions.js';
import { flow, task, type ConcurrencyLimit, type Priority, type RateLimit } from '../../src/index.js';

const apply = (): number => 1;
const loose = <T>(value: unknown): T => value as T;

function refusal(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected a refusal');
}

describe('flow-control options', () => {
  it('refuses a bad limit, naming the task and the field', () => {
    expect(refusal(() => task('fo-a', { apply, limit: { concurrency: 0 } }))).toMatchObject({ code: 'TW_CONFIG', message: 'task "fo-a": limit.concurrency expected an integer from 1, got 0' });
    expect(refusal(() => task('fo-b', { apply, limit: { concurrency: 1.5 } })).message).toContain('limit.concurrency');
    expect(refusal(() => task('fo-c', { apply, requires: ['x'], limit: { concurrency: 1, key: 'customer' } })).message).toBe('task "fo-c": limit.key "customer" is not one of its inputs (requires or optional)');
    expect(refusal(() => task('fo-d', { apply, limit: loose<ConcurrencyLimit>({ concurrency: 1, keys: 'x' }) })).message).toContain('task "fo-d": limit: unknown option "keys"; did you mean "key"?');
    expect(refusal(() => task('fo-e', { apply, limit: loose<ConcurrencyLimit>(5) })).message).toContain('task "fo-e": limit expected an object');
  });

  it('refuses a bad rate, naming the task and the field', () => {
    expect(refusal(() => task('fo-f', { apply, rate: { count: 0, perMs: 1000 } })).message).toBe('task "fo-f": rate.count expected an integer from 1, got 0');
    expect(refusal(() => task('fo-g', { apply, rate: { count: 1, perMs: -1 } })).message).toBe('task "fo-g": rate.perMs expected an integer number of ms from 1, got -1');
    expect(refusal(() => task('fo-h', { apply, rate: loose<RateLimit>({ count: 1, per: 10 }) })).message).toContain('task "fo-h": rate: unknown option "per"');
  });

  it('refuses a bad priority, naming the node', () => {
    const t = task('fo-i', { apply });
    expect(refusal(() => t.s({}, { priority: loose<Priority>('urgent') })).message).toBe('node "fo-i": priority expected one of "high", "normal", "low", got "urgent"');
  });

  it('carries limit, rate and priority in the node definition, and decodes them from JSON', () => {
    const charge = task('fo-charge', { requires: ['customer'], apply, limit: { concurrency: 5, key: 'customer' }, rate: { count: 10, perMs: 1000 } });
    const definition = flow('fo-flow').add(charge.s({}, { priority: 'high' })).definition();
    expect(definition.nodes[0]).toMatchObject({ limit: { concurrency: 5, key: 'customer' }, rate: { count: 10, perMs: 1000 }, priority: 'high' });
    expect(decodeFlowDefinition(JSON.parse(JSON.stringify(definition))).nodes[0]).toMatchObject({ limit: { concurrency: 5, key: 'customer' }, priority: 'high' });
    const bad = JSON.parse(JSON.stringify(definition)) as { nodes: { limit: unknown }[] };
    (bad.nodes[0] as { limit: unknown }).limit = { concurrency: 0 };
    expect(refusal(() => decodeFlowDefinition(bad)).message).toContain('limit.concurrency');
    const plain = flow('fo-plain').add(task('fo-plain', { apply }).s()).definition();
    expect(plain.nodes[0]).not.toHaveProperty('limit');
    expect(plain.nodes[0]).not.toHaveProperty('priority');
  });
});
