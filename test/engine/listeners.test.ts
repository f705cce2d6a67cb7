/**
 * Persistent listeners: what a store holds of their activations after a
 * removal (reloaded from memory and SQLite stores), and the order in which a
 * listener's results reach its own listeners.
 */
import { describe, expect, it } from 'vitest';
import type { Json } from '../../src/codec/json.js';
import { flow } from '../../src/model/flow.js';
import { event } from '../../src/model/node.js';
import { task } from '../../src/model/task.js';
import { nodeRow } from '../../src/store/backlog.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { stepCommit } from '../../src/store/step-commit.js';
import type { Store } from '../../src/store/port.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { TaskwireError } from '../../src/errors.js';
import { fatal, Harness, oops, snapshot } from './harness.js';

/** A task needing `requires`, providing its own name; its code never runs here. */
const unit = (name: string, requires: string[] = [], retry = 0) => task(name, { requires, retry, apply: () => name });

/** Seqs of the node's activation dispatches (first attempts), in dispatch order. */
const activationSeqs = (h: Harness, node: string): number[] =>
  h.dispatches().filter((d) => d.node === node && d.activation !== undefined && d.attempt === 1).map((d) => d.activation as number);

/** Signals success of an activation's current attempt with `result`. */
const activationDone = (h: Harness, node: string, activation: number, result: Json) => {
  const attempt = h.live.state.activations.get(`${node}#${activation}`)?.attempt ?? 1;
  return h.send({ type: 'task.succeeded', node, attempt, activation, result });
};

/** The run's state and index counts (not the outgoing-link index, which may keep empty lists). */
function held(h: Harness): unknown {
  const { index, ...state } = snapshot(h.live) as { index: { outgoing: unknown } };
  const { outgoing: _outgoing, ...counts } = index;
  return { ...state, counts };
}

const stores: [string, () => Store][] = [
  ['memory', () => new MemoryStore()],
  ['sqlite', () => openSqliteStore({ path: ':memory:' })],
];

describe.each(stores)('removing a persistent listener with live activations [%s store]', (_name, makeStore) => {
  it('records them cancelled: a reload does not count them, and stop() ends the run', async () => {
    const store = makeStore();
    const register = unit('register', ['ip'], 1).s({}, { persistent: true });
    const h = new Harness(flow('lb').link(event('server.created', { provides: ['ip'] }), register));
    h.start();
    h.notify('server.created', { ip: 'a' });
    h.notify('server.created', { ip: 'b' });
    const [first, second] = activationSeqs(h, 'register') as [number, number];
    h.send({ type: 'task.failed', node: 'register', attempt: 1, activation: first, error: oops }); // retrying
    h.notify('server.created', { ip: 'c' });
    const third = activationSeqs(h, 'register')[2] as number;
    h.send({ type: 'task.failed', node: 'register', attempt: 1, activation: third, error: fatal }); // failed for good: stays failed
    await h.save(store);
    const out = h.change({ op: 'remove', node: 'register' });
    expect(out.commands.filter((c) => c.type === 'abort')).toEqual([
      { type: 'abort', runId: 'run-1', node: 'register', attempt: 1, activation: first },
      { type: 'abort', runId: 'run-1', node: 'register', attempt: 1, activation: second },
    ]);
    await h.save(store);
    expect((await store.activations('run-1', 'register')).map((a) => [a.seq, a.status])).toEqual([
      [first, 'cancelled'],
      [second, 'cancelled'],
      [third, 'failed'],
    ]);
    const reloaded = await Harness.load(store);
    expect(held(reloaded)).toEqual(held(h)); // what the engine holds is what a reload gives
    expect(reloaded.live.index.liveActivations).toBe(0);
    reloaded.change({ op: 'stop' });
    expect(reloaded.status).toBe('succeeded');
    await store.close();
  });
});

