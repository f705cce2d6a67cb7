/**
 * Rollbacks and the saga (failure policy `rollback`): runs with nothing to
 * undo, undo state across retries, persistent listeners' activations, live
 * edits during a saga, and failed compensations.
 */
import { describe, expect, it } from 'vitest';
import { flow } from '../../src/model/flow.js';
import { task } from '../../src/model/task.js';
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
});
