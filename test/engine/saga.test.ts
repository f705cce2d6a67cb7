/**
 * Rollbacks and the saga (failure policy `rollback`): runs with nothing to
 * undo, undo state across retries, persistent listeners' activations, live
 * edits during a saga, and failed compensations.
 */
import { describe, expect, it } from 'vitest';
import { flow } from '../../src/model/flow.js';
import { event } from '../../src/model/node.js';
import { task } from '../../src/model/task.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { fatal, Harness } from './harness.js';

/** A task providing its name; with `rollback`, it has one. Its code never runs here. */
const unit = (name: string, spec: { requires?: string[]; rollback?: boolean; retry?: number } = {}) =>
  task(name, { requires: spec.requires ?? [], retry: spec.retry ?? 0, apply: () => name, ...(spec.rollback ? { rollback: () => undefined } : {}) });

describe('a saga with nothing to undo', () => {
  it('a failed node and completed nodes without rollback: the run ends rolled_back at once', () => {
    const h = new Harness(flow('f', { onFailure: 'rollback' }).link(unit('a').s(), unit('b').s()));
    h.start();
    h.succeed('a', 1);
    h.fail('b', fatal);
    expect(h.status).toBe('rolled_back');
    expect(h.commands.filter((c) => c.type === 'finished')).toEqual([{ type: 'finished', runId: 'run-1', status: 'rolled_back' }]);
    expect(h.dispatched('rollback')).toEqual([]);
  });

  it('while stopping: the run ends rolled_back', () => {
    const h = new Harness(flow('f', { onFailure: 'rollback' }).add(unit('a').s()));
    h.start();
    h.change({ op: 'stop' });
    expect(h.status).toBe('stopping');
    h.fail('a', fatal);
    expect(h.status).toBe('rolled_back');
  });
});

describe('undo state across attempts', () => {
  it('a node retried (or replaced) after its rollback fails again: its rollback runs again', () => {
    const h = new Harness(flow('f').add(unit('a', { rollback: true }).s()));
    h.start();
    h.fail('a', fatal);
    h.send({ type: 'rollback.succeeded', node: 'a', attempt: 1 });
    expect(h.node('a')).toMatchObject({ status: 'failed', undo: 'done' });
    h.change({ op: 'retry', node: 'a' });
    expect(h.node('a').undo).toBeUndefined();
    h.fail('a', fatal);
    expect(h.dispatches('rollback')).toMatchObject([{ node: 'a', attempt: 1 }, { node: 'a', attempt: 2 }]);
    expect(h.status).toBe('running');
    h.send({ type: 'rollback.failed', node: 'a', attempt: 2, error: fatal });
    expect(h.node('a')).toMatchObject({ status: 'failed', undo: 'failed', undoError: fatal });
    h.change({ op: 'replace', node: 'a', with: { bound: { again: true } } });
    expect(h.node('a').undo).toBeUndefined();
    expect(h.node('a').undoError).toBeUndefined();
    h.fail('a', fatal);
    h.send({ type: 'rollback.succeeded', node: 'a', attempt: 3 });
    expect(h.node('a')).toMatchObject({ status: 'failed', undo: 'done', attempt: 3 });
    expect(h.status).toBe('failed');
  });

  it('a late rollback signal of an earlier attempt does not settle the current rollback', () => {
    const h = new Harness(flow('f').add(unit('a', { rollback: true }).s()));
    h.start();
    h.fail('a', fatal);
    h.send({ type: 'rollback.succeeded', node: 'a', attempt: 1 });
    h.change({ op: 'retry', node: 'a' });
    h.fail('a', fatal);
    expect(h.send({ type: 'rollback.succeeded', node: 'a', attempt: 1 }).history).toEqual([]);
    expect(h.node('a').undo).toBe('running');
  });

  it('retry and replace are refused while the node\'s rollback runs', () => {
    const h = new Harness(flow('f').add(unit('a', { rollback: true }).s()));
    h.start();
    h.fail('a', fatal);
    expect(() => h.change({ op: 'retry', node: 'a' })).toThrow(/rollback of node "a" is running/);
    expect(() => h.change({ op: 'replace', node: 'a', with: {} })).toThrow(/rollback of node "a" is running/);
  });

  it('skip is refused while the node\'s rollback runs; it is accepted once the rollback is done', () => {
    const h = new Harness(flow('f').link(unit('a', { rollback: true }).s(), unit('b').s()));
    h.start();
    h.fail('a', fatal);
    expect(() => h.change({ op: 'skip', node: 'a', result: 1 })).toThrow(/rollback of node "a" is running/);
    expect(h.node('a')).toMatchObject({ status: 'failed', undo: 'running' });
    h.send({ type: 'rollback.succeeded', node: 'a', attempt: 1 });
    h.change({ op: 'skip', node: 'a', result: 1 });
    expect(h.node('a').status).toBe('skipped');
  });

  it('cancel is refused while a rollback runs (the run would be final with its rollback unfinished); accepted once it is done', () => {
    const h = new Harness(flow('f').add(unit('a', { rollback: true }).s()).add(unit('b').s()));
    h.start();
    h.fail('a', fatal);
    expect(() => h.change({ op: 'cancel' })).toThrow(/rollback of node "a" is running/);
    expect(h.status).toBe('running');
    h.send({ type: 'rollback.succeeded', node: 'a', attempt: 1 });
    h.change({ op: 'cancel' });
    expect(h.status).toBe('cancelled');
  });
});