describe('a persistent listener\'s results, in notification order', () => {
  /** server.created -> register (persistent) -> audit (persistent), and -> report (one-shot). */
  function chain(): Harness {
    const register = unit('register', ['ip'], 1).s({}, { persistent: true });
    const audit = unit('audit', ['register']).s({}, { persistent: true });
    const h = new Harness(flow('lb').link(event('server.created', { provides: ['ip'] }), register).link(register, audit).link(register, unit('report', ['register']).s()));
    h.start();
    return h;
  }

  it('result is that of the latest notification; a later one finishing first is held until the earlier ones finish', () => {
    const h = chain();
    for (const ip of ['a', 'b', 'c']) h.notify('server.created', { ip });
    const [s1, s2, s3] = activationSeqs(h, 'register') as [number, number, number];
    activationDone(h, 'register', s3, 'r3');
    expect(h.node('register').result).toBeUndefined(); // held: 1 and 2 still run
    expect(activationSeqs(h, 'audit')).toEqual([]);
    expect(h.dispatched()).not.toContain('report');
    activationDone(h, 'register', s2, 'r2');
    expect(activationSeqs(h, 'audit')).toEqual([]);
    activationDone(h, 'register', s1, 'r1');
    expect(h.node('register')).toMatchObject({ result: 'r3', emitted: 3 });
    const audits = h.dispatches().filter((d) => d.node === 'audit');
    expect(audits.map((d) => d.inputs)).toEqual([{ register: 'r1' }, { register: 'r2' }, { register: 'r3' }]);
    expect(h.dispatches().filter((d) => d.node === 'report').map((d) => d.inputs)).toEqual([{ register: 'r1' }]);
    expect(h.node('register').held).toBeUndefined();
  });

  it('an earlier activation that fails for good releases the later ones; retried by hand, it does not move the result back', () => {
    const h = chain();
    for (const ip of ['a', 'b']) h.notify('server.created', { ip });
    const [s1, s2] = activationSeqs(h, 'register') as [number, number];
    activationDone(h, 'register', s2, 'r2');
    h.send({ type: 'task.failed', node: 'register', attempt: 1, activation: s1, error: oops });
    expect(h.node('register').result).toBeUndefined(); // s1 retries: still held
    h.send({ type: 'retry.due', node: 'register', attempt: 2, activation: s1 });
    h.send({ type: 'task.failed', node: 'register', attempt: 2, activation: s1, error: oops });
    expect(h.node('register')).toMatchObject({ result: 'r2', emitted: 1 });
    expect(h.dispatches().filter((d) => d.node === 'audit').map((d) => d.inputs)).toEqual([{ register: 'r2' }]);
    h.change({ op: 'retry', node: 'register', activation: s1 });
    activationDone(h, 'register', s1, 'r1');
    expect(h.node('register')).toMatchObject({ result: 'r2', emitted: 2 });
    expect(h.dispatches().filter((d) => d.node === 'audit').map((d) => d.inputs)).toEqual([{ register: 'r2' }, { register: 'r1' }]);
  });

  it('cancel releases the held completions: the result is that of the latest notification, and nothing new starts', () => {
    const h = chain();
    for (const ip of ['a', 'b']) h.notify('server.created', { ip });
    const [, s2] = activationSeqs(h, 'register') as [number, number];
    activationDone(h, 'register', s2, 'r2');
    expect(h.node('register').result).toBeUndefined(); // held: s1 still runs
    h.change({ op: 'cancel' });
    expect(h.status).toBe('cancelled');
    expect(h.node('register')).toMatchObject({ result: 'r2' });
    expect(h.node('register').held).toBeUndefined();
    expect(h.dispatched()).not.toContain('audit');
    expect(h.dispatched()).not.toContain('report');
  });

  it('results held back at stop() and released after it are recorded as not delivered to the stopped listener, in order', () => {
    const h = chain();
    for (const ip of ['a', 'b']) h.notify('server.created', { ip });
    const [s1, s2] = activationSeqs(h, 'register') as [number, number];
    h.send({ type: 'task.failed', node: 'register', attempt: 1, activation: s1, error: oops }); // retrying
    activationDone(h, 'register', s2, 'r2'); // held: s1 retries
    h.change({ op: 'stop' });
    expect(h.status).toBe('stopping');
    h.send({ type: 'retry.due', node: 'register', attempt: 2, activation: s1 });
    const out = activationDone(h, 'register', s1, 'r1'); // releases r1, then r2: audit is stopped
    const dropped = [...out.activations.values()].filter((a) => a.node === 'audit');
    expect(dropped).toMatchObject([
      { from: 'register', status: 'cancelled', attempt: 0, inputs: { register: 'r1' }, error: { name: 'NotDelivered' } },
      { from: 'register', status: 'cancelled', attempt: 0, inputs: { register: 'r2' }, error: { name: 'NotDelivered' } },
    ]);
    expect((dropped[0]?.seq ?? 0) < (dropped[1]?.seq ?? 0)).toBe(true);
    const cancelled = out.history.filter((e) => e.type === 'node.cancelled' && e.node === 'audit');
    expect(cancelled.map((e) => [e.activation, e.detail])).toEqual(dropped.map((a) => [a.seq, { reason: 'stopped', from: 'register' }]));
    expect(activationSeqs(h, 'audit')).toEqual([]); // nothing dispatched to a stopped listener
    expect(h.node('register')).toMatchObject({ result: 'r2', emitted: 2 });
    expect(h.node('register').held).toBeUndefined();
    h.succeed('report', 'done'); // a one-shot listener carries on after stop()
    expect(h.status).toBe('succeeded');
  });

  it('results held back at cancel() are recorded as not delivered; a refused list with the cancel leaves no trace', () => {
    const h = chain();
    for (const ip of ['a', 'b']) h.notify('server.created', { ip });
    const s2 = (activationSeqs(h, 'register') as [number, number])[1];
    activationDone(h, 'register', s2, 'r2'); // held: the first activation still runs
    const before = snapshot(h.live);
    const history = h.history.length;
    expect(() => h.change([{ op: 'cancel' }, { op: 'remove', node: 'nope' }])).toThrow(TaskwireError);
    expect(snapshot(h.live)).toEqual(before);
    expect(h.history.length).toBe(history);
    const out = h.change({ op: 'cancel' });
    const dropped = [...out.activations.values()].filter((a) => a.node === 'audit');
    expect(dropped).toMatchObject([{ from: 'register', status: 'cancelled', attempt: 0, inputs: { register: 'r2' }, error: { name: 'NotDelivered' } }]);
    expect(out.history).toContainEqual(expect.objectContaining({ type: 'node.cancelled', node: 'audit', activation: dropped[0]?.seq, detail: { reason: 'cancelled', from: 'register' } }));
    expect(h.node('register').held).toBeUndefined();
    expect(h.status).toBe('cancelled');
  });

  it('a completion does not scan the live activations (W4: 10,000 notifications in flight at once)', () => {
    const h = chain();
    for (let i = 0; i < 200; i++) h.notify('server.created', { ip: String(i) });
    const seqs = activationSeqs(h, 'register');
    activationDone(h, 'register', seqs[0] as number, 'r0'); // the order of the live ones is built once
    const activations = h.live.state.activations;
    const scan = () => {
      throw new Error('the run\'s activations were scanned');
    };
    activations.values = scan;
    activations.entries = scan;
    activations.forEach = scan;
    activations[Symbol.iterator] = scan;
    for (const seq of seqs.slice(1, 100)) activationDone(h, 'register', seq, `r${seq}`);
    activationDone(h, 'register', seqs[150] as number, 'late'); // held: 100..149 still run
    expect(h.dispatches().filter((d) => d.node === 'audit')).toHaveLength(100);
  });

  it('a held result writes one row: the write per completion stays bounded while an early activation is slow (embedded sim seed 1919)', async () => {
    const store = new MemoryStore();
    const h = chain();
    for (let i = 0; i < 60; i++) h.notify('server.created', { ip: `10.0.0.${i}` });
    const [slow, ...rest] = activationSeqs(h, 'register') as [number, ...number[]];
    await h.save(store);
    const sizes: number[] = [];
    for (const seq of rest) {
      const out = activationDone(h, 'register', seq, `result of activation ${seq}`);
      const commit = stepCommit(h.live.state, h.live.state.rev, out, []);
      sizes.push(JSON.stringify(commit.nodes.map(nodeRow)).length + JSON.stringify(commit.held ?? []).length);
    }
    expect(h.node('register').held).toHaveLength(rest.length);
    expect(Math.max(...sizes)).toBeLessThan(Math.min(...sizes) + 50); // not growing with the results held
    await h.save(store);
    const reloaded = await Harness.load(store);
    expect(reloaded.node('register').held?.map((e) => e.seq)).toEqual(rest);
    activationDone(reloaded, 'register', slow, 'first');
    expect(reloaded.node('register')).toMatchObject({ emitted: 60, result: `result of activation ${rest[rest.length - 1]}` });
    expect(reloaded.node('register').held).toBeUndefined();
    await reloaded.save(store);
    expect((await store.loadRun('run-1'))?.nodes.get('register')?.held).toBeUndefined(); // the released rows are gone
  });

  it('held completions survive a reload', async () => {
    const store = new MemoryStore();
    const h = chain();
    for (const ip of ['a', 'b']) h.notify('server.created', { ip });
    const [s1, s2] = activationSeqs(h, 'register') as [number, number];
    activationDone(h, 'register', s2, 'r2');
    await h.save(store);
    const reloaded = await Harness.load(store);
    activationDone(reloaded, 'register', s1, 'r1');
    expect(reloaded.node('register')).toMatchObject({ result: 'r2', emitted: 2 });
    expect(reloaded.dispatches().filter((d) => d.node === 'audit').map((d) => d.inputs)).toEqual([{ register: 'r1' }, { register: 'r2' }]);
  });
});
