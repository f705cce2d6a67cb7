import { describe, expect, it } from 'vitest';
import type { Command } from '../../src/engine/events.js';
import { NODE_TRANSITIONS, RUN_TRANSITIONS, UNDO_TRANSITIONS, ACTIVATION_TRANSITIONS, checkTransition, IllegalTransitionError } from '../../src/engine/transitions.js';
import { InvalidChangeError } from '../../src/errors.js';
import type { RetryPolicy } from '../../src/model/definition.js';
import { flow } from '../../src/model/flow.js';
import { backoffDelayMs } from '../../src/model/retry.js';
import { task } from '../../src/model/task.js';
import { applies, fatal, Harness, oops, snapshot } from './harness.js';

/** A task that needs `requires` and provides its name; the code never runs in these tests. */
const unit = (name: string, spec: { requires?: string[]; provides?: string[]; retry?: number | Partial<RetryPolicy>; rollback?: boolean } = {}) =>
  task(name, { requires: spec.requires ?? [], provides: spec.provides, retry: spec.retry, apply: () => name, ...(spec.rollback ? { rollback: () => undefined } : {}) });

const add = task('add', { requires: ['x', 'y'], apply: ({ x, y }: { x: number; y: number }) => x + y });
const mult = task('mult', { requires: ['add', 'y'], apply: ({ add, y }: { add: number; y: number }) => add * y });

type UnitSpec = Parameters<typeof unit>[1];
type UnitNode = ReturnType<ReturnType<typeof unit>['s']>;

/** Nodes by id, made on first use (of `unit` tasks with `spec`), so flows read link by link. */
function nodes(spec: UnitSpec = {}): (id: string, own?: UnitSpec) => UnitNode {
  const made = new Map<string, UnitNode>();
  return (id, own) => {
    const node = made.get(id) ?? unit(id, { ...spec, ...own }).s();
    made.set(id, node);
    return node;
  };
}

/** root -> each of `children`, with no inputs passed. */
function fan(children: string[], options: UnitSpec & { onFailure?: 'halt' | 'rollback' } = {}) {
  const { onFailure = 'halt', ...spec } = options;
  const n = nodes(spec);
  const flo = flow('fan', { onFailure });
  for (const child of children) flo.link(n('root'), n(child));
  return flo;
}

/** The `finished` commands so far. */
const finished = (h: Harness): Command[] => h.commands.filter((c) => c.type === 'finished');

describe('the seed: add(1, 2) -> mult(add, y=3)', () => {
  it('dispatches add, then mult with add\'s result, and finishes with 9', () => {
    const h = new Harness(flow('seed').link(add.s({ x: 1, y: 2 }), mult.s({ y: 3 })));
    expect(h.status).toBe('running');
    const started = h.start();
    expect(started.commands).toEqual([
      { type: 'dispatch', kind: 'apply', runId: 'run-1', node: 'add', attempt: 1, task: 'add', inputs: { x: 1, y: 2 }, timeoutMs: 0, queue: 'default' },
    ]);
    expect(started.history.map((e) => e.type)).toEqual(['run.started', 'node.queued']);
    expect(h.node('add').status).toBe('running');
    expect(h.node('mult').status).toBe('waiting');

    const afterAdd = h.succeed('add', 3);
    expect(applies(afterAdd).map((c) => [c.node, c.inputs])).toEqual([['mult', { add: 3, y: 3 }]]);
    expect([...afterAdd.nodes].sort()).toEqual(['add', 'mult']);

    const afterMult = h.succeed('mult', 9);
    expect(h.node('mult').result).toBe(9);
    expect(h.status).toBe('succeeded');
    expect(afterMult.commands).toEqual([{ type: 'finished', runId: 'run-1', status: 'succeeded' }]);
    // seq also numbers completions, so it increases strictly but may skip numbers.
    expect(h.history.every((e, i) => i === 0 || e.seq > (h.history[i - 1]?.seq ?? 0))).toBe(true);
    expect(h.history.at(-1)).toMatchObject({ type: 'run.status', status: 'succeeded' });
  });
});

