/**
 * The store contract: the behaviour every {@link Store} adapter must have, with
 * states produced by the real engine. Run it from an adapter's test file:
 * `storeContract('sqlite', async () => ({ store, cleanup }))`.
 */
import { describe, expect, it } from 'vitest';
import { createRun, emptyOutput, liveRun, runHeader, step } from '../../src/engine/index.js';
import type { EngineEvent, LiveRun, NodeState, RunHeader, RunState, RunStatus } from '../../src/engine/index.js';
import type { FlowDefinition, NodeDefinition } from '../../src/model/definition.js';
import { shardOf } from '../../src/model/shard.js';
import { stepCommit } from '../../src/store/step-commit.js';
import type { OutboxItem, StepCommit, Store, TaskInfo, WorkerBeat } from '../../src/store/port.js';
import { freshStore, type StoreFactory } from './fresh-store.js';
import { listingContract } from './listing-contract.js';
import { pruneContract } from './prune-contract.js';
import { scheduleContract } from './schedule-contract.js';
import { gatesContract } from './gates-contract.js';

export type { StoreFactory } from './fresh-store.js';

const RETRY = { limit: 0, initialDelayMs: 1000, factor: 2, maxDelayMs: 60000, jitter: 0.2 };
const EVENT = 'order.placed';

function task(id: string, extra: Partial<NodeDefinition> = {}): NodeDefinition {
  return { id, kind: 'task', name: `task.${id}`, bound: {}, requires: [], optional: [], provides: [id], persistent: false, rollback: false, retry: RETRY, timeoutMs: 0, queue: 'default', ...extra };
}

/** Tasks `a` and `b`, an event `ev` and a persistent listener `p` of it (retried once). */
function orderFlow(name = 'orders'): FlowDefinition {
  return {
    name,
    onFailure: 'halt',
    nodes: [
      task('a', { bound: { greeting: 'grüß dich 😀', nested: { list: [1, null, true] } } }),
      task('b'),
      task('ev', { kind: 'event', name: EVENT, provides: ['order'] }),
      task('p', { persistent: true, requires: ['order'], retry: { ...RETRY, limit: 1 } }),
    ],
    links: [{ from: 'ev', to: 'p', map: {}, inferred: true }],
  };
}

/** An order flow whose listener `p` also requires the result of `b`: notifications wait in its backlog until `b` succeeds. */
function backlogFlow(): FlowDefinition {
  const flow = orderFlow();
  return {
    ...flow,
    nodes: flow.nodes.map((n) => (n.id === 'p' ? { ...n, requires: ['order', 'b'] } : n)),
    links: [...flow.links, { from: 'b', to: 'p', map: {}, inferred: true }],
  };
}

/** A run driven by the engine; each `next` is one step (or several) committed as one {@link StepCommit}. */
class Scenario {
  readonly live: LiveRun;
  constructor(id: string, now = 1, flow = orderFlow(), region = 'eu') {
    this.live = liveRun(createRun(flow, { id, inputs: { region }, validate: true, now }));
  }
  get run(): RunState {
    return this.live.state;
  }
  /** Applies the events (then those `more` gives) and returns their commit (a deep copy: the engine mutates its state later). */
  next(events: EngineEvent[], now: number, more?: () => EngineEvent[]): StepCommit {
    const out = emptyOutput();
    for (const event of events) step(this.live, event, now, out);
    for (const event of more?.() ?? []) step(this.live, event, now, out);
    const expectedRev = this.run.rev;
    this.run.rev = expectedRev + 1;
    const { id } = this.run;
    const outbox: OutboxItem[] = out.commands.map((command, i) => ({
      id: `${id}:${this.run.rev}:${i}`,
      runId: id,
      dueAt: command.type === 'schedule' ? command.dueAt : now,
      command,
    }));
    return structuredClone(stepCommit(this.run, expectedRev, out, outbox));
  }
  /** A deep copy of the run's current state. */
  snapshot(): RunState {
    return structuredClone(this.run);
  }
}