describe('a failed compensation: rollback_failed', () => {
  it('the saga runs every compensation, then ends rollback_failed, keeping each error', () => {
    const n = (id: string) => unit(id, { rollback: true }).s();
    const h = new Harness(flow('f', { onFailure: 'rollback' }).link(n('a'), n('b')).link(n('b'), n('c')));
    h.start();
    h.succeed('a', 1);
    h.succeed('b', 2);
    h.fail('c', fatal);
    const first = { name: 'Error', message: 'cannot undo c', retryable: true };
    const second = { name: 'Error', message: 'cannot undo b', retryable: true };
    h.rolledBack('c', first);
    h.rolledBack('b', second);
    expect(h.status).toBe('rolling_back');
    h.rolledBack('a');
    expect(h.dispatched('rollback')).toEqual(['c', 'b', 'a']);
    expect(h.status).toBe('rollback_failed');
    expect(h.commands.filter((c) => c.type === 'finished')).toEqual([{ type: 'finished', runId: 'run-1', status: 'rollback_failed' }]);
    expect(h.node('c')).toMatchObject({ undo: 'failed', undoError: first });
    expect(h.node('b')).toMatchObject({ undo: 'failed', undoError: second });
    expect(h.entries('rollback.failed').map((e) => e.node)).toEqual(['c', 'b']);
    expect(() => h.change({ op: 'add', node: unit('late').s().definition() })).toThrow(/rollback_failed: it cannot be changed/);
  });

  it('a clean saga still ends rolled_back', () => {
    const h = new Harness(flow('f', { onFailure: 'rollback' }).link(unit('a', { rollback: true }).s(), unit('b').s()));
    h.start();
    h.succeed('a', 1);
    h.fail('b', fatal);
    h.rolledBack('a');
    expect(h.status).toBe('rolled_back');
  });
});

describe('the saga and persistent listeners', () => {
  /** server.created -> register (persistent, with a rollback); `book` (with a rollback) and `doomed` are roots. */
  function listenerSaga(): Harness {
    const register = unit('register', { requires: ['ip'], rollback: true }).s({}, { persistent: true });
    const h = new Harness(
      flow('f', { onFailure: 'rollback' })
        .link(event('server.created', { provides: ['ip'] }), register)
        .add(unit('book', { rollback: true }).s(), unit('doomed').s()),
    );
    h.start();
    return h;
  }

  /** The fixture with `book` done, then one completed activation (ip a, result ra): its seq. */
  function oneActivation(h: Harness): number {
    h.succeed('book', 'booked');
    h.notify('server.created', { ip: 'a' });
    const [s1] = activationSeqs(h) as [number];
    h.send({ type: 'task.succeeded', node: 'register', attempt: 1, activation: s1, result: 'ra' });
    return s1;
  }

  const activationSeqs = (h: Harness): number[] => h.dispatches().filter((d) => d.node === 'register' && d.activation !== undefined).map((d) => d.activation as number);

  it('each completed activation is compensated with its own inputs and result, in reverse completion order', () => {
    const h = listenerSaga();
    h.notify('server.created', { ip: 'a' });
    h.notify('server.created', { ip: 'b' });
    const [s1, s2] = activationSeqs(h) as [number, number];
    h.send({ type: 'task.succeeded', node: 'register', attempt: 1, activation: s2, result: 'rb' });
    h.succeed('book', 'booked');
    h.send({ type: 'task.succeeded', node: 'register', attempt: 1, activation: s1, result: 'ra' });
    h.fail('doomed', fatal);
    expect(h.status).toBe('rolling_back');
    const undo = (i: number) => h.dispatches('rollback')[i];
    expect(undo(0)).toMatchObject({ node: 'register', activation: s1, attempt: 1, inputs: { ip: 'a' }, result: 'ra' });
    h.send({ type: 'rollback.succeeded', node: 'register', attempt: 1, activation: s1 });
    expect(undo(1)).toMatchObject({ node: 'book', result: 'booked' });
    h.rolledBack('book');
    expect(undo(2)).toMatchObject({ node: 'register', activation: s2, inputs: { ip: 'b' }, result: 'rb' });
    expect(h.status).toBe('rolling_back');
    h.send({ type: 'rollback.succeeded', node: 'register', attempt: 1, activation: s2 });
    expect(h.dispatches('rollback')).toHaveLength(3);
    expect(h.status).toBe('rolled_back');
    expect(h.live.state.activations.get(`register#${s1}`)).toMatchObject({ undo: 'done' });
  });

  it('after stop(), the listener is not rolled back as a node: only its activations are', () => {
    const h = listenerSaga();
    const s1 = oneActivation(h);
    h.change({ op: 'stop' });
    h.fail('doomed', fatal);
    h.send({ type: 'rollback.succeeded', node: 'register', attempt: 1, activation: s1 });
    h.rolledBack('book');
    expect(h.dispatches('rollback').map((d) => [d.node, d.activation])).toEqual([
      ['register', s1],
      ['book', undefined],
    ]);
    expect(h.status).toBe('rolled_back');
  });

  it('an activation waiting for its retry when the saga starts is cancelled, not run again', () => {
    const register = task('register', { requires: ['ip'], retry: 2, apply: () => 'r' }).s({}, { persistent: true });
    const h = new Harness(flow('f', { onFailure: 'rollback' }).link(event('server.created', { provides: ['ip'] }), register).add(unit('doomed').s()));
    h.start();
    h.notify('server.created', { ip: 'a' });
    const [s1] = activationSeqs(h) as [number];
    h.send({ type: 'task.failed', node: 'register', attempt: 1, activation: s1, error: { name: 'Error', message: 'flaky', retryable: true } });
    h.fail('doomed', fatal);
    expect(h.send({ type: 'retry.due', node: 'register', attempt: 2, activation: s1 }).commands).toEqual([]);
    expect(h.entries('node.cancelled')).toMatchObject([{ node: 'register', activation: s1 }]);
    expect(h.status).toBe('rolled_back');
  });

  it('owed compensations survive a reload', async () => {
    const store = new MemoryStore();
    const h = listenerSaga();
    const s1 = oneActivation(h);
    await h.save(store);
    const reloaded = await Harness.load(store);
    reloaded.fail('doomed', fatal);
    expect(reloaded.dispatches('rollback')).toMatchObject([{ node: 'register', activation: s1, inputs: { ip: 'a' }, result: 'ra' }]);
  });

  it('a failed compensation of an activation ends the run rollback_failed, its error on the activation', () => {
    const h = listenerSaga();
    const s1 = oneActivation(h);
    h.fail('doomed', fatal);
    const error = { name: 'Error', message: 'cannot deregister', retryable: true };
    h.send({ type: 'rollback.failed', node: 'register', attempt: 1, activation: s1, error });
    h.rolledBack('book');
    expect(h.status).toBe('rollback_failed');
    expect(h.live.state.activations.get(`register#${s1}`)).toMatchObject({ undo: 'failed', undoError: error });
    expect(h.entries('rollback.failed')).toMatchObject([{ node: 'register', activation: s1 }]);
  });
});

