/**
 * A step output's rarely written collections start as shared empty ones and
 * are replaced on the first write (`written`): outputs never share what one of
 * them recorded, and a write that bypasses `written` throws instead of
 * recording into every output.
 */
import { describe, expect, it } from 'vitest';
import { emptyOutput, written } from '../../src/engine/step-context.js';

describe('step output', () => {
  it('gives each output its own collection on the first write, and keeps it', () => {
    const a = emptyOutput();
    const b = emptyOutput();
    written(a, 'removed').add('x');
    written(a, 'drained').add('y');
    written(a, 'backlog').set('p', []);
    const activations = written(a, 'activations');
    expect(written(a, 'activations')).toBe(activations);
    expect([...a.removed, ...a.drained, ...a.backlog.keys()]).toEqual(['x', 'y', 'p']);
    expect([b.removed.size, b.drained.size, b.backlog.size, b.activations.size]).toEqual([0, 0, 0, 0]);
    expect([...emptyOutput().removed]).toEqual([]);
  });

  it('refuses a write to a shared empty collection', () => {
    const out = emptyOutput();
    expect(() => out.removed.add('x')).toThrow(/written\(\)/);
    expect(() => out.activations.set('k', { node: 'n', seq: 1, from: 's', status: 'running', attempt: 1, inputs: {}, startedAt: 0 })).toThrow(/written\(\)/);
    expect(emptyOutput().removed.size).toBe(0);
  });
});