/** The second step of an order run: `a` succeeds, `b` is removed, four notifications activate `p`, whose activations then succeed, fail, retry, and run. */
function busyStep(s: Scenario, now = 5, result = 'done'): StepCommit {
  const events: EngineEvent[] = [
    { type: 'task.succeeded', node: 'a', attempt: 1, result: { ok: true, items: ['x', 'ü'] } },
    { type: 'change', change: { op: 'remove', node: 'b' }, actor: 'tester' },
  ];
  for (let i = 0; i < 4; i++) events.push({ type: 'notify', event: EVENT, payload: { order: i } });
  return s.next(events, now, () => {
    const seqs = [...s.run.activations.values()].map((a) => a.seq);
    return [
      { type: 'task.succeeded', node: 'p', attempt: 1, activation: seqs[0] ?? -1, result },
      { type: 'task.failed', node: 'p', attempt: 1, activation: seqs[1] ?? -1, error: { name: 'Boom', message: 'no', retryable: false } },
      { type: 'task.failed', node: 'p', attempt: 1, activation: seqs[2] ?? -1, error: { name: 'Flaky', message: 'later', retryable: true } },
    ];
  });
}

/** A bare run (no nodes) with the given header fields, as its creating commit. */
function bareRun(id: string, fields: Partial<RunHeader> = {}, nodes: NodeState[] = []): StepCommit {
  const run: RunHeader = { ...runHeader(createRun({ name: 'orders', onFailure: 'halt', nodes: [], links: [] }, { id, inputs: {}, validate: false, now: 1 })), rev: 1, ...fields };
  return { run, expectedRev: 0, nodes, removed: [], activations: [], history: [], outbox: [] };
}

function outboxItem(id: string, runId: string, dueAt: number): OutboxItem {
  return { id, runId, dueAt, command: { type: 'schedule', runId, dueAt, node: 'a', attempt: 2 } };
}

