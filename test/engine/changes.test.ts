import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/codec/json.js';
import type { Change } from '../../src/engine/events.js';
import { inspectRun } from '../../src/engine/inspect.js';
import { InvalidChangeError, UnknownNodeError, ValidationError } from '../../src/errors.js';
import { flow } from '../../src/model/flow.js';
import { event } from '../../src/model/node.js';
import { task } from '../../src/model/task.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { applies, fatal, Harness, oops, snapshot, checkCopiesOnEveryStep } from './harness.js';

checkCopiesOnEveryStep(); // stepping never changes a copyRun() copy (see the harness)

/** A task needing `requires`, providing its own name; its code never runs here. */
const unit = (name: string, requires: string[] = [], retry = 0) => task(name, { requires, retry, apply: () => name });

/** root -> mid -> leaf, each requiring its source's value, plus `other`, a second root, and an event `ev`. */
function chain(): Harness {
  const root = unit('root').s();
  const mid = unit('mid', ['root']).s();
  return new Harness(flow('chain').link(root, mid).link(mid, unit('leaf', ['mid']).s()).add(unit('other').s(), event('ev')));
}

/** Applies `change`, expecting `error`; checks that the run did not change at all. */
function rejects(h: Harness, change: Change | Change[], error: new (...args: never[]) => Error, message?: RegExp): void {
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
    h.change({ op: 'add', node: unit('reader', ['other']).s().definition(), sources: [{ node: 'other' }] }); // running
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
    ['unlink the provider of a running node (it may fail and run again)', { op: 'unlink', from: 'other', to: 'reader' }, ValidationError, /required input "other" of node "reader"/],
    ['replace with an unprovided input', { op: 'replace', node: 'leaf', with: { requires: ['nothing'] } }, ValidationError],
    ['add a node that an event listens to', { op: 'add', node: unit('n').s().definition(), listeners: [{ node: 'ev' }] }, InvalidChangeError, /event "ev" cannot listen to "n"/],
  ])('%s', (_what, change, error, message) => {
    rejects(started(), change, error, message);
  });
});

describe('add', () => {
  it('a listener added to a finished source is dispatched at once with the recorded result', () => {
    const h = chain();
    h.start();
    h.succeed('other', 'O');
    const out = h.change({ op: 'add', node: unit('late', ['other']).s().definition(), sources: [{ node: 'other' }] });
    expect(applies(out).map((d) => [d.node, d.inputs])).toEqual([['late', { other: 'O' }]]);
    expect(out.nodes.has('late')).toBe(true);
    expect(h.dispatched().filter((id) => id === 'other')).toHaveLength(1);
  });

  it('a node added between a running source and a waiting listener runs in between', () => {
    const h = chain();
    h.start();
    h.change({ op: 'add', node: unit('audit').s().definition(), sources: [{ node: 'root' }], listeners: [{ node: 'mid' }] });
    expect(h.node('mid').sources.map((l) => l.from)).toEqual(['root', 'audit']);
    h.succeed('root', 'R');
    expect(h.dispatched().slice(-1)).toEqual(['audit']);
    h.succeed('audit', 'A');
    expect(h.dispatches().at(-1)).toMatchObject({ node: 'mid', inputs: { root: 'R' } });
  });
});

