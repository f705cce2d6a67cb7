/**
 * Subflow scopes in the engine, case by case (the property test covers the
 * general rules): live changes that name scopes, and changes refused while a
 * scope compensates.
 */
import { describe, expect, it } from 'vitest';
import type { NodeDefinition } from '../../src/model/definition.js';
import { flow } from '../../src/model/flow.js';
import { task } from '../../src/model/task.js';
import { Harness, expectRefusedWithoutTrace, fatal } from './harness.js';

const undoable = { apply: () => 0, rollback: () => undefined };

/** `p`, then subflow `s` (a -> b, policy rollback, one scope retry). */
function scoped(): Harness {
  const inner = flow('inner', { onFailure: 'rollback' }).link(task('a', undoable).s(), task('b', undoable).s());
  return new Harness(flow('outer').link(task('p', undoable).s(), inner.s({}, { id: 's', retry: 1 })));
}

const definitionOf = (h: Harness, id: string): NodeDefinition => h.node(id).def;

describe('subflow scopes', () => {
  it('refuses a node added into a scope the run does not have, or with a "/" id and no scope', () => {
    const h = scoped();
    h.start();
    expectRefusedWithoutTrace(h, { op: 'add', node: { ...definitionOf(h, 's/a'), id: 'x/c', scope: 'x' } });
    expectRefusedWithoutTrace(h, { op: 'add', node: { ...definitionOf(h, 'p'), id: 's/c' } });
    expectRefusedWithoutTrace(h, { op: 'add', node: { ...definitionOf(h, 's/a'), id: 'c', scope: 's' } });
  });

  it('takes a node added into a scope as one of its members: compensated and run again with it', () => {
    const h = scoped();
    h.start();
    h.succeed('p', 1);
    h.change({ op: 'add', node: { ...definitionOf(h, 's/a'), id: 's/c', name: 'c' }, sources: [{ node: 's/a' }] });
    h.succeed('s/a', 1);
    h.succeed('s/c', 3);
    h.fail('s/b', fatal);
    // b's own rollback, then the scope compensates c and a, latest completion first, one at a time.
    for (const id of ['s/b', 's/c', 's/a']) {
      expect(h.dispatched('rollback').at(-1)).toBe(id);
      h.rolledBack(id);
    }
    expect(h.entries('scope.retrying')).toHaveLength(1);
    expect(h.node('s/c').status).toBe('waiting');
    expect(h.node('s/a').status).toBe('running');
  });

  it('refuses to retry a node of a scope while the scope compensates', () => {
    const h = scoped();
    h.start();
    h.succeed('p', 1);
    h.succeed('s/a', 1);
    h.fail('s/b', fatal);
    expect(h.live.state.scopes?.['s']?.compensating).toBe(true);
    expectRefusedWithoutTrace(h, { op: 'retry', node: 's/b' });
  });
});
