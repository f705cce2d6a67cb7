/**
 * Flow-control gates at the engine: a node whose task has a limit or a rate
 * does not start when it could; it waits throttled (not running) until
 * admitted, and gives its permit (or its place in line) back however its
 * attempt ends. Admissions that find nothing to admit give the permit back;
 * the same admission twice changes nothing.
 */
import { describe, expect, it } from 'vitest';
import type { Command, GateCommand } from '../../src/engine/events.js';
import { recordInternalError } from '../../src/engine/internal-error.js';
import { emptyOutput } from '../../src/engine/step-context.js';
import { flow } from '../../src/model/flow.js';
import { task } from '../../src/model/task.js';
import { fatal, Harness, oops } from './harness.js';

const limited = task('limited', { requires: ['customer'], limit: { concurrency: 1, key: 'customer' }, retry: 1, apply: () => 1 });
const after = task('after', { requires: ['limited'], apply: () => 2 });
const gates = (commands: Command[]): Omit<GateCommand, 'runId' | 'type'>[] =>
  commands.filter((c): c is GateCommand => c.type === 'gate').map(({ type: _t, runId: _r, ...rest }) => rest);
const dispatches = (commands: Command[]) => commands.filter((c) => c.type === 'dispatch');
const GATE = 'limited:customer="ann"';

function throttled(): Harness {
  const h = new Harness(flow('gated').link(limited.s({ customer: 'ann' }), after.s()));
  const out = h.start();
  expect(dispatches(out.commands)).toEqual([]);
  expect(gates(out.commands)).toEqual([{ op: 'wait', node: 'limited', attempt: 1, gate: GATE, concurrency: 1, priority: 1 }]);
  return h;
}

const admit = (h: Harness, attempt = 1) => h.send({ type: 'gate.admitted', gate: GATE, admittedAt: h.now, node: 'limited', attempt });

describe('flow-control gates', () => {
  it('holds a node throttled, waiting and not running, until admitted; the run is running, not stalled', () => {
    const h = throttled();
    expect(h.node('limited')).toMatchObject({ status: 'waiting', throttled: GATE, attempt: 0 });
    expect(h.live.state.status).toBe('running');
    expect(h.entries('node.throttled')).toEqual([expect.objectContaining({ node: 'limited', attempt: 1, detail: { gate: GATE } })]);
    const out = admit(h);
    expect(dispatches(out.commands)).toEqual([expect.objectContaining({ node: 'limited', attempt: 1, inputs: { customer: 'ann' } })]);
    expect(h.node('limited')).toMatchObject({ status: 'running', gate: GATE, attempt: 1 });
    expect(h.node('limited').throttled).toBeUndefined();
  });

  it('gives the permit back when the attempt ends, and waits again for a retry', () => {
    const h = throttled();
    admit(h);
    const failed = h.fail('limited', oops);
    expect(gates(failed.commands)).toEqual([{ op: 'release', node: 'limited', attempt: 1, gate: GATE }]);
    const retry = h.retryDue('limited');
    expect(dispatches(retry.commands)).toEqual([]);
    expect(gates(retry.commands)).toEqual([expect.objectContaining({ op: 'wait', attempt: 2 })]);
    admit(h, 2);
    const done = h.succeed('limited', 1);
    expect(gates(done.commands)).toEqual([{ op: 'release', node: 'limited', attempt: 2, gate: GATE }]);
    expect(dispatches(done.commands)).toEqual([expect.objectContaining({ node: 'after' })]);
  });

  it('gives the permit back on a failure for good and on a cancel', () => {
    const h = throttled();
    admit(h);
    expect(gates(h.fail('limited', fatal).commands)).toEqual([{ op: 'release', node: 'limited', attempt: 1, gate: GATE }]);
    const other = throttled();
    admit(other);
    expect(gates(other.send({ type: 'change', actor: 't', change: { op: 'cancel' } }).commands)).toEqual([{ op: 'release', node: 'limited', attempt: 1, gate: GATE }]);
  });

  it('gives the place in line back when a throttled node is cancelled, skipped or removed; a late admission gives its permit back', () => {
    const cancelled = throttled();
    expect(gates(cancelled.send({ type: 'change', actor: 't', change: { op: 'cancel' } }).commands)).toEqual([{ op: 'release', node: 'limited', attempt: 1, gate: GATE }]);
    expect(gates(admit(cancelled).commands)).toEqual([{ op: 'release', node: 'limited', attempt: 1, gate: GATE }]);
    expect(cancelled.node('limited').status).toBe('cancelled');
    const skipped = throttled();
    expect(gates(skipped.send({ type: 'change', actor: 't', change: { op: 'skip', node: 'limited', result: 0 } }).commands)).toEqual([{ op: 'release', node: 'limited', attempt: 1, gate: GATE }]);
    const removed = throttled();
    const removal = { type: 'change', actor: 't', changes: [{ op: 'remove', node: 'after' }, { op: 'remove', node: 'limited' }] } as const;
    expect(gates(removed.send(removal).commands)).toEqual([{ op: 'release', node: 'limited', attempt: 1, gate: GATE }]);
  });

  it('ignores the same admission twice', () => {
    const h = throttled();
    admit(h);
    const again = admit(h);
    expect(again.commands).toEqual([]);
    expect(again.history).toEqual([]);
    expect(h.node('limited').gate).toBe(GATE);
  });

  it('asks again at a resume, without a second throttled entry', () => {
    const h = throttled();
    const out = h.send({ type: 'resume' });
    expect(gates(out.commands)).toEqual([expect.objectContaining({ op: 'wait', node: 'limited', attempt: 1 })]);
    expect(h.entries('node.throttled')).toHaveLength(1);
  });
});

describe('flow-control gates and engine errors', () => {
  it('an engine error failing a running gated node gives its permit back', () => {
    const h = throttled();
    admit(h);
    const out = emptyOutput();
    const failed = recordInternalError(h.live, { type: 'task.succeeded', node: 'limited', attempt: 1, result: 1 }, new Error('engine bug'), h.now, out);
    expect(failed).toBe(true);
    expect(h.node('limited')).toMatchObject({ status: 'failed' });
    expect(h.node('limited').gate).toBeUndefined();
    expect(gates(out.commands)).toEqual([{ op: 'release', node: 'limited', attempt: 1, gate: GATE }]);
  });
});