describe('remove, link, unlink', () => {
  it('remove aborts a running node and starts listeners that now have every source', () => {
    const h = chain();
    h.start();
    h.succeed('root', 'R');
    h.change({ op: 'link', from: 'other', to: 'mid' }); // mid already running: no effect on it
    h.change({ op: 'add', node: unit('join').s().definition(), sources: [{ node: 'root' }, { node: 'other' }] });
    const out = h.change({ op: 'remove', node: 'other' });
    expect(out.commands).toContainEqual({ type: 'abort', runId: 'run-1', node: 'other', attempt: 1 });
    expect([...out.removed]).toEqual(['other']);
    expect(h.live.state.nodes.has('other')).toBe(false);
    expect(h.node('join').sources.map((l) => l.from)).toEqual(['root']);
    expect(applies(out).map((d) => d.node)).toEqual(['join']);
    expect(h.succeed('other', 'late', 1).history).toEqual([]);
  });

  it('a node removed while running and added again in one change continues its attempts: the old execution neither aborts nor fails the new one', async () => {
    const h = chain();
    h.start(); // other: attempt 1 running
    const out = h.change([
      { op: 'remove', node: 'other' },
      { op: 'add', node: unit('other', [], 1).s().definition() },
    ]);
    expect(out.commands).toContainEqual({ type: 'abort', runId: 'run-1', node: 'other', attempt: 1 });
    expect(applies(out).map((d) => [d.node, d.attempt])).toEqual([['other', 2]]);
    expect(h.fail('other', { name: 'CancelledError', message: 'run "run-1" was cancelled', retryable: false }, 1).history).toEqual([]);
    expect(h.node('other').status).toBe('running');
    // Its own retry budget (1) is whole: the first failure of the new node is retried.
    h.fail('other');
    expect(h.node('other').status).toBe('retrying');
    // The numbering survives a store: removed and added again after a reload, it goes on from there.
    const store = new MemoryStore();
    await h.save(store);
    const loaded = await Harness.load(store);
    loaded.retryDue('other'); // attempt 3 running
    const again = loaded.change([{ op: 'remove', node: 'other' }]);
    expect(again.commands).toContainEqual({ type: 'abort', runId: 'run-1', node: 'other', attempt: 3 });
    await loaded.save(store);
    const reloaded = await Harness.load(store);
    const readded = reloaded.change({ op: 'add', node: unit('other').s().definition() });
    expect(applies(readded).map((d) => [d.node, d.attempt])).toEqual([['other', 4]]);
  });

  it('link makes a waiting node wait for the new source too; unlink lets it go', () => {
    const h = chain();
    h.start();
    h.change({ op: 'link', from: 'other', to: 'mid' });
    h.succeed('root', 'R');
    expect(h.node('mid').status).toBe('waiting');
    const out = h.change({ op: 'unlink', from: 'other', to: 'mid' });
    expect(applies(out).map((d) => d.node)).toEqual(['mid']);
  });
});

describe('replace, retry, skip', () => {
  it('replace gives a failed node new inputs; attempts go on counting', () => {
    const h = new Harness(flow('f').add(unit('fetch', ['url']).s({ url: 'bad' })));
    h.start();
    h.fail('fetch', fatal);
    const out = h.change({ op: 'replace', node: 'fetch', with: { bound: { url: 'good' } } });
    expect(applies(out)).toMatchObject([{ node: 'fetch', attempt: 2, inputs: { url: 'good' } }]);
    h.succeed('fetch', 1);
    expect(h.status).toBe('succeeded');
  });

  it('replace of a node waiting for its retry dispatches it now; the old retry is stale', () => {
    const h = new Harness(flow('f').add(unit('flaky', [], 3).s()));
    h.start();
    h.fail('flaky', oops);
    h.change({ op: 'replace', node: 'flaky', with: { queue: 'big' } });
    expect(h.dispatches().at(-1)).toMatchObject({ node: 'flaky', attempt: 2, queue: 'big' });
    expect(h.send({ type: 'retry.due', node: 'flaky', attempt: 2 }).history).toEqual([]);
  });

  it('retry re-runs a failed node and the run recovers', () => {
    const h = chain();
    h.start();
    h.fail('root', fatal);
    h.succeed('other', 'O');
    expect(h.status).toBe('failed');
    h.change({ op: 'retry', node: 'root' });
    expect(h.status).toBe('running');
    expect(h.dispatches().at(-1)).toMatchObject({ node: 'root', attempt: 2 });
    h.succeed('root', 'R');
    h.succeed('mid', 'M');
    h.succeed('leaf', 'L');
    expect(h.status).toBe('succeeded');
  });

  it('skip gives listeners the value given; skipped nodes never run', () => {
    const h = chain();
    h.start();
    h.fail('root', fatal);
    const out = h.change({ op: 'skip', node: 'root', result: 'given' });
    expect(h.node('root')).toMatchObject({ status: 'skipped', result: 'given' });
    expect(out.history.map((e) => e.type)).toContain('node.skipped');
    expect(applies(out)).toMatchObject([{ node: 'mid', inputs: { root: 'given' } }]);
  });
});