/** Defines the contract suite for one adapter. */
export function storeContract(name: string, factory: StoreFactory): void {
  describe(`store contract: ${name}`, () => {
    let store: Store;
    freshStore(factory, (made) => (store = made));

    it('creates a run and loads it back equal', async () => {
      const s = new Scenario('r1');
      const commit = s.next([{ type: 'start' }], 2);
      expect(commit.expectedRev).toBe(0);
      expect(await store.commit([commit])).toEqual({ conflicts: [] });
      const loaded = await store.loadRun('r1');
      expect(loaded).toEqual(s.snapshot());
      expect(loaded?.rev).toBe(1);
      expect([...(loaded?.nodes.keys() ?? [])]).toEqual(['a', 'b', 'ev', 'p']); // the engine iterates nodes in this order
      expect(await store.history('r1')).toEqual(commit.history);
      expect(await store.activations('r1')).toEqual([]);
    });

    it('commits a later step: nodes updated and removed, activations and history added', async () => {
      const s = new Scenario('r1');
      await store.commit([s.next([{ type: 'start' }], 2)]);
      const commit = busyStep(s);
      expect(commit.expectedRev).toBe(1);
      expect(await store.commit([commit])).toEqual({ conflicts: [] });
      const loaded = await store.loadRun('r1');
      expect(loaded).toEqual(s.snapshot());
      expect([...(loaded?.nodes.keys() ?? [])]).toEqual(['a', 'ev', 'p']);
      expect(loaded?.nodes.get('a')?.status).toBe('succeeded');
      const statuses = (await store.activations('r1')).map((a) => a.status);
      expect(statuses).toEqual(['succeeded', 'failed', 'retrying', 'running']);
      // finished (succeeded, cancelled) activations stay out of the loaded state; failed ones stay in
      expect([...(loaded?.activations.values() ?? [])].map((a) => a.status).sort()).toEqual(['failed', 'retrying', 'running']);
      expect(await store.history('r1')).toEqual([...(await store.history('r1', { limit: 3 })), ...(await store.history('r1', { after: 3 }))]);
      expect((await store.history('r1')).length).toBeGreaterThan(10);

      await store.commit([s.next([{ type: 'change', change: { op: 'cancel' }, actor: 'tester' }], 6)]);
      const cancelled = await store.loadRun('r1');
      expect(cancelled).toEqual(s.snapshot());
      expect([...(cancelled?.activations.values() ?? [])].map((a) => a.status)).toEqual(['failed']);
      expect((await store.activations('r1')).map((a) => a.status)).toEqual(['succeeded', 'failed', 'cancelled', 'cancelled']);
    });

    it('commits steps that change no header field but rev, status, graph version, seq and update time without the header, and loads the run the same', async () => {
      const s = new Scenario('r1');
      await store.commit([s.next([{ type: 'start' }], 2)]);
      const first = s.next([{ type: 'task.succeeded', node: 'a', attempt: 1, result: 1 }], 3);
      expect(first.headerChanged).toBe(false);
      expect(await store.commit([first])).toEqual({ conflicts: [] });
      expect(await store.loadRun('r1')).toEqual(s.snapshot());
      const settled = s.next([{ type: 'task.succeeded', node: 'b', attempt: 1, result: 2 }], 4);
      expect([settled.headerChanged, settled.run.status]).toEqual([false, 'listening']); // the status changes, in its column
      expect(await store.commit([settled])).toEqual({ conflicts: [] });
      expect(await store.commit([settled])).toEqual({ conflicts: ['r1'] }); // replayed: stale, as any step
      expect(await store.loadRun('r1')).toEqual(s.snapshot());
      expect((await store.listRuns()).map((r) => [r.id, r.status, r.updatedAt])).toEqual([['r1', 'listening', 4]]);
      const stop = s.next([{ type: 'change', change: { op: 'stop' }, actor: 'tester' }], 5);
      expect(stop.headerChanged).toBe(true); // stopped is set
      expect(await store.commit([stop])).toEqual({ conflicts: [] });
      expect(await store.loadRun('r1')).toEqual(s.snapshot());
      expect(await store.loadRun('r1')).toMatchObject({ stopped: true, rev: 4, graphVersion: 2 });
    });

    it('applies a step that removes a node and adds it again: the new node is kept, after the others', async () => {
      const s = new Scenario('r1');
      await store.commit([s.next([{ type: 'start' }], 2)]);
      const again = task('b', { name: 'task.b2', bound: { second: true } });
      const commit = s.next(
        [
          { type: 'change', change: { op: 'remove', node: 'b' }, actor: 'tester' },
          { type: 'change', change: { op: 'add', node: again }, actor: 'tester' },
        ],
        3,
      );
      expect(commit.removed).toEqual(['b']);
      expect(commit.nodes.map((n) => n.def.id)).toContain('b');
      expect(await store.commit([commit])).toEqual({ conflicts: [] });
      const loaded = await store.loadRun('r1');
      expect(loaded).toEqual(s.snapshot());
      expect(loaded?.nodes.get('b')).toMatchObject({ def: { name: 'task.b2' }, status: 'running', attempt: 2, attemptBase: 1 });
      expect([...(loaded?.nodes.keys() ?? [])]).toEqual(['a', 'ev', 'p', 'b']);
    });

    it('loads the succeeded activations a saga owes a compensation (failure policy rollback)', async () => {
      const base = orderFlow();
      const flow: FlowDefinition = { ...base, onFailure: 'rollback', nodes: base.nodes.map((n) => (n.id === 'p' ? { ...n, rollback: true } : n)) };
      const s = new Scenario('r1', 1, flow);
      await store.commit([s.next([{ type: 'start' }], 2), busyStep(s)]);
      const loaded = await store.loadRun('r1');
      expect(loaded).toEqual(s.snapshot());
      expect([...(loaded?.activations.values() ?? [])].map((a) => a.status).sort()).toEqual(['failed', 'retrying', 'running', 'succeeded']);
    });

    it('loads an owed activation whose result and run inputs hold a NUL character (rows PostgreSQL keeps as JSON strings)', async () => {
      const base = orderFlow();
      const flow: FlowDefinition = { ...base, onFailure: 'rollback', nodes: base.nodes.map((n) => (n.id === 'p' ? { ...n, rollback: true } : n)) };
      const s = new Scenario('r1', 1, flow, 'e\u0000u');
      await store.commit([s.next([{ type: 'start' }], 2), busyStep(s, 5, 'do\u0000ne')]);
      const loaded = await store.loadRun('r1');
      expect(loaded).toEqual(s.snapshot());
      expect([...(loaded?.activations.values() ?? [])].find((a) => a.status === 'succeeded')?.result).toBe('do\u0000ne');
    });

    it("keeps a persistent listener's backlog as rows: one row written per notification, all deleted once drained", async () => {
      const s = new Scenario('r1', 1, backlogFlow());
      await store.commit([s.next([{ type: 'start' }], 2)]);
      for (let i = 0; i < 3; i++) {
        const commit = s.next([{ type: 'notify', event: EVENT, payload: { order: i } }], 3 + i);
        expect(commit.nodes.map((n) => n.def.id)).not.toContain('p'); // the listener's row is not rewritten
        expect(commit.backlog).toEqual([{ node: 'p', seq: expect.any(Number), from: 'ev', value: { order: i } }]);
        await store.commit([commit]);
        const loaded = await store.loadRun('r1');
        expect(loaded).toEqual(s.snapshot());
        expect(loaded?.nodes.get('p')?.backlog?.map((e) => e.value)).toEqual(Array.from({ length: i + 1 }, (_, k) => ({ order: k })));
      }
      const drain = s.next([{ type: 'task.succeeded', node: 'b', attempt: 1, result: 'B' }], 9);
      expect(drain.drained).toEqual(['p']);
      await store.commit([drain]);
      const loaded = await store.loadRun('r1');
      expect(loaded).toEqual(s.snapshot());
      expect(loaded?.nodes.get('p')?.backlog).toBeUndefined();
      expect((await store.activations('r1', 'p')).map((a) => a.inputs['order'])).toEqual([{ order: 0 }, { order: 1 }, { order: 2 }].map((v) => v.order));
    });

    it("keeps a persistent listener's held results as rows: one row per result held back, deleted once passed on", async () => {
      const s = new Scenario('r1');
      await store.commit([s.next([{ type: 'start' }], 2)]);
      await store.commit([s.next([0, 1, 2, 3].map((i): EngineEvent => ({ type: 'notify', event: EVENT, payload: { order: i } })), 3)]);
      const [first, second, third, fourth] = [...s.run.activations.values()].filter((a) => a.node === 'p').map((a) => a.seq) as [number, number, number, number];
      const done = (seq: number, now: number) => s.next([{ type: 'task.succeeded', node: 'p', attempt: 1, activation: seq, result: { seq } }], now);
      const held = done(fourth, 4);
      expect(held.held).toEqual([{ node: 'p', seq: fourth, result: { seq: fourth } }]);
      await store.commit([held]);
      expect(await store.loadRun('r1')).toEqual(s.snapshot());
      // One batch: a result held back, then the first passed on at once (the second still runs).
      const [third_, first_] = [done(third, 5), done(first, 6)];
      expect(first_.held).toEqual([]);
      await store.commit([third_, first_]);
      let loaded = await store.loadRun('r1');
      expect(loaded).toEqual(s.snapshot());
      expect(loaded?.nodes.get('p')?.held?.map((e) => e.seq)).toEqual([third, fourth]);
      const last = done(second, 7);
      expect(last.released).toEqual([{ node: 'p', upTo: fourth }]);
      await store.commit([last]);
      loaded = await store.loadRun('r1');
      expect(loaded).toEqual(s.snapshot());
      expect(loaded?.nodes.get('p')).toMatchObject({ emitted: 4, result: { seq: fourth } });
      expect(loaded?.nodes.get('p')?.held).toBeUndefined();
    });

    it('pages history and activations', async () => {
      const s = new Scenario('r1');
      await store.commit([s.next([{ type: 'start' }], 2), busyStep(s)]);
      const all = await store.history('r1');
      const seqs = all.map((e) => e.seq);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(await store.history('r1', { limit: 2 })).toEqual(all.slice(0, 2));
      expect(await store.history('r1', { after: seqs[3], limit: 4 })).toEqual(all.slice(4, 8));
      expect(await store.history('r1', { after: seqs.at(-1) })).toEqual([]);
      expect(await store.history('r1', { limit: 0 })).toEqual([]);
      const acts = await store.activations('r1');
      expect(acts).toHaveLength(4);
      expect(await store.activations('r1', 'p', { after: acts[0]?.seq, limit: 2 })).toEqual(acts.slice(1, 3));
      expect(await store.activations('r1', 'a')).toEqual([]);
      expect(await store.history('nope')).toEqual([]);
      expect(await store.activations('nope')).toEqual([]);
    });

    it('keeps outbox items until deleted, hands out due ones oldest first', async () => {
      const s = new Scenario('r1');
      const create = s.next([{ type: 'start' }], 2);
      expect(create.outbox).toHaveLength(2); // the dispatches of a and b
      await store.commit([create]);
      expect(await store.dueOutbox(2, 10)).toEqual(create.outbox);
      await store.deleteOutbox(create.outbox.map((o) => o.id));
      const r2 = bareRun('r2');
      r2.outbox = [outboxItem('x30', 'r2', 30), outboxItem('x10', 'r2', 10), outboxItem('x20', 'r2', 20), outboxItem('x50', 'r2', 50)];
      await store.commit([r2]);
      expect(await store.dueOutbox(5, 10)).toEqual([]);
      expect(await store.dueOutbox(25, 10)).toEqual([r2.outbox[1], r2.outbox[2]]);
      expect((await store.dueOutbox(100, 3)).map((o) => o.id)).toEqual(['x10', 'x20', 'x30']);
      await store.deleteOutbox(['x10', 'unknown']);
      await store.deleteOutbox([]);
      expect((await store.dueOutbox(100, 10)).map((o) => o.id)).toEqual(['x20', 'x30', 'x50']);
      expect(await store.dueOutbox(30, 10)).toEqual([r2.outbox[2], r2.outbox[0]]);
    });

    it('claims due outbox items for one poller until the claim ends', async () => {
      const r = bareRun('r3');
      r.outbox = [outboxItem('y20', 'r3', 20), outboxItem('y10', 'r3', 10), outboxItem('y90', 'r3', 90)];
      await store.commit([r]);
      expect((await store.claimOutbox(50, 10, 100)).map((o) => o.id)).toEqual(['y10', 'y20']);
      expect(await store.claimOutbox(60, 10, 100)).toEqual([]); // claimed by the first poller
      expect((await store.dueOutbox(200, 10)).map((o) => o.id)).toEqual(['y90', 'y20', 'y10']); // claimed ones are due at 150, ties in write order
      expect((await store.claimOutbox(151, 10, 100)).map((o) => o.id).sort()).toEqual(['y10', 'y20', 'y90']); // the claim ended
    });

    it("claims only the outbox items of the shards asked for (an item's shard is its run's)", async () => {
      const runs = ['s1', 's2', 's3', 's4', 's5', 's6'].map((id) => {
        const r = bareRun(id);
        r.outbox = [outboxItem(`${id}:x`, id, 10), outboxItem(`${id}:y`, id, 20)];
        return r;
      });
      await store.commit(runs);
      const shard = shardOf('s1', store.shards);
      const ofShard = runs.flatMap((r) => (shardOf(r.run.id, store.shards) === shard ? r.outbox.map((o) => o.id) : []));
      expect(await store.claimOutbox(50, 100, 100, [])).toEqual([]);
      expect((await store.claimOutbox(50, 100, 100, [shard])).map((o) => o.id).sort()).toEqual(ofShard.sort());
      const others = Array.from({ length: store.shards }, (_, s) => s).filter((s) => s !== shard);
      const rest = runs.flatMap((r) => r.outbox.map((o) => o.id)).filter((id) => !ofShard.includes(id));
      expect((await store.claimOutbox(50, 100, 100, others)).map((o) => o.id).sort()).toEqual(rest.sort());
      expect(await store.claimOutbox(50, 100, 100)).toEqual([]); // all claimed
    });

    it('reports a stale revision as a conflict, writes nothing for it, commits the other runs', async () => {
      const s1 = new Scenario('r1');
      const s2 = new Scenario('r2');
      await store.commit([s1.next([{ type: 'start' }], 2), s2.next([{ type: 'start' }], 2)]);
      const second = busyStep(s1);
      await store.commit([second]);
      const before = s1.snapshot();
      const historyBefore = await store.history('r1');
      const outboxBefore = await store.dueOutbox(Number.MAX_SAFE_INTEGER, 1000);
      const activationsBefore = await store.activations('r1');

      const stale = { ...s1.next([{ type: 'change', change: { op: 'cancel' }, actor: 'late' }], 9), expectedRev: 1 };
      stale.outbox.push(outboxItem('stale', 'r1', 0));
      const ok = busyStep(s2);
      const result = await store.commit([second, stale, ok]); // a replayed step, a stale one, a good one
      expect(result.conflicts.sort()).toEqual(['r1', 'r1']);
      expect(await store.loadRun('r1')).toEqual(before);
      expect(await store.history('r1')).toEqual(historyBefore);
      expect(await store.activations('r1')).toEqual(activationsBefore);
      const outboxAfter = await store.dueOutbox(Number.MAX_SAFE_INTEGER, 1000);
      expect(outboxAfter.filter((o) => o.runId === 'r1')).toEqual(outboxBefore.filter((o) => o.runId === 'r1'));
      expect(await store.loadRun('r2')).toEqual(s2.snapshot());
      expect(outboxAfter.filter((o) => o.runId === 'r2')).toHaveLength(outboxBefore.filter((o) => o.runId === 'r2').length + ok.outbox.length);
    });

    it('treats creating an existing run again, or stepping an unknown run, as a conflict', async () => {
      const s = new Scenario('r1');
      await store.commit([s.next([{ type: 'start' }], 2)]);
      const again = new Scenario('r1', 7, orderFlow('other')).next([{ type: 'start' }], 8);
      expect(await store.commit([again])).toEqual({ conflicts: ['r1'] });
      expect(await store.loadRun('r1')).toEqual(s.snapshot());
      expect(await store.history('r1')).toHaveLength(3);
      const ghost = { ...bareRun('ghost'), expectedRev: 3 };
      expect(await store.commit([ghost])).toEqual({ conflicts: ['ghost'] });
      expect(await store.loadRun('ghost')).toBeUndefined();
    });

    it('commits several steps of one run in one batch, in order', async () => {
      const s = new Scenario('r1');
      expect(await store.commit([s.next([{ type: 'start' }], 2), busyStep(s), s.next([{ type: 'change', change: { op: 'stop' }, actor: 't' }], 9)])).toEqual({ conflicts: [] });
      expect(await store.loadRun('r1')).toEqual(s.snapshot());
      expect(s.run.rev).toBe(3);
    });

    it('lists runs newest first, filtered by status and flow, limited', async () => {
      const runs: [string, string, RunStatus, number][] = [
        ['r1', 'orders', 'running', 10],
        ['r2', 'billing', 'succeeded', 20],
        ['r3', 'orders', 'failed', 30],
        ['r4', 'billing', 'running', 40],
        ['r5', 'orders', 'running', 40],
      ];
      await store.commit(runs.map(([id, flow, status, createdAt]) => bareRun(id, { flow, status, createdAt, updatedAt: createdAt + 1, graphVersion: 2 })));
      const ids = async (filter?: Parameters<Store['listRuns']>[0]) => (await store.listRuns(filter)).map((r) => r.id);
      expect(await ids()).toEqual(['r5', 'r4', 'r3', 'r2', 'r1']); // equal createdAt: greater id first
      expect((await store.listRuns({ limit: 1 }))[0]).toEqual({ id: 'r5', flow: 'orders', status: 'running', graphVersion: 2, createdAt: 40, updatedAt: 41 });
      expect(await ids({ status: ['running'] })).toEqual(['r5', 'r4', 'r1']);
      expect(await ids({ status: ['failed', 'succeeded'] })).toEqual(['r3', 'r2']);
      expect(await ids({ flow: 'billing' })).toEqual(['r4', 'r2']);
      expect(await ids({ flow: 'orders', status: ['running'], limit: 1 })).toEqual(['r5']);
      expect(await ids({ flow: 'none' })).toEqual([]);
      expect(await ids({ status: [] })).toEqual([]);
    });

    it('lists runs by id prefix, the prefix taken literally', async () => {
      await store.commit(['ab1', 'ab2', 'abc', 'b_1', 'b%2', 'x'].map((id, i) => bareRun(id, { createdAt: i })));
      const ids = async (idPrefix: string, limit?: number) => (await store.listRuns({ idPrefix, ...(limit === undefined ? {} : { limit }) })).map((r) => r.id);
      expect(await ids('ab')).toEqual(['abc', 'ab2', 'ab1']);
      expect(await ids('ab', 2)).toEqual(['abc', 'ab2']);
      expect(await ids('abc')).toEqual(['abc']);
      expect(await ids('b_')).toEqual(['b_1']);
      expect(await ids('b%')).toEqual(['b%2']);
      expect(await ids('zz')).toEqual([]);
      expect((await store.listRuns({ idPrefix: 'ab', flow: 'orders' })).map((r) => r.id)).toEqual(['abc', 'ab2', 'ab1']);
      expect((await store.listRuns({ idPrefix: 'ab', flow: 'billing' })).map((r) => r.id)).toEqual([]);
    });

    it('lists live run ids: all but succeeded, rolled_back, rollback_failed and cancelled', async () => {
      const statuses: RunStatus[] = ['scheduled', 'running', 'stalled', 'failed', 'listening', 'stopping', 'rolling_back', 'rolled_back', 'rollback_failed', 'succeeded', 'cancelled'];
      await store.commit(statuses.map((status) => bareRun(status, { status })));
      expect((await store.liveRunIds()).sort()).toEqual(['failed', 'listening', 'rolling_back', 'running', 'scheduled', 'stalled', 'stopping']);
    });

    it('lists a run under the status of its latest commit, whether a step changed the status or kept it', async () => {
      await store.commit([bareRun('r1'), bareRun('r2')]);
      const step = (id: string, rev: number, status: RunStatus): StepCommit => ({ ...bareRun(id, { status, rev: rev + 1, updatedAt: 10 * rev }), expectedRev: rev });
      expect(await store.commit([step('r1', 1, 'running'), step('r2', 1, 'failed')])).toEqual({ conflicts: [] });
      expect(await store.commit([step('r1', 2, 'succeeded'), step('r2', 2, 'failed')])).toEqual({ conflicts: [] });
      const listed = async (status: RunStatus) => (await store.listRuns({ status: [status] })).map((r) => [r.id, r.status, r.updatedAt]);
      expect(await listed('succeeded')).toEqual([['r1', 'succeeded', 20]]);
      expect(await listed('failed')).toEqual([['r2', 'failed', 20]]);
      expect(await listed('running')).toEqual([]);
      expect(await store.liveRunIds()).toEqual(['r2']);
      expect((await store.loadRun('r1'))?.status).toBe('succeeded');
    });

    it('finds the listening event nodes of live runs, with the fields they declare', async () => {
      const listening = new Scenario('listening');
      const cancelled = new Scenario('cancelled');
      const ev = (name: string, status: NodeState['status'], kind: 'task' | 'event' = 'event'): NodeState => ({ def: task('n', { kind, name }), sources: [], status, attempt: 0 });
      await store.commit([
        listening.next([{ type: 'start' }], 2),
        cancelled.next([{ type: 'start' }, { type: 'change', change: { op: 'cancel' }, actor: 't' }], 2),
        bareRun('other-event', {}, [ev('payment.received', 'listening')]),
        bareRun('same-name-task', {}, [ev(EVENT, 'listening', 'task')]),
        bareRun('done-event', {}, [ev(EVENT, 'succeeded')]),
        bareRun('finished-run', { status: 'succeeded' }, [ev(EVENT, 'listening')]),
        bareRun('paused', { status: 'failed' }, [ev(EVENT, 'listening')]),
      ]);
      const runs = async (...events: string[]) => (await store.listeners(events)).map((l) => `${l.runId}:${l.event}`).sort();
      expect(await runs(EVENT)).toEqual([`listening:${EVENT}`, `paused:${EVENT}`]);
      expect(await store.listeners(['payment.received'])).toEqual([{ runId: 'other-event', event: 'payment.received', node: 'n', provides: ['n'] }]);
      expect(await runs(EVENT, 'payment.received', 'nothing')).toEqual([`listening:${EVENT}`, 'other-event:payment.received', `paused:${EVENT}`]);
      expect(await runs('nothing')).toEqual([]);
    });

    it('returns copies: changing a loaded run or a committed object does not change the store', async () => {
      const s = new Scenario('r1');
      const commit = s.next([{ type: 'start' }], 2);
      await store.commit([commit]);
      (commit.nodes[0] as NodeState).status = 'failed';
      const loaded = await store.loadRun('r1');
      loaded?.nodes.delete('a');
      expect(await store.loadRun('r1')).toEqual(s.snapshot());
    });

    it('keeps a task catalog: registering again replaces, listed by name', async () => {
      const info = (name: string, queue = 'default'): TaskInfo => ({
        name,
        requires: ['x'],
        optional: [],
        provides: [name],
        rollback: false,
        retry: { limit: 1, initialDelayMs: 10, factor: 2, maxDelayMs: 100, jitter: 0 },
        timeoutMs: 0,
        queue,
      });
      expect(await store.tasks()).toEqual([]);
      await store.registerTasks([info('mult'), info('add')]);
      await store.registerTasks([info('add', 'gpu')]);
      expect(await store.tasks()).toEqual([info('add', 'gpu'), info('mult')]);
    });

    it('keeps workers\' heartbeat rows: a beat replaces the row, listed by id, filtered by age, removed', async () => {
      const beat = (id: string, beatAt: number, running: WorkerBeat['running'] = []): WorkerBeat => ({
        id,
        host: 'h',
        pid: 7,
        version: '1.2.3',
        tasks: ['add', 'mult'],
        queues: ['default'],
        concurrency: 4,
        heartbeatMs: 5_000,
        running,
        startedAt: 1_000,
        beatAt,
      });
      expect(await store.listWorkers()).toEqual([]);
      await store.beatWorker(beat('w2', 2_000));
      await store.beatWorker(beat('w1', 2_000));
      const busy = beat('w1', 9_000, [{ runId: 'r1', node: 'a', attempt: 2, since: 8_500 }]);
      await store.beatWorker(busy);
      expect(await store.listWorkers()).toEqual([busy, beat('w2', 2_000)]);
      expect(await store.listWorkers({ aliveWithinMs: 1_000, now: 10_000 })).toEqual([busy]);
      expect(await store.listWorkers({ aliveWithinMs: 8_000, now: 10_000 })).toEqual([busy, beat('w2', 2_000)]);
      await store.removeWorker('w1');
      await store.removeWorker('w1');
      expect(await store.listWorkers()).toEqual([beat('w2', 2_000)]);
      // Dead workers' rows: those that last beat before the horizon go, the others stay.
      await store.beatWorker(beat('w3', 3_000));
      expect(await store.pruneWorkers(2_000)).toBe(0);
      expect(await store.pruneWorkers(3_000)).toBe(1);
      expect(await store.listWorkers()).toEqual([beat('w3', 3_000)]);
    });

        it('gives undefined for an unknown run, and closes idempotently', async () => {
      expect(await store.loadRun('unknown')).toBeUndefined();
      await store.close();
      await store.close();
    });

    pruneContract(factory);
    listingContract(factory);
    scheduleContract(factory);
    gatesContract(factory);
  });
}