describe('inputs and ordering', () => {
  it('fans out, and fans in only after ALL sources succeeded (ordering links included)', () => {
    const n = nodes();
    const join = n('join', { requires: ['b', 'c'] });
    const h = new Harness(flow('f').link(n('root'), n('b')).link(n('root'), n('c')).link(n('b'), join).link(n('c'), join).link(n('order'), join));
    expect(h.dispatched()).toEqual([]);
    h.start();
    expect(h.dispatched()).toEqual(['root', 'order']);
    expect(h.dispatched().slice(2)).toEqual([]);
    h.succeed('root', 0);
    expect(h.dispatched().slice(2)).toEqual(['b', 'c']);
    h.succeed('c', 'C');
    h.succeed('b', 'B');
    expect(h.node('join').status).toBe('waiting');
    const out = h.succeed('order', null);
    expect(applies(out).map((d) => [d.node, d.inputs])).toEqual([['join', { b: 'B', c: 'C' }]]);
  });

  it('resolves inputs: bound values win over sources, sources over flow inputs; multi-name results give fields', () => {
    const pair = unit('pair', { provides: ['a', 'b'] }).s();
    const user = unit('user', { requires: ['a', 'b', 'token'] }).s({ b: 'bound' });
    const h = new Harness(flow('f').link(pair, user), { inputs: { token: 't', a: 'flow' } });
    h.start();
    h.succeed('pair', { a: 'A', b: 'B' });
    expect(h.dispatches().at(-1)?.inputs).toEqual({ a: 'A', b: 'bound', token: 't' });
  });

  it('renames through a link map', () => {
    const server = unit('kickServer').s();
    const install = unit('install', { requires: ['address'] }).s();
    const h = new Harness(flow('f').link(server, install, { map: { address: 'kickServer' } }));
    h.start();
    h.succeed('kickServer', '10.0.0.1');
    expect(h.dispatches().at(-1)?.inputs).toEqual({ address: '10.0.0.1' });
  });
});

describe('duplicate and stale signals', () => {
  it.each([
    ['the same success twice', (h: Harness) => h.succeed('add', 3, 1)],
    ['a success of a wrong attempt', (h: Harness) => h.succeed('mult', 9, 2)],
    ['a failure of a finished node', (h: Harness) => h.fail('add', oops, 1)],
    ['a retry that was never scheduled', (h: Harness) => h.send({ type: 'retry.due', node: 'mult', attempt: 2 })],
    ['a rollback result with no rollback running', (h: Harness) => h.send({ type: 'rollback.succeeded', node: 'add', attempt: 1 })],
    ['a signal for an unknown node', (h: Harness) => h.succeed('ghost', 1, 1)],
    ['a notification of an unknown event', (h: Harness) => h.notify('nobody.listens', {})],
  ])('%s changes nothing', (_what, signal) => {
    const h = new Harness(flow('seed').link(add.s({ x: 1, y: 2 }), mult.s({ y: 3 })));
    h.start();
    h.succeed('add', 3);
    const before = snapshot(h.live);
    const out = signal(h);
    expect(out.history).toEqual([]);
    expect(out.commands).toEqual([]);
    expect(out.nodes.size).toBe(0);
    expect(snapshot(h.live)).toEqual(before);
  });
});