describe('finished nodes', () => {
  it('are never dispatched again, whatever changes', () => {
    const h = chain();
    h.start();
    h.succeed('root', 'R');
    h.succeed('other', 'O');
    h.change({ op: 'link', from: 'other', to: 'root' });
    h.change({ op: 'unlink', from: 'other', to: 'root' });
    h.change({ op: 'add', node: unit('pre').s().definition(), listeners: [{ node: 'root' }] });
    h.change({ op: 'relink', node: 'root', from: 'pre', to: 'other' });
    for (const change of [{ op: 'retry', node: 'root' }, { op: 'skip', node: 'root' }, { op: 'replace', node: 'root', with: {} }] as Change[]) {
      expect(() => h.change(change)).toThrow(InvalidChangeError);
    }
    h.change({ op: 'remove', node: 'other' });
    expect(h.dispatched().filter((id) => id === 'root')).toHaveLength(1);
    expect(h.node('root')).toMatchObject({ status: 'succeeded', result: 'R', attempt: 1 });
  });
});

describe('persistent listeners', () => {
  /** register(ip, version) listens to server.created (ip) and config.changed (version). */
  function listeners(retry = 0): Harness {
    const register = task('register', { requires: ['ip', 'version'], retry, apply: () => 1 }).s({}, { persistent: true });
    const created = event('server.created', { provides: ['ip'] });
    const config = event('config.changed', { provides: ['version'] });
    const h = new Harness(flow('lb').link(created, register).link(config, register));
    h.start();
    return h;
  }

  it('run once per notification, in order, with the latest value of the other inputs', () => {
    const h = listeners();
    expect(h.status).toBe('listening');
    h.notify('config.changed', { version: 1 }); // waits for an ip
    expect(activations(h, 'register')).toEqual([]);
    h.notify('server.created', { ip: 'a' });
    h.notify('server.created', { ip: 'b' });
    h.notify('config.changed', { version: 2 });
    const runs = activations(h, 'register');
    expect(runs.map(([, inputs]) => inputs)).toEqual([
      { ip: 'a', version: 1 },
      { ip: 'a', version: 1 },
      { ip: 'b', version: 1 },
      { ip: 'b', version: 2 },
    ]);
    const seqs = runs.map(([seq]) => seq as number);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(h.status).toBe('running');
    for (const seq of seqs) activationDone(h, 'register', seq);
    expect(h.status).toBe('listening');
    expect(h.node('register')).toMatchObject({ status: 'listening', emitted: 4 });
  });

  it('notifications that waited for other inputs keep their own payloads', () => {
    const h = listeners();
    h.notify('server.created', { ip: 'a' });
    h.notify('server.created', { ip: 'b' });
    h.notify('config.changed', { version: 1 });
    expect(activations(h, 'register').map(([, inputs]) => inputs)).toEqual([
      { ip: 'a', version: 1 },
      { ip: 'b', version: 1 },
      { ip: 'b', version: 1 },
    ]);
  });

  it('retry an activation on a retryable error, and on demand after it failed for good', () => {
    const h = listeners(1);
    h.notify('config.changed', { version: 1 });
    h.notify('server.created', { ip: 'a' });
    const [seq] = activations(h, 'register').at(-1) ?? [];
    const ref = { node: 'register', activation: seq as number };
    const out = h.send({ type: 'task.failed', ...ref, attempt: 1, error: oops });
    expect(out.commands.find((c) => c.type === 'schedule')).toMatchObject({ ...ref, attempt: 2 });
    expect(applies(h.send({ type: 'retry.due', ...ref, attempt: 2 }))).toMatchObject([{ ...ref, attempt: 2, inputs: { ip: 'a' } }]);
    h.send({ type: 'task.failed', ...ref, attempt: 2, error: oops });
    expect(h.live.state.activations.get(`register#${seq}`)?.status).toBe('failed');
    expect(applies(h.change({ op: 'retry', node: 'register', activation: seq as number }))).toMatchObject([{ ...ref, attempt: 3 }]);
  });

  it('stop: no new activations, the run succeeds once live activations finish', () => {
    const h = listeners();
    h.notify('config.changed', { version: 1 });
    h.notify('server.created', { ip: 'a' });
    h.change({ op: 'stop' });
    expect(h.status).toBe('stopping');
    expect(h.notify('server.created', { ip: 'b' }).commands).toEqual([]);
    expect(() => h.change({ op: 'stop' })).toThrow(InvalidChangeError);
    const [first, second] = activations(h, 'register').map(([seq]) => seq as number);
    activationDone(h, 'register', first as number);
    expect(h.status).toBe('stopping');
    const out = activationDone(h, 'register', second as number);
    expect(h.status).toBe('succeeded');
    expect(out.commands).toContainEqual({ type: 'finished', runId: 'run-1', status: 'succeeded' });
  });

  it('stop does not count an event that never fired as notified', () => {
    const gate = event('gate');
    const work = unit('work').s();
    const after = unit('after').s();
    const h = new Harness(flow('f').link(gate, after).link(work, after));
    h.start();
    h.change({ op: 'stop' });
    h.succeed('work', 1);
    expect(h.dispatched()).toEqual(['work']);
    expect(h.node('after').status).toBe('waiting');
  });

  it('a run stopped and then given new work goes back to stopping, then succeeds', () => {
    const h = new Harness(flow('f').add(unit('a').s()));
    h.start();
    h.succeed('a', 1);
    h.change({ op: 'stop' });
    expect(h.status).toBe('succeeded');
    h.change({ op: 'add', node: unit('b').s().definition() });
    expect(h.status).toBe('stopping');
    h.succeed('b', 2);
    expect(h.status).toBe('succeeded');
  });

  it('a saga can start while stopping', () => {
    const undoable = task('undoable', { apply: () => 1, rollback: () => undefined });
    const register = unit('register').s({}, { persistent: true });
    const h = new Harness(flow('f', { onFailure: 'rollback' }).add(undoable.s(), unit('doomed').s()).link(event('ev'), register));
    h.start();
    h.succeed('undoable', 1);
    h.change({ op: 'stop' });
    expect(h.status).toBe('stopping');
    h.fail('doomed', fatal);
    expect(h.status).toBe('rolling_back');
    h.rolledBack('undoable');
    expect(h.status).toBe('rolled_back');
  });
});

