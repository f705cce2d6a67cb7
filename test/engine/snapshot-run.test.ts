/**
 * `snapshotRun`: the one-level copy the coordinator keeps of a new run until its
 * first commit is known to be written. Stepping the original, in every way the
 * engine changes a run (dispatches, results, retries, notifications into a
 * persistent listener's backlog, held activations, changes, a saga), must leave
 * every copy taken on the way exactly as a deep clone taken at the same moment.
 */
import { describe, expect, it } from 'vitest';
import { snapshotRun } from '../../src/engine/create.js';
import type { RunState } from '../../src/engine/state.js';
import { flow } from '../../src/model/flow.js';
import { event } from '../../src/model/node.js';
import { task } from '../../src/model/task.js';
import { fatal, Harness, oops } from './harness.js';

const unit = (name: string, requires: string[] = [], retry = 0) => task(name, { requires, retry, apply: () => name, rollback: () => undefined });

/** Copies taken after each step, beside deep clones of the same moment. */
class Copies {
  private readonly taken: { copy: RunState; clone: RunState }[] = [];
  constructor(private readonly h: Harness) {
    this.take();
  }
  take(): void {
    this.taken.push({ copy: snapshotRun(this.h.live.state), clone: structuredClone(this.h.live.state) });
  }
  expectUnchanged(): void {
    for (const { copy, clone } of this.taken) expect(copy).toEqual(clone);
  }
}

describe('snapshotRun', () => {
  it('is not changed by stepping the run: dispatches, results, retries, a backlog, held results and changes', () => {
    const collect = unit('collect', ['ip', 'zone']).s({}, { persistent: true });
    const zone = unit('zone').s({}, { id: 'zone' });
    const after = unit('after', ['collect']).s({}, { id: 'after' });
    const h = new Harness(flow('snap').link(event('server.created', { provides: ['ip'] }), collect).link(zone, collect).link(collect, after));
    const copies = new Copies(h);
    const step = (fn: () => unknown): void => {
      fn();
      copies.take();
    };
    step(() => h.start());
    step(() => h.notify('server.created', { ip: 'a' })); // waits in the backlog for zone
    step(() => h.notify('server.created', { ip: 'b' }));
    step(() => h.fail('zone', oops));
    step(() => h.retryDue('zone'));
    step(() => h.succeed('zone', 'eu'));
    const activations = h.dispatches().filter((d) => d.node === 'collect' && d.activation !== undefined);
    const [first, second] = activations.map((d) => d.activation as number) as [number, number];
    // The second finishes first: held until the first has finished.
    step(() => h.send({ type: 'task.succeeded', node: 'collect', attempt: 1, activation: second, result: 'B' }));
    step(() => h.send({ type: 'task.succeeded', node: 'collect', attempt: 1, activation: first, result: 'A' }));
    step(() => h.change({ op: 'replace', node: 'after', with: { name: 'after2' } }));
    step(() => h.change({ op: 'add', node: unit('extra').s({}, { id: 'extra' }).definition(), sources: [{ node: 'zone' }] }));
    step(() => h.succeed('extra', 'x'));
    copies.expectUnchanged();
  });

  it('is not changed by a saga', () => {
    const a = unit('a').s({}, { id: 'a' });
    const b = unit('b').s({}, { id: 'b' });
    const h = new Harness(flow('saga', { onFailure: 'rollback' }).link(a, b));
    const copies = new Copies(h);
    for (const fn of [() => h.start(), () => h.succeed('a', 1), () => h.fail('b', fatal)]) {
      fn();
      copies.take();
    }
    for (let done = 0; done < h.dispatched('rollback').length; done++) {
      h.rolledBack(h.dispatched('rollback')[done] as string);
      copies.take();
    }
    expect(h.status).toBe('rolled_back');
    copies.expectUnchanged();
  });
});