describe('retries', () => {
  const policy = { limit: 3, initialDelayMs: 100, factor: 2, maxDelayMs: 300, jitter: 0.5 };

  it('numbers attempts and schedules each retry after an exponential, capped, jittered delay', () => {
    const h = new Harness(flow('f').add(unit('flaky', { retry: policy }).s()));
    h.start();
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      h.now += 1000;
      const out = h.fail('flaky');
      const schedule = out.commands.find((c) => c.type === 'schedule');
      expect(schedule).toMatchObject({ type: 'schedule', runId: 'run-1', node: 'flaky', attempt: attempt + 1 });
      const delay = (schedule as { dueAt: number }).dueAt - h.now;
      delays.push(delay);
      expect(delay).toBe(backoffDelayMs(h.node('flaky').def.retry, attempt, `run-1/flaky//${attempt}`));
      expect(h.node('flaky')).toMatchObject({ status: 'retrying', attempt, error: oops, retryAt: h.now + delay });
      expect(h.status).toBe('running');
      expect(h.retryDue('flaky').commands).toMatchObject([{ type: 'dispatch', node: 'flaky', attempt: attempt + 1 }]);
    }
    const bases = [100, 200, 300]; // 100 * 2^(n-1), capped at 300
    delays.forEach((delay, i) => {
      expect(delay).toBeLessThanOrEqual(bases[i] as number);
      expect(delay).toBeGreaterThanOrEqual((bases[i] as number) * (1 - policy.jitter));
    });
    expect(h.entries('node.retrying').map((e) => [e.attempt, e.detail?.['dueAt']])).toHaveLength(3);
    const last = h.fail('flaky');
    expect(last.commands.some((c) => c.type === 'schedule')).toBe(false);
    expect(h.node('flaky')).toMatchObject({ status: 'failed', attempt: 4, error: oops });
    expect(h.dispatches().map((d) => d.attempt)).toEqual([1, 2, 3, 4]);
    expect(h.status).toBe('failed');
    expect(finished(h)).toEqual([{ type: 'finished', runId: 'run-1', status: 'failed' }]);
  });

  it('without jitter, delays are exactly exponential and capped', () => {
    const h = new Harness(flow('f').add(unit('flaky', { retry: { ...policy, limit: 4, jitter: 0 } }).s()));
    h.start();
    const delays = [1, 2, 3, 4].map(() => {
      const due = h.fail('flaky').commands.find((c) => c.type === 'schedule') as { dueAt: number };
      h.retryDue('flaky');
      return due.dueAt - h.now;
    });
    expect(delays).toEqual([100, 200, 300, 300]);
  });

  it('jitter is within bounds and deterministic for every seed', () => {
    const p = { ...policy, jitter: 1, maxDelayMs: 10_000 };
    for (let i = 0; i < 200; i++) {
      const d = backoffDelayMs(p, 3, `run-${i}/n//3`);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(400);
      expect(backoffDelayMs(p, 3, `run-${i}/n//3`)).toBe(d);
    }
  });

  it('fails at once on an error that is not retryable', () => {
    const h = new Harness(flow('f').add(unit('doomed', { retry: 5 }).s()));
    h.start();
    const out = h.fail('doomed', fatal);
    expect(out.commands.filter((c) => c.type === 'schedule')).toEqual([]);
    expect(h.node('doomed')).toMatchObject({ status: 'failed', attempt: 1, error: fatal });
    expect(h.entries('node.failed')).toMatchObject([{ node: 'doomed', attempt: 1, detail: { name: 'NonRetryableError', message: 'fatal' } }]);
    expect(h.status).toBe('failed');
  });

  it('after the last failure, dispatches the node\'s own rollback', () => {
    const h = new Harness(flow('f').add(unit('undoable', { requires: ['x'], rollback: true }).s({ x: 1 })));
    h.start();
    h.fail('undoable', fatal);
    expect(h.dispatches('rollback')).toMatchObject([{ kind: 'rollback', node: 'undoable', attempt: 1, inputs: { x: 1 }, error: fatal }]);
    expect(h.node('undoable').undo).toBe('running');
    expect(h.status).toBe('running'); // the rollback runs
    h.rolledBack('undoable');
    expect(h.node('undoable').undo).toBe('done');
    expect(h.status).toBe('failed');
  });
});

describe('failure policy halt', () => {
  it('lets independent branches complete, never starts downstream nodes, then fails', () => {
    const n = nodes();
    const h = new Harness(flow('f').link(n('root'), n('a')).link(n('a'), n('a2')).link(n('root'), n('b')).link(n('b'), n('b2')));
    h.start();
    h.succeed('root', 0);
    h.fail('a', fatal);
    expect(h.status).toBe('running');
    h.succeed('b', 1);
    expect(h.status).toBe('running');
    h.succeed('b2', 2);
    expect(h.status).toBe('failed');
    expect(h.dispatched()).toEqual(['root', 'a', 'b', 'b2']);
    expect(h.node('a2').status).toBe('waiting');
    expect(finished(h)).toEqual([{ type: 'finished', runId: 'run-1', status: 'failed' }]);
  });
});