describe('cancel', () => {
  it('cancels live activations and listening nodes; late activation signals are ignored', () => {
    const register = unit('register', ['ip']).s({}, { persistent: true });
    const h = new Harness(flow('f').link(event('server.created', { provides: ['ip'] }), register));
    h.start();
    h.notify('server.created', { ip: 'a' });
    const [[seq]] = activations(h, 'register') as [[number, JsonObject]];
    const out = h.change({ op: 'cancel' }, 'carol');
    expect(out.commands[0]).toEqual({ type: 'abort', runId: 'run-1' });
    expect(out.activations.get(`register#${seq}`)?.status).toBe('cancelled');
    expect(h.live.state.activations.size).toBe(0);
    expect(h.node('register').status).toBe('cancelled');
    expect(h.entries('change').at(-1)).toMatchObject({ actor: 'carol', graphVersion: 2 });
    expect(activationDone(h, 'register', seq).history).toEqual([]);
    expect(h.status).toBe('cancelled');
  });

  it('a run that already succeeded cannot be cancelled', () => {
    const h = new Harness(flow('f').add(unit('a').s()));
    h.start();
    h.succeed('a', 1);
    rejects(h, { op: 'cancel' }, InvalidChangeError, /run "run-1" is succeeded/);
  });
});

describe('the Wordpress scenario', () => {
  it('kickServer fails for good; kickServer2 is added and installWordpress relinked to it', () => {
    const kickServer = unit('kickServer');
    const recipes = unit('fetchChefRecipes').s();
    const install = unit('installWordpress', ['address', 'recipes']).s();
    const flo = flow('wordpress')
      .link(kickServer.s(), install, { map: { address: 'kickServer' } })
      .link(recipes, install, { map: { recipes: 'fetchChefRecipes' } });
    const h = new Harness(flo);
    h.start();
    h.succeed('fetchChefRecipes', ['nginx', 'php']);
    h.fail('kickServer', fatal);
    expect(h.status).toBe('failed');
    h.change({ op: 'add', node: kickServer.s({}, { id: 'kickServer2' }).definition() });
    expect(h.dispatches().at(-1)).toMatchObject({ node: 'kickServer2', task: 'kickServer', attempt: 1 });
    h.change({ op: 'relink', node: 'installWordpress', from: 'kickServer', to: 'kickServer2' });
    expect(h.node('installWordpress').sources.map((l) => [l.from, l.map])).toEqual([
      ['fetchChefRecipes', { recipes: 'fetchChefRecipes' }],
      ['kickServer2', { address: 'kickServer' }],
    ]);
    h.succeed('kickServer2', '10.0.0.2');
    expect(h.dispatches().at(-1)).toMatchObject({ node: 'installWordpress', inputs: { address: '10.0.0.2', recipes: ['nginx', 'php'] } });
    h.succeed('installWordpress', 'http://10.0.0.2');
    // The failed server, left with no listener by the relink, was set aside.
    expect(h.node('kickServer')).toMatchObject({ status: 'skipped', error: fatal });
    expect(h.status).toBe('succeeded');
    expect(h.dispatched().filter((id) => id === 'fetchChefRecipes')).toHaveLength(1);
    expect(h.entries('change').map((e) => e.detail?.['op'])).toEqual(['add', 'relink']);
    expect(h.live.state.graphVersion).toBe(3);
  });
});

