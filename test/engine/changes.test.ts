import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/codec/json.js';
import type { Change } from '../../src/engine/events.js';
import { inspectRun } from '../../src/engine/inspect.js';
import { InvalidChangeError, UnknownNodeError, ValidationError } from '../../src/errors.js';
import { flow } from '../../src/model/flow.js';
import { event } from '../../src/model/node.js';
import { task } from '../../src/model/task.js';
import { applies, fatal, Harness, oops, snapshot } from './harness.js';

/** A task needing `requires`, providing its own name; its code never runs here. */
const unit = (name: string, requires: string[] = [], retry = 0) => task(name, { requires, retry, apply: () => name });

/** root -> mid -> leaf, each requiring its source's value, plus `other`, a second root, and an event `ev`. */
function chain(): Harness {
  const root = unit('root').s();
  const mid = unit('mid', ['root']).s();
  return new Harness(flow('chain').link(root, mid).link(mid, unit('leaf', ['mid']).s()).add(unit('other').s(), event('ev')));
}

/** Applies `change`, expecting `error`; checks that the run did not change at all. */
function rejects(h: Harness, change: Change, error: new (...args: never[]) => Error, message?: RegExp): void {
  const before = snapshot(h.live);
  const commands = h.commands.length;
  const history = h.history.length;
  expect(() => h.change(change)).toThrow(error);
  if (message !== undefined) expect(() => h.change(change)).toThrow(message);
  expect(snapshot(h.live)).toEqual(before);
  expect(h.commands.length).toBe(commands);
  expect(h.history.length).toBe(history);
}

/** Activation dispatches so far: [seq, inputs]. */
const activations = (h: Harness, node: string): [number | undefined, JsonObject][] =>
  h.dispatches().filter((d) => d.node === node && d.activation !== undefined).map((d) => [d.activation, d.inputs]);

/** Signals success of an activation's first attempt. */
const activationDone = (h: Harness, node: string, activation: number) => h.send({ type: 'task.succeeded', node, attempt: 1, activation, result: activation });

describe('every change', () => {
  it('bumps the graph version and records a change entry with the actor and the op', () => {
    const h = chain();
    h.start();
    const out = h.change({ op: 'link', from: 'other', to: 'leaf' }, 'bob');
    expect(h.live.state.graphVersion).toBe(2);
    expect(out.history[0]).toMatchObject({ type: 'change', actor: 'bob', graphVersion: 2, detail: { op: 'link', from: 'other', to: 'leaf' } });
    h.change({ op: 'add', node: unit('extra').s().definition() });
    expect(h.live.state.graphVersion).toBe(3);
    expect(h.entries('change').at(-1)).toMatchObject({ actor: 'alice', detail: { op: 'add', node: 'extra', task: 'extra' } });
  });
});

describe('invalid changes throw and change nothing', () => {
  /** root running, other succeeded, mid and leaf waiting. */
  const started = (): Harness => {
    const h = chain();
    h.start();
    h.succeed('other', 'O');
    return h;
  };
  it.each<[string, Change, new (...args: never[]) => Error, RegExp?]>([
    ['remove an unknown node', { op: 'remove', node: 'ghost' }, UnknownNodeError, /unknown node "ghost" in run "run-1"/],
    ['link from an unknown node', { op: 'link', from: 'ghost', to: 'leaf' }, UnknownNodeError],
    ['retry an unknown node', { op: 'retry', node: 'ghost' }, UnknownNodeError],
    ['add with an unknown source', { op: 'add', node: unit('n').s().definition(), sources: [{ node: 'ghost' }] }, UnknownNodeError],
    ['add an existing id', { op: 'add', node: unit('leaf').s().definition() }, InvalidChangeError, /node "leaf" already exists/],
    ['link twice', { op: 'link', from: 'mid', to: 'leaf' }, InvalidChangeError, /node "leaf" already listens to "mid"/],
    ['unlink what is not linked', { op: 'unlink', from: 'other', to: 'leaf' }, InvalidChangeError, /does not listen to "other"/],
    ['relink what is not linked', { op: 'relink', node: 'leaf', from: 'other', to: 'root' }, InvalidChangeError],
    ['replace a finished node', { op: 'replace', node: 'other', with: { bound: {} } }, InvalidChangeError, /node "other" is succeeded/],
    ['replace a running node', { op: 'replace', node: 'root', with: { bound: {} } }, InvalidChangeError, /node "root" is running/],
    ['retry a running node', { op: 'retry', node: 'root' }, InvalidChangeError, /only a failed or cancelled node/],
    ['skip a finished node', { op: 'skip', node: 'other' }, InvalidChangeError],
    ['skip a running node', { op: 'skip', node: 'root' }, InvalidChangeError],
    ['retry an activation that never failed', { op: 'retry', node: 'leaf', activation: 3 }, InvalidChangeError],
    ['link into a cycle', { op: 'link', from: 'leaf', to: 'root' }, ValidationError, /linking "leaf" -> "root" would make a cycle/],
    ['link a node to itself', { op: 'link', from: 'leaf', to: 'leaf' }, ValidationError],
    ['relink into a cycle', { op: 'relink', node: 'mid', from: 'root', to: 'leaf' }, ValidationError],
    ['add between a node and its ancestor', { op: 'add', node: unit('n').s().definition(), sources: [{ node: 'leaf' }], listeners: [{ node: 'mid' }] }, ValidationError],
    ['add a node missing an input', { op: 'add', node: unit('n', ['token']).s().definition() }, ValidationError, /required input "token" of node "n"/],
    ['add the same source twice', { op: 'add', node: unit('n').s().definition(), sources: [{ node: 'other' }, { node: 'other' }] }, InvalidChangeError],
    ['link an event to a source', { op: 'link', from: 'other', to: 'ev' }, InvalidChangeError, /event "ev" cannot listen to "other"/],
    ['unlink the provider of a required input', { op: 'unlink', from: 'root', to: 'mid' }, ValidationError, /required input "root" of node "mid"/],
    ['remove the provider of a waiting node', { op: 'remove', node: 'root' }, ValidationError, /required input "root" of node "mid"/],
    ['replace with an unprovided input', { op: 'replace', node: 'leaf', with: { requires: ['nothing'] } }, ValidationError],
    ['add a node that an event listens to', { op: 'add', node: unit('n').s().definition(), listeners: [{ node: 'ev' }] }, InvalidChangeError, /event "ev" cannot listen to "n"/],
  ])('%s', (_what, change, error, message) => {
    rejects(started(), change, error, message);
  });
});