describe('failure policy rollback (saga)', () => {
  it('rolls back completed nodes one at a time, latest first, after running nodes finish', () => {
    const n = nodes({ rollback: true });
    const h = new Harness(fan(['a', 'b', 'c', 'd'], { onFailure: 'rollback', rollback: true }).link(n('b'), n('after')));
    h.start();
    h.succeed('root', 0);
    h.succeed('a', 1);
    h.fail('c', fatal);
    expect(h.status).toBe('rolling_back');
    expect(h.dispatched('rollback')).toEqual(['c']); // c's own rollback, nothing else while b, d run
    h.succeed('d', 4);
    h.succeed('b', 2); // would start `after`, but no new work starts in a saga
    h.rolledBack('c');
    expect(h.dispatched('rollback')).toEqual(['c', 'b']);
    expect(h.dispatches('rollback').at(-1)).toMatchObject({ node: 'b', result: 2 });
    h.rolledBack('b');
    expect(h.dispatched('rollback')).toEqual(['c', 'b', 'd']);
    h.rolledBack('d');
    h.rolledBack('a');
    expect(h.status).toBe('rolling_back');
    h.rolledBack('root');
    expect(h.dispatched('rollback')).toEqual(['c', 'b', 'd', 'a', 'root']);
    expect(h.dispatched()).not.toContain('after');
    expect(h.status).toBe('rolled_back');
    expect(finished(h)).toEqual([{ type: 'finished', runId: 'run-1', status: 'rolled_back' }]);
    expect(() => h.change({ op: 'retry', node: 'c' })).toThrow(InvalidChangeError);
  });

  it('records a rollback failure on the node and in the history, carries on, and ends rollback_failed', () => {
    const h = new Harness(fan(['a', 'b'], { onFailure: 'rollback', rollback: true }));
    h.start();
    h.succeed('root', 0);
    h.succeed('a', 1);
    h.fail('b', fatal);
    h.rolledBack('b');
    expect(h.dispatched('rollback')).toEqual(['b', 'a']);
    const error = { name: 'Error', message: 'cannot undo a', retryable: true };
    h.rolledBack('a', error);
    expect(h.node('a')).toMatchObject({ undo: 'failed', undoError: error });
    expect(h.entries('rollback.failed')).toMatchObject([{ node: 'a', detail: { name: 'Error', message: 'cannot undo a' } }]);
    expect(h.dispatched('rollback')).toEqual(['b', 'a', 'root']);
    h.rolledBack('root');
    expect(h.status).toBe('rollback_failed');
  });

  it('does not start a pending retry during the saga: the node is cancelled', () => {
    const h = new Harness(fan(['a', 'b', 'slow'], { onFailure: 'rollback', rollback: true, retry: 2 }));
    h.start();
    h.succeed('root', 0);
    h.fail('a'); // a will retry
    h.fail('b', fatal); // the saga starts while a waits for its retry and slow runs
    const out = h.send({ type: 'retry.due', node: 'a', attempt: 2 });
    expect(applies(out)).toEqual([]);
    h.rolledBack('b');
    h.succeed('slow', 1);
    expect(h.node('a').status).toBe('cancelled');
    expect(h.dispatched()).toEqual(['root', 'a', 'b', 'slow']);
    expect(h.dispatched('rollback')).toEqual(['b', 'slow']);
  });
});

describe('cancel', () => {
  it('aborts, cancels running, retrying and waiting nodes, then ignores late signals', () => {
    const n = nodes();
    const h = new Harness(flow('f').link(n('root'), n('a')).link(n('a'), n('a2')).link(n('root'), n('b', { retry: 1 })));
    h.start();
    h.succeed('root', 0);
    h.fail('b');
    const out = h.change({ op: 'cancel' });
    expect(out.commands).toEqual([
      { type: 'abort', runId: 'run-1' },
      { type: 'finished', runId: 'run-1', status: 'cancelled' },
    ]);
    expect(['root', 'a', 'b', 'a2'].map((id) => h.node(id).status)).toEqual(['succeeded', 'cancelled', 'cancelled', 'cancelled']);
    expect(h.entries('change')).toMatchObject([{ actor: 'alice', detail: { op: 'cancel' } }]);
    expect(h.status).toBe('cancelled');
    const before = snapshot(h.live);
    expect(h.succeed('a', 1, 1).history).toEqual([]);
    expect(h.send({ type: 'retry.due', node: 'b', attempt: 2 }).history).toEqual([]);
    expect(snapshot(h.live)).toEqual(before);
    expect(() => h.change({ op: 'retry', node: 'a' })).toThrow(/run "run-1" is cancelled: it cannot be changed/);
  });
});