describe('a cycle in an unvalidated run', () => {
  it('stalls, is named by inspection, and is fixed by unlinking', () => {
    const [a, b, c] = [unit('a').s(), unit('b').s(), unit('c').s()];
    const h = new Harness(flow('loop').link(a, b).link(b, c).link(c, a), { validate: false });
    const out = h.start();
    expect(h.status).toBe('stalled');
    expect(out.commands).toEqual([{ type: 'finished', runId: 'run-1', status: 'stalled' }]);
    const inspection = inspectRun(h.live.state);
    expect(inspection.cycle).toEqual(['a', 'b', 'c', 'a']);
    expect(inspection.waiting['a']).toEqual({ sources: ['c'], inputs: [] });
    h.change({ op: 'unlink', from: 'c', to: 'a' });
    expect(h.status).toBe('running');
    expect(inspectRun(h.live.state).cycle).toBeUndefined();
    for (const id of ['a', 'b', 'c']) h.succeed(id, id);
    expect(h.status).toBe('succeeded');
  });
});

describe('replace validates the graph after the change', () => {
  /** a (provides x) -> b (requires x), a waiting on root `slow`. */
  const provider = (): Harness => {
    const a = task('a', { provides: ['x'], apply: () => 1 }).s();
    const b = unit('b', ['x']).s();
    const h = new Harness(flow('f').link(unit('slow').s(), a).link(a, b));
    h.start();
    return h;
  };

  it('refuses a replacement that no longer provides what a listener requires', () => {
    const h = provider();
    const y = task('y', { provides: ['y'], apply: () => 1 }).s().definition();
    rejects(h, { op: 'replace', node: 'a', with: { name: y.name, provides: y.provides } }, ValidationError, /required input "x" of node "b"/);
  });

  it('refuses to make a waiting one-shot node persistent (or a persistent one one-shot)', () => {
    const h = provider();
    rejects(h, { op: 'replace', node: 'a', with: { persistent: true } }, InvalidChangeError, /persistent/);
    const register = unit('register').s({}, { persistent: true });
    const l = new Harness(flow('f').link(event('ev'), register));
    l.start();
    rejects(l, { op: 'replace', node: 'register', with: { persistent: false } }, InvalidChangeError, /persistent/);
  });
});

