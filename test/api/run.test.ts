/**
 * The core API, happy paths: starting flows (objects and JSON definitions),
 * inputs, fan-out / fan-in, results, status of every node, watching progress
 * and listing runs. Runs against every backend.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { flow, task, type FlowDefinition, type HistoryEntry } from '../../src/index.js';
import { describeBackends } from './backends.js';
import { WAIT, deferred, eventually, rejection } from './helpers.js';

// ---- fixtures --------------------------------------------------------------

// The seed's tasks.
const add = task('add', { requires: ['x', 'y'], apply: ({ x, y }: { x: number; y: number }) => x + y });
const mult = task('mult', { requires: ['add', 'y'], apply: ({ add, y }: { add: number; y: number }) => add * y });

/** The seed's flow: add(1, 2) -> mult(add, y = 3). */
function seed(name = 'My-distributed-flow') {
  const first = add.s({ x: 1, y: 2 });
  const second = mult.s({ y: 3 });
  const flo = flow(name);
  flo.link(first, second);
  return { flo, first, second };
}

// Fan-out / fan-in: base -> (twice, thrice) -> total(left = twice, right = thrice).
const base = task('run-base', { requires: ['n'], provides: 'base', apply: ({ n }: { n: number }) => n + 1 });
const twice = task('run-twice', { requires: ['base'], provides: 'twice', apply: ({ base }: { base: number }) => base * 2 });
const thrice = task('run-thrice', { requires: ['base'], provides: 'thrice', apply: ({ base }: { base: number }) => base * 3 });
const total = task('run-total', {
  requires: ['left', 'right'],
  apply: ({ left, right }: { left: number; right: number }) => ({ left, right, sum: left + right }),
});

const greet = task('run-greet', {
  requires: ['greeting', 'name'],
  optional: ['punctuation'],
  apply: ({ greeting, name, punctuation }: { greeting: string; name: string; punctuation?: string }) => `${greeting}, ${name}${punctuation ?? ''}`,
});

// ---- tests -------------------------------------------------------------------