describe('transition tables', () => {
  it('rejects illegal moves with IllegalTransitionError', () => {
    expect(() => checkTransition(NODE_TRANSITIONS, 'node "n"', 'succeeded', 'running')).toThrow(IllegalTransitionError);
    expect(() => checkTransition(NODE_TRANSITIONS, 'node "n"', 'succeeded', 'running')).toThrow('illegal node "n" transition succeeded -> running');
    expect(() => checkTransition(NODE_TRANSITIONS, 'node', 'skipped', 'waiting')).toThrow(IllegalTransitionError);
    expect(() => checkTransition(NODE_TRANSITIONS, 'node', 'waiting', 'succeeded')).toThrow(IllegalTransitionError);
    expect(() => checkTransition(ACTIVATION_TRANSITIONS, 'activation', 'succeeded', 'running')).toThrow(IllegalTransitionError);
    expect(() => checkTransition(UNDO_TRANSITIONS, 'rollback', 'done', 'running')).toThrow(IllegalTransitionError);
    expect(() => checkTransition(RUN_TRANSITIONS, 'run', 'rolled_back', 'running')).toThrow(IllegalTransitionError);
    expect(() => checkTransition(NODE_TRANSITIONS, 'node', 'waiting', 'running')).not.toThrow();
  });

  it('finished nodes and terminal runs have no way out', () => {
    expect(NODE_TRANSITIONS.succeeded).toEqual([]);
    expect(NODE_TRANSITIONS.skipped).toEqual([]);
    expect(RUN_TRANSITIONS.cancelled).toEqual([]);
    expect(RUN_TRANSITIONS.rolled_back).toEqual([]);
  });
});

describe('queued and started (issue 12: a dispatched node is queued until a worker starts it)', () => {
  it("records the dispatch as queued, the worker's report as started once, and keeps the start between dispatch and now", () => {
    const n = nodes({ retry: { limit: 1, initialDelayMs: 10 } });
    const h = new Harness(flow('q').add(n('a')));
    h.now = 1000;
    h.start();
    expect(h.node('a')).toMatchObject({ status: 'running', queuedAt: 1000 });
    expect(h.node('a').startedAt).toBeUndefined();
    expect(h.entries('node.queued')).toHaveLength(1);

    h.now = 1500;
    // A worker whose clock is behind: its start is kept no earlier than the dispatch.
    h.send({ type: 'task.started', node: 'a', attempt: 1, startedAt: 900 });
    expect(h.node('a').startedAt).toBe(1000);
    expect(h.entries('node.started')).toMatchObject([{ node: 'a', attempt: 1, at: 1500 }]);
    // A second report (a redelivery) and the outcome's own start change nothing.
    const again = h.send({ type: 'task.started', node: 'a', attempt: 1, startedAt: 1200 });
    expect(again.history).toEqual([]);
    h.now = 1600;
    h.send({ type: 'task.failed', node: 'a', attempt: 1, error: oops, startedAt: 1200 });
    expect(h.node('a').startedAt).toBe(1000);
    // The failed attempt's start is kept in its entry; the retry is queued afresh.
    expect(h.entries('node.retrying').at(-1)?.detail).toMatchObject({ startedAt: 1000 });
    h.now = 2000;
    h.retryDue('a');
    expect(h.node('a')).toMatchObject({ status: 'running', attempt: 2, queuedAt: 2000 });
    expect(h.node('a').startedAt).toBeUndefined();
    // A short attempt: no report, its outcome carries the start (a clock ahead is kept no later than now).
    h.now = 2100;
    h.send({ type: 'task.succeeded', node: 'a', attempt: 2, result: 1, startedAt: 5000 });
    expect(h.node('a')).toMatchObject({ status: 'succeeded', queuedAt: 2000, startedAt: 2100, finishedAt: 2100 });
    // A late report of an attempt that is over changes nothing.
    expect(h.send({ type: 'task.started', node: 'a', attempt: 2, startedAt: 2050 }).history).toEqual([]);
  });
});