describe('link into a retrying node', () => {
  it('makes it wait: the retry timer does not dispatch before the new source has notified', () => {
    const h = new Harness(flow('f').add(unit('flaky', [], 3).s(), unit('slow').s()));
    h.start();
    h.fail('flaky', oops);
    h.change({ op: 'link', from: 'slow', to: 'flaky' });
    expect(applies(h.retryDue('flaky'))).toEqual([]);
    expect(h.node('flaky').status).toBe('waiting');
    expect(applies(h.succeed('slow', 'S'))).toMatchObject([{ node: 'flaky', attempt: 2 }]);
  });
});

describe('relink away from a node', () => {
  /** install listens to kickServer (1 retry) and recipes; kickServer has failed once and is retrying. */
  function retryingServer(): Harness {
    const kickServer = unit('kickServer', [], 1);
    const install = unit('installWordpress', ['address']).s();
    const h = new Harness(flow('wordpress').link(kickServer.s(), install, { map: { address: 'kickServer' } }));
    h.start();
    h.fail('kickServer', oops);
    expect(h.node('kickServer').status).toBe('retrying');
    h.change({ op: 'add', node: kickServer.s({}, { id: 'kickServer2' }).definition() });
    return h;
  }

  it('sets the node aside when it fails for good after the relink, as when it had failed before', () => {
    const h = retryingServer();
    h.change({ op: 'relink', node: 'installWordpress', from: 'kickServer', to: 'kickServer2' });
    h.retryDue('kickServer');
    h.fail('kickServer', oops);
    expect(h.node('kickServer')).toMatchObject({ status: 'skipped', error: oops });
    expect(h.entries('node.skipped').at(-1)).toMatchObject({ node: 'kickServer', detail: { reason: 'relinked' } });
    h.succeed('kickServer2', '10.0.0.2');
    h.succeed('installWordpress', 'ok');
    expect(h.status).toBe('succeeded');
  });

  it('a node set aside provides null, as a skip without a value does: a listener added later runs', () => {
    const h = retryingServer();
    h.change({ op: 'relink', node: 'installWordpress', from: 'kickServer', to: 'kickServer2' });
    h.retryDue('kickServer');
    h.fail('kickServer', oops);
    const out = h.change({ op: 'add', node: unit('postMortem', ['kickServer']).s().definition(), sources: [{ node: 'kickServer' }] });
    expect(applies(out)).toMatchObject([{ node: 'postMortem', inputs: { kickServer: null } }]);
  });

  it('a node relinked away that gets a listener again holds the run failed', () => {
    const h = retryingServer();
    h.change({ op: 'relink', node: 'installWordpress', from: 'kickServer', to: 'kickServer2' });
    h.change({ op: 'add', node: unit('log', []).s().definition(), sources: [{ node: 'kickServer' }] });
    h.retryDue('kickServer');
    h.fail('kickServer', oops);
    expect(h.node('kickServer').status).toBe('failed');
  });
});

describe('a refused change leaves no trace', () => {
  it('a second stop changes nothing', () => {
    const h = new Harness(flow('f').link(event('ev'), unit('register').s({}, { persistent: true })));
    h.start();
    h.change({ op: 'stop' });
    rejects(h, { op: 'stop' }, InvalidChangeError, /already stopped/);
  });
});