describe('live edits against a saga', () => {
  /** Roots a and c, each with a rollback; failure policy rollback. */
  function saga(): Harness {
    const h = new Harness(flow('f', { onFailure: 'rollback' }).add(unit('a', { rollback: true }).s(), unit('c', { rollback: true, retry: 1 }).s()));
    h.start();
    return h;
  }

  it('remove of a completed node whose rollback is owed is refused (before and during the saga)', () => {
    const h = saga();
    h.succeed('a', 1);
    expect(() => h.change({ op: 'remove', node: 'a' })).toThrow(/node "a" has completed and its rollback is owed/);
    h.fail('c'); // retrying
    h.change({ op: 'remove', node: 'c' }); // not completed: it can go
    h.change({ op: 'add', node: unit('e', { rollback: true }).s().definition() });
    h.succeed('e', 5);
    h.change({ op: 'add', node: unit('d').s().definition() });
    h.fail('d', fatal);
    expect(h.status).toBe('rolling_back');
    expect(h.dispatched('rollback')).toEqual(['e']);
    expect(() => h.change({ op: 'remove', node: 'a' })).toThrow(/node "a" has completed and its rollback is owed/);
  });

  it('remove of a node whose rollback is running is refused; once it is done, the node can go', () => {
    const h = saga();
    h.succeed('a', 1);
    h.fail('c', fatal);
    expect(h.node('c').undo).toBe('running');
    expect(() => h.change({ op: 'remove', node: 'c' })).toThrow(/rollback of node "c" is running/);
    h.rolledBack('c');
    expect(h.dispatched('rollback')).toEqual(['c', 'a']);
    expect(() => h.change({ op: 'remove', node: 'a' })).toThrow(/rollback of node "a" is running/);
    h.change({ op: 'remove', node: 'c' });
    expect(h.status).toBe('rolling_back');
    h.rolledBack('a');
    expect(h.status).toBe('rolled_back');
  });

  it('cancel is refused while rolling back: the compensations run to the end', () => {
    const h = saga();
    h.succeed('a', 1);
    h.fail('c', fatal);
    expect(h.status).toBe('rolling_back');
    expect(() => h.change({ op: 'cancel' })).toThrow(/is rolling back: it cannot be cancelled/);
    h.rolledBack('c');
    h.rolledBack('a');
    expect(h.status).toBe('rolled_back');
  });
});