describeBackends('running flows', (backend) => {
  afterEach(async () => {
    await backend.cleanup();
  });

  it('runs the seed: mult = 9, read through result(node)', async () => {
    const { flo, first, second } = seed();
    const tw = await backend.connect({ tasks: [add, mult] });
    const run = await tw.start(flo);
    const done = await run.wait(WAIT);
    expect(done.status).toBe('succeeded');
    expect(await run.result(second)).toBe(9);
    expect(await run.result(first)).toBe(3);
    expect(await run.result('mult')).toBe(9);
    expect(await run.results()).toEqual({ add: 3, mult: 9 });
  });

  it('fans out and back in, renaming inputs with a link map', async () => {
    const root = base.s({ n: 4 });
    const left = twice.s();
    const right = thrice.s();
    const join = total.s();
    const flo = flow('fan-out-in')
      .link(root, left)
      .link(root, right)
      .link(left, join, { map: { left: 'twice' } })
      .link(right, join, { map: { right: 'thrice' } });
    const tw = await backend.connect({ tasks: [base, twice, thrice, total] });
    const run = await tw.start(flo);
    expect((await run.wait(WAIT)).status).toBe('succeeded');
    expect(await run.result(join)).toEqual({ left: 10, right: 15, sum: 25 });
    expect(await run.results()).toEqual({
      'run-base': 5,
      'run-twice': 10,
      'run-thrice': 15,
      'run-total': { left: 10, right: 15, sum: 25 },
    });
  });

  it('infers links from provides/requires names with flow.add()', async () => {
    const flo = flow('inferred').add(mult.s({ y: 3 }), add.s({ x: 1, y: 2 }));
    const tw = await backend.connect({ tasks: [add, mult] });
    const run = await tw.start(flo);
    expect((await run.wait(WAIT)).status).toBe('succeeded');
    expect(await run.result('mult')).toBe(9);
  });

  it('infers links for optional inputs too with flow.add(): the consumer waits for its provider', async () => {
    const punctuate = task('run-punctuate', {
      provides: 'punctuation',
      apply: async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return '?';
      },
    });
    const flo = flow('inferred-optional').add(greet.s({ greeting: 'Hello', name: 'Ada' }), punctuate.s());
    expect(flo.definition().links).toEqual([{ from: 'run-punctuate', to: 'run-greet', map: {}, inferred: true }]);
    const tw = await backend.connect({ tasks: [greet, punctuate] });
    const run = await tw.start(flo);
    expect((await run.wait(WAIT)).status).toBe('succeeded');
    expect(await run.result('run-greet')).toBe('Hello, Ada?');
  });

  it('publishes a result under several names, each listener taking its field', async () => {
    const split = task('run-split', { requires: ['a', 'b'], provides: ['sum', 'diff'], apply: ({ a, b }: { a: number; b: number }) => ({ sum: a + b, diff: a - b }) });
    const useDiff = task('run-use-diff', { requires: ['diff'], apply: ({ diff }: { diff: number }) => diff * 10 });
    const useBoth = task('run-use-both', { requires: ['total', 'diff'], apply: ({ total, diff }: { total: number; diff: number }) => `${total}/${diff}` });
    const source = split.s({ a: 5, b: 3 });
    const flo = flow('several-names').link(source, useDiff.s()).link(source, useBoth.s(), { map: { total: 'sum' } });
    const tw = await backend.connect({ tasks: [split, useDiff, useBoth] });
    const run = await tw.start(flo);
    expect((await run.wait(WAIT)).status).toBe('succeeded');
    expect(await run.results()).toEqual({ 'run-split': { sum: 8, diff: 2 }, 'run-use-diff': 20, 'run-use-both': '8/2' });
  });

  it('carries dates, bigints and bytes between tasks and back to the caller (docs/codec.md)', async () => {
    const make = task('run-make', { apply: () => ({ when: new Date('2024-01-01T00:00:00Z'), big: 2n ** 70n, bytes: new Uint8Array([1, 2, 255]) }) });
    const check = task('run-check', {
      requires: ['run-make'],
      apply: ({ 'run-make': made }: { 'run-make': { when: Date; big: bigint; bytes: Uint8Array } }) => ({
        year: made.when instanceof Date ? made.when.getUTCFullYear() : 'not a date',
        next: typeof made.big === 'bigint' ? made.big + 1n : 'not a bigint',
        last: made.bytes instanceof Uint8Array ? made.bytes[2] : 'not bytes',
        nothing: undefined,
      }),
    });
    const tw = await backend.connect({ tasks: [make, check] });
    const source = make.s();
    const run = await tw.start(flow('codec-round-trip').link(source, check.s()));
    expect((await run.wait(WAIT)).status).toBe('succeeded');
    expect(await run.result('run-check')).toEqual({ year: 2024, next: 2n ** 70n + 1n, last: 255 });
    const made = await run.result(source);
    expect(made.when).toEqual(new Date('2024-01-01T00:00:00Z'));
    expect(made.big).toBe(2n ** 70n);
    expect(made.bytes).toEqual(new Uint8Array([1, 2, 255]));
  });

  it('uses one task several times under different node ids', async () => {
    const one = add.s({ x: 1, y: 1 }, { id: 'one' });
    const two = add.s({ x: 2, y: 2 }, { id: 'two' });
    const tw = await backend.connect({ tasks: [add] });
    const run = await tw.start(flow('same-task-twice').add(one, two));
    expect((await run.wait(WAIT)).status).toBe('succeeded');
    expect(await run.results()).toEqual({ one: 2, two: 4 });
  });

  it('feeds flow inputs given at start; bound inputs win over them; optional inputs are passed when present', async () => {
    const tw = await backend.connect({ tasks: [greet] });
    const plain = await tw.start(flow('inputs').add(greet.s({ greeting: 'Hello' })), { name: 'Ada', greeting: 'Bye' });
    expect((await plain.wait(WAIT)).status).toBe('succeeded');
    expect(await plain.result('run-greet')).toBe('Hello, Ada');

    const loud = await tw.start(flow('inputs').add(greet.s({ greeting: 'Hi' })), { name: 'Grace', punctuation: '!' });
    expect((await loud.wait(WAIT)).status).toBe('succeeded');
    expect(await loud.result('run-greet')).toBe('Hi, Grace!');
  });

  it('starts a flow given as a JSON definition, with tasks registered by connect({ tasks })', async () => {
    const { flo } = seed('json-flow');
    const definition = JSON.parse(JSON.stringify(flo)) as FlowDefinition;
    expect(JSON.stringify(definition)).not.toContain('=>'); // no code in the definition
    expect(definition.nodes.map((node) => node.name)).toEqual(['add', 'mult']);
    const tw = await backend.connect({ tasks: [add, mult] });
    const run = await tw.start(definition);
    const done = await run.wait(WAIT);
    expect(done.status).toBe('succeeded');
    expect(done.flow).toBe('json-flow');
    expect(await run.result('mult')).toBe(9);
  });

  it('shows a dispatched node queued until a worker starts it, with its queue and run times apart (issue 12)', async () => {
    // One execution at a time: the second node's dispatch waits in the queue while the first runs.
    const gates = { 'queue-first': deferred(), 'queue-second': deferred() };
    const running: string[] = [];
    const gated = (name: keyof typeof gates) =>
      task(name, {
        apply: async () => {
          running.push(name);
          await gates[name].promise;
          return name;
        },
      });
    const first = gated('queue-first');
    const second = gated('queue-second');
    const flo = flow('queued').add(first.s(), second.s());
    const tw = await backend.connect({ tasks: [first, second], concurrency: 1 });
    const run = await tw.start(flo);
    await eventually(async () => {
      const nodes = (await run.status()).nodes;
      expect(Object.values(nodes).map((n) => n.status).sort()).toEqual(['queued', 'running']);
    });
    const ahead = running[0] as keyof typeof gates;
    const behind = ahead === 'queue-first' ? 'queue-second' : 'queue-first';
    const during = (await run.status()).nodes;
    expect(running).toEqual([ahead]);
    expect(during[ahead]).toMatchObject({ status: 'running', startedAt: expect.any(Number) });
    expect(during[behind]).toMatchObject({ status: 'queued', queuedAt: expect.any(Number) });
    expect(during[behind]?.startedAt).toBeUndefined();
    const released = Date.now();
    gates[ahead].resolve();
    await eventually(async () => expect((await run.status()).nodes[behind]?.status).toBe('running'));
    gates[behind].resolve();
    const done = (await run.wait(WAIT)).nodes;
    // The one behind waited for the first to finish: its time queued covers the first's run.
    expect(done[behind]?.startedAt).toBeGreaterThanOrEqual(released);
    expect(done[behind]?.queuedAt).toBeLessThanOrEqual(done[ahead]?.startedAt as number);
    const history = (await run.history()).filter((e) => e.node === behind).map((e) => e.type);
    expect(history).toEqual(['node.queued', 'node.started', 'node.succeeded']);
  });

  it('shows the status of every node, while running and once done', async () => {
    const gate = deferred();
    const started = deferred();
    const held = task('run-held', {
      provides: 'add',
      apply: async () => {
        started.resolve();
        await gate.promise;
        return 4;
      },
    });
    const flo = flow('status').link(held.s(), mult.s({ y: 2 }));
    const tw = await backend.connect({ tasks: [held, mult] });
    const run = await tw.start(flo);
    await started.promise;

    // Queued until the worker reports the start (it has run reportStartAfterMs by then), running after.
    await eventually(async () => expect((await run.status()).nodes['run-held']?.status).toBe('running'));
    const during = await run.status();
    expect(during.id).toBe(run.id);
    expect(during.flow).toBe('status');
    expect(during.status).toBe('running');
    expect(Object.keys(during.nodes).sort()).toEqual(['mult', 'run-held']);
    expect(during.nodes['run-held']).toMatchObject({ id: 'run-held', kind: 'task', name: 'run-held', status: 'running', attempt: 1 });
    expect(during.nodes['run-held']?.startedAt).toBeGreaterThanOrEqual(during.nodes['run-held']?.queuedAt ?? Infinity);
    expect(during.nodes['mult']).toMatchObject({ status: 'waiting', attempt: 0, waitingFor: { sources: ['run-held'] } });
    expect(during.nodes['mult']?.waitingFor?.inputs).toContain('add');
    expect(during.nodes['mult']).not.toHaveProperty('result');

    gate.resolve();
    const done = await run.wait(WAIT);
    expect(done.status).toBe('succeeded');
    for (const id of ['run-held', 'mult']) {
      const node = done.nodes[id];
      expect(node).toMatchObject({ status: 'succeeded', attempt: 1, persistent: false });
      expect(node?.error).toBeUndefined();
      expect(node?.undo).toBeUndefined();
      expect(node?.waitingFor).toBeUndefined();
    }
    expect(done.nodes['run-held']?.result).toBe(4);
    expect(done.nodes['mult']?.result).toBe(8);
    expect(done.cycle).toBeUndefined();
    // Every node's attempt: queued, then started (its outcome carried the start of the short one), then finished.
    for (const node of Object.values(done.nodes)) {
      expect(node.queuedAt).toEqual(expect.any(Number));
      expect(node.startedAt).toBeGreaterThanOrEqual(node.queuedAt as number);
      expect(node.finishedAt).toBeGreaterThanOrEqual(node.startedAt as number);
    }
    // A handle from the id sees the same run.
    expect((await tw.run(run.id).status()).nodes['mult']?.result).toBe(8);
  });

  it('starts a run id once: the same start again is a no-op, another flow under that id is refused', async () => {
    const tw = await backend.connect({ tasks: [add, mult] });
    const id = randomUUID();
    const first = await tw.start(seed('same-id').flo, {}, { id });
    await first.wait(WAIT);
    expect((await tw.start(seed('same-id').flo, {}, { id })).id).toBe(id);
    expect((await rejection(tw.start(seed('other-flow').flo, {}, { id }))).code).toBe('TW_CONFLICT');
    expect((await rejection(tw.start(seed('same-id').flo, { extra: 1 }, { id }))).code).toBe('TW_CONFLICT');
    const after = await first.status();
    expect(after.status).toBe('succeeded');
    expect(after.nodes['mult']).toMatchObject({ attempt: 1, result: 9 });
  });

  it('reports what it cannot answer: unknown runs and nodes, nodes without a result, wait() timing out', async () => {
    const gate = deferred();
    const held = task('run-held-2', { provides: 'add', apply: () => gate.promise.then(() => 1) });
    const tw = await backend.connect({ tasks: [held, mult] });
    const code = async (promise: Promise<unknown>) => (await rejection(promise)).code;
    expect(await code(tw.run(randomUUID()).status())).toBe('TW_UNKNOWN_RUN');
    const run = await tw.start(flow('unanswered').link(held.s(), mult.s({ y: 2 })));
    try {
      expect(await code(run.result('nope'))).toBe('TW_UNKNOWN_NODE');
      expect(await code(run.result('mult'))).toMatch(/^TW_/); // waiting: no result yet
      expect(await code(run.wait({ timeoutMs: 20 }))).toBe('TW_TIMEOUT');
      expect(await run.results()).toEqual({});
    } finally {
      gate.resolve();
    }
    expect((await run.wait(WAIT)).status).toBe('succeeded');
    expect(await run.results()).toEqual({ 'run-held-2': 1, mult: 2 });
  });

  it('announces progress to watchers, in order, ending with the run status', async () => {
    const { flo } = seed('watched');
    // Every entry, node.queued too (distributed, the default announces outcomes only).
    const tw = await backend.connect({ tasks: [add, mult], announce: 'all' });
    const id = randomUUID();
    const seen: HistoryEntry[] = [];
    await tw.watch((entry) => seen.push(entry), id);
    const run = await tw.start(flo, {}, { id });
    expect(run.id).toBe(id);
    expect((await run.wait(WAIT)).status).toBe('succeeded');

    await eventually(() => expect(seen.at(-1)).toMatchObject({ type: 'run.status', status: 'succeeded' }));
    expect(seen.every((entry) => entry.runId === id)).toBe(true);
    const ofMult = seen.filter((entry) => entry.node === 'mult').map((entry) => [entry.type, entry.attempt]);
    expect(ofMult).toEqual([
      ['node.queued', 1],
      ['node.succeeded', 1],
    ]);
    // add finished before mult started.
    const order = seen.map((entry) => `${entry.node ?? '$run'}:${entry.type}`);
    expect(order.indexOf('add:node.succeeded')).toBeLessThan(order.indexOf('mult:node.queued'));
    // Sequence numbers increase, as in the run's history.
    const seqs = seen.map((entry) => entry.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    const history = await run.history();
    expect(history.map((entry) => entry.seq)).toEqual(expect.arrayContaining(seqs));
    expect(history.at(-1)).toMatchObject({ type: 'run.status', status: 'succeeded' });
  });

  it('keeps running, and keeps other watchers informed, when a watcher throws', async () => {
    const tw = await backend.connect({ tasks: [add, mult] });
    const id = randomUUID();
    let thrown = 0;
    await tw.watch(() => {
      thrown++;
      throw new Error('a bug in a watcher');
    }, id);
    const seen: HistoryEntry[] = [];
    await tw.watch((entry) => seen.push(entry), id);
    const run = await tw.start(seed('throwing-watcher').flo, {}, { id });
    expect((await run.wait(WAIT)).status).toBe('succeeded');
    expect(await run.result('mult')).toBe(9);
    await eventually(() => expect(seen.at(-1)).toMatchObject({ type: 'run.status', status: 'succeeded' }));
    expect(thrown).toBe(seen.length);
  });

  it('watches every run when no run id is given', async () => {
    const tw = await backend.connect({ tasks: [add, mult] });
    const seen: HistoryEntry[] = [];
    await tw.watch((entry) => seen.push(entry));
    const one = await tw.start(seed('watch-all').flo);
    const two = await tw.start(seed('watch-all').flo);
    await one.wait(WAIT);
    await two.wait(WAIT);
    await eventually(() => {
      for (const run of [one, two]) {
        expect(seen.some((entry) => entry.runId === run.id && entry.type === 'run.status' && entry.status === 'succeeded')).toBe(true);
      }
    });
  });

  it('lists runs with runs(), filtered by flow and status', async () => {
    const name = `listed-${randomUUID().slice(0, 8)}`;
    const tw = await backend.connect({ tasks: [add, mult] });
    const one = await tw.start(seed(name).flo);
    const two = await tw.start(seed(name).flo);
    await one.wait(WAIT);
    await two.wait(WAIT);
    const listed = await tw.runs({ flow: name });
    expect(listed.map((run) => run.id).sort()).toEqual([one.id, two.id].sort());
    for (const summary of listed) {
      expect(summary).toMatchObject({ flow: name, status: 'succeeded' });
      expect(summary.graphVersion).toBeGreaterThanOrEqual(1);
      expect(summary.updatedAt).toBeGreaterThanOrEqual(summary.createdAt);
    }
    expect(await tw.runs({ flow: name, status: ['failed'] })).toEqual([]);
    expect(await tw.runs({ flow: name, limit: 1 })).toHaveLength(1);
    expect((await tw.runs()).map((run) => run.id)).toEqual(expect.arrayContaining([one.id, two.id]));
  });
});