describe('several changes as one', () => {
  it('apply in one step with one graph version, each recorded with it', () => {
    const kickServer = unit('kickServer');
    const install = unit('installWordpress', ['address']).s();
    const h = new Harness(flow('wordpress').link(kickServer.s(), install, { map: { address: 'kickServer' } }));
    h.start();
    h.fail('kickServer', fatal);
    const out = h.change([
      { op: 'add', node: kickServer.s({}, { id: 'kickServer2' }).definition() },
      { op: 'relink', node: 'installWordpress', from: 'kickServer', to: 'kickServer2' },
    ]);
    expect(h.live.state.graphVersion).toBe(2);
    expect(out.history.filter((e) => e.type === 'change').map((e) => [e.detail?.['op'], e.graphVersion])).toEqual([
      ['add', 2],
      ['relink', 2],
    ]);
    expect(applies(out).map((d) => d.node)).toEqual(['kickServer2']);
    expect(h.status).toBe('running');
  });

  it('are refused whole when one of them is invalid', () => {
    const h = chain();
    h.start();
    rejects(
      h,
      [
        { op: 'add', node: unit('extra').s().definition() },
        { op: 'remove', node: 'ghost' },
        { op: 'link', from: 'other', to: 'leaf' },
      ],
      UnknownNodeError,
    );
    rejects(h, [{ op: 'stop' }, { op: 'stop' }], InvalidChangeError);
    const order = [...h.live.state.nodes.keys()];
    rejects(h, [{ op: 'add', node: unit('extra').s().definition() }, { op: 'remove', node: 'other' }, { op: 'remove', node: 'ghost' }], UnknownNodeError);
    expect([...h.live.state.nodes.keys()]).toEqual(order);
  });

  it('are validated as a whole: a provider is swapped for another in one step', () => {
    const h = chain();
    h.start();
    rejects(h, { op: 'remove', node: 'root' }, ValidationError);
    const out = h.change([
      { op: 'remove', node: 'root' },
      { op: 'add', node: task('root2', { provides: ['root'], apply: () => 1 }).s().definition(), listeners: [{ node: 'mid' }] },
    ]);
    expect(applies(out).map((d) => d.node)).toEqual(['root2']);
    expect(h.node('mid').sources.map((l) => l.from)).toEqual(['root2']);
  });

  it('a node added and removed in one step never runs', () => {
    const h = chain();
    h.start();
    const out = h.change([{ op: 'add', node: unit('tmp').s().definition() }, { op: 'remove', node: 'tmp' }]);
    expect(applies(out)).toEqual([]);
    expect(h.live.state.nodes.has('tmp')).toBe(false);
  });
});

describe('after stop', () => {
  it('an event and a persistent listener added later listen until stopped again, or cancelled', () => {
    const h = new Harness(flow('f').add(unit('a').s()));
    h.start();
    h.succeed('a', 1);
    h.change({ op: 'stop' });
    h.change({ op: 'add', node: event('late', { provides: ['ip'] }).definition() });
    h.change({ op: 'add', node: unit('register', ['ip']).s({}, { persistent: true }).definition(), sources: [{ node: 'late' }] });
    expect(h.status).toBe('listening');
    h.notify('late', { ip: 'x' });
    expect(activations(h, 'register')).toHaveLength(1);
    activationDone(h, 'register', activations(h, 'register')[0]?.[0] as number);
    h.change({ op: 'stop' });
    expect(h.status).toBe('succeeded');
    expect(h.node('register').status).toBe('succeeded');
  });

  it('a persistent listener added after stop can be cancelled; an event added after stop can be stopped', () => {
    const h = new Harness(flow('f').add(unit('a').s()));
    h.start();
    h.succeed('a', 1);
    h.change({ op: 'stop' });
    h.change({ op: 'add', node: event('late').definition() });
    h.change({ op: 'stop' });
    expect(h.node('late').status).toBe('succeeded');
    h.change({ op: 'add', node: unit('register').s({}, { persistent: true }).definition() });
    expect(h.status).toBe('listening');
    h.change({ op: 'cancel' });
    expect(h.status).toBe('cancelled');
    expect(h.node('register').status).toBe('cancelled');
  });

  it('notifications still waiting for other inputs are recorded as not delivered', () => {
    const register = task('register', { requires: ['ip', 'version'], apply: () => 1 }).s({}, { persistent: true });
    const h = new Harness(flow('lb').link(event('server.created', { provides: ['ip'] }), register).link(event('config.changed', { provides: ['version'] }), register));
    h.start();
    h.notify('server.created', { ip: 'a' });
    const out = h.change({ op: 'stop' });
    const dropped = [...out.activations.values()];
    expect(dropped).toMatchObject([{ node: 'register', from: 'server.created', status: 'cancelled', error: { name: 'NotDelivered' } }]);
    expect(out.history).toContainEqual(expect.objectContaining({ type: 'node.cancelled', node: 'register', activation: dropped[0]?.seq, detail: expect.objectContaining({ reason: 'stopped' }) }));
    expect(h.node('register').backlog).toBeUndefined();
    expect(h.status).toBe('succeeded');
  });
});
