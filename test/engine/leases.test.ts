/**
 * Leases of long executions, at the engine: a heartbeat records a lease and
 * schedules its end; an end with no newer heartbeat or outcome dispatches the
 * same attempt again (whatever the stepping clock says); a late end after a
 * renewal or an outcome changes nothing.
 */
import { describe, expect, it } from 'vitest';
import type { Command } from '../../src/engine/events.js';
import { flow } from '../../src/model/flow.js';
import { task } from '../../src/model/task.js';
import { Harness } from './harness.js';

const long = task('long', { apply: () => 1 });
const schedules = (commands: Command[]) => commands.filter((c) => c.type === 'schedule');

function started(): Harness {
  const h = new Harness(flow('leased').add(long.s()));
  h.start();
  return h;
}

describe('leases', () => {
  it('a heartbeat records the lease and schedules its end', () => {
    const h = started();
    const out = h.send({ type: 'task.heartbeat', node: 'long', attempt: 1, leaseMs: 300 });
    expect(h.node('long').leaseUntil).toBe(1300);
    expect([...out.nodes]).toEqual(['long']);
    expect(schedules(out.commands)).toEqual([{ type: 'schedule', runId: 'run-1', node: 'long', attempt: 1, dueAt: 1300, lease: true }]);
  });

  it('an ended lease dispatches the same attempt again, once', () => {
    const h = started();
    h.send({ type: 'task.heartbeat', node: 'long', attempt: 1, leaseMs: 300 });
    h.now = 1300;
    const out = h.send({ type: 'lease.due', node: 'long', attempt: 1, leaseUntil: 1300 });
    expect(out.commands.filter((c) => c.type === 'dispatch')).toEqual([expect.objectContaining({ node: 'long', attempt: 1, kind: 'apply' })]);
    expect(h.entries('node.queued').at(-1)?.detail).toEqual({ reason: 'lease expired' });
    expect(h.send({ type: 'lease.due', node: 'long', attempt: 1, leaseUntil: 1300 }).commands).toEqual([]);
  });

  it('an end found due by a clock ahead of the step\'s still dispatches again', () => {
    const h = started();
    h.send({ type: 'task.heartbeat', node: 'long', attempt: 1, leaseMs: 300 });
    h.now = 1250; // the poller's clock (the store's) is 50 ms ahead of the stepping coordinator's
    const out = h.send({ type: 'lease.due', node: 'long', attempt: 1, leaseUntil: 1300 });
    expect(out.commands.filter((c) => c.type === 'dispatch')).toEqual([expect.objectContaining({ node: 'long', attempt: 1 })]);
  });

  it('a renewed lease, or an outcome, makes the earlier end a no-op', () => {
    const h = started();
    h.send({ type: 'task.heartbeat', node: 'long', attempt: 1, leaseMs: 300 });
    h.now = 1200;
    h.send({ type: 'task.heartbeat', node: 'long', attempt: 1, leaseMs: 300 });
    h.now = 1300;
    expect(h.send({ type: 'lease.due', node: 'long', attempt: 1, leaseUntil: 1300 }).commands).toEqual([]);
    h.succeed('long', 1);
    h.now = 1500;
    expect(h.send({ type: 'lease.due', node: 'long', attempt: 1, leaseUntil: 1300 }).commands).toEqual([]);
    expect(h.status).toBe('succeeded');
  });

  it('a heartbeat for an attempt that is not running changes nothing', () => {
    const h = started();
    const out = h.send({ type: 'task.heartbeat', node: 'long', attempt: 2, leaseMs: 300 });
    expect(out.commands).toEqual([]);
    expect(h.node('long').leaseUntil).toBeUndefined();
  });
});
