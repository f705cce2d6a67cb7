/**
 * Flow control (docs/flow-control.md): a task's concurrency limit (per task,
 * or per value of a key input) held across the runs, a rate limit, and
 * priorities ordering the executions waiting at a limit. Executions held back
 * are `waiting` and `throttled`, not running. Runs against every backend.
 */
import { afterEach, expect, it } from 'vitest';
import { flow, task, type HistoryEntry } from '../../src/index.js';
import { describeBackends } from './backends.js';
import { deferred, eventually, WAIT } from './helpers.js';

/** Counts a task's executions at once (overall and per key), from inside the task. */
function concurrencyProbe(): { enter(key: string): void; leave(key: string): void; running: () => number; max: () => number; maxPerKey: () => number } {
  let running = 0;
  let max = 0;
  let maxPerKey = 0;
  const perKey = new Map<string, number>();
  return {
    enter(key) {
      running++;
      max = Math.max(max, running);
      const n = (perKey.get(key) ?? 0) + 1;
      perKey.set(key, n);
      maxPerKey = Math.max(maxPerKey, n);
    },
    leave(key) {
      running--;
      perKey.set(key, (perKey.get(key) ?? 1) - 1);
    },
    running: () => running,
    max: () => max,
    maxPerKey: () => maxPerKey,
  };
}

const entries = (history: HistoryEntry[], type: string): HistoryEntry[] => history.filter((e) => e.type === type);

describeBackends('flow control', (backend) => {
  afterEach(async () => {
    await backend.cleanup();
  });

  it('holds a task to its concurrency limit across runs: the others wait throttled, not running, and go in order', async () => {
    const probe = concurrencyProbe();
    const release = deferred();
    const slow = task('fc-slow', {
      requires: ['i'],
      limit: { concurrency: 2 },
      apply: async ({ i }: { i: number }) => {
        probe.enter('all');
        await release.promise;
        probe.leave('all');
        return i;
      },
    });
    const wide = flow('fc-wide');
    for (let i = 0; i < 4; i++) wide.add(slow.s({ i }, { id: `n${i}` }));
    const tw = await backend.connect({ tasks: [slow] });
    // Two runs share the limit: it is the task's, not the run's.
    const runs = [await tw.start(wide, {}), await tw.start(wide, {})];
    await eventually(() => expect(probe.running()).toBe(2));
    const statuses = await Promise.all(runs.map((run) => run.status()));
    const nodes = statuses.flatMap((s) => Object.values(s.nodes));
    expect(nodes.filter((n) => n.status === 'running' || n.status === 'queued')).toHaveLength(2);
    const throttled = nodes.filter((n) => n.throttled !== undefined);
    expect(throttled).toHaveLength(6);
    for (const node of throttled) expect(node).toMatchObject({ status: 'waiting', throttled: 'fc-slow', attempt: 0 });
    for (const s of statuses) expect(s.status).toBe('running');
    release.resolve();
    for (const run of runs) expect((await run.wait(WAIT)).status).toBe('succeeded');
    expect(probe.max()).toBe(2);
    // Within a run, its nodes are admitted in the order they were throttled.
    for (const run of runs) {
      const history = await run.history();
      const throttledOrder = entries(history, 'node.throttled').map((e) => e.node);
      const admittedOrder = entries(history, 'gate.admitted').map((e) => e.node);
      expect(admittedOrder.filter((id) => throttledOrder.includes(id))).toEqual(throttledOrder);
    }
  });

  it('holds the limit per value of its key input: one charge at once per customer, customers side by side', async () => {
    const probe = concurrencyProbe();
    const release = deferred();
    const charge = task('fc-charge', {
      requires: ['customer', 'amount'],
      limit: { concurrency: 1, key: 'customer' },
      apply: async ({ customer, amount }: { customer: string; amount: number }) => {
        probe.enter(customer);
        await release.promise;
        probe.leave(customer);
        return amount;
      },
    });
    const charges = flow('fc-charges');
    const customers = ['ann', 'ann', 'ann', 'bob', 'bob'];
    customers.forEach((customer, i) => charges.add(charge.s({ customer, amount: i }, { id: `c${i}` })));
    const tw = await backend.connect({ tasks: [charge] });
    const run = await tw.start(charges, {});
    await eventually(() => expect(probe.running()).toBe(2));
    const nodes = Object.values((await run.status()).nodes);
    expect(nodes.filter((n) => n.throttled !== undefined).map((n) => n.throttled).sort()).toEqual(['fc-charge:customer="ann"', 'fc-charge:customer="ann"', 'fc-charge:customer="bob"']);
    release.resolve();
    expect((await run.wait(WAIT)).status).toBe('succeeded');
    expect(probe.maxPerKey()).toBe(1);
    expect(probe.max()).toBe(2);
  });

  it('holds a task to its rate: at most count admissions in any perMs', async () => {
    const perMs = 300;
    const tick = task('fc-tick', { requires: ['i'], rate: { count: 2, perMs }, apply: ({ i }: { i: number }) => i });
    const ticks = flow('fc-ticks');
    for (let i = 0; i < 5; i++) ticks.add(tick.s({ i }, { id: `t${i}` }));
    const tw = await backend.connect({ tasks: [tick] });
    const run = await tw.start(ticks, {});
    expect((await run.wait(WAIT)).status).toBe('succeeded');
    const admittedAt = entries(await run.history(), 'gate.admitted')
      .map((e) => e.detail?.['admittedAt'] as number)
      .sort((a, b) => a - b);
    expect(admittedAt).toHaveLength(5);
    for (let i = 2; i < admittedAt.length; i++) expect((admittedAt[i] as number) - (admittedAt[i - 2] as number)).toBeGreaterThanOrEqual(perMs);
  });

  it('admits waiting executions by priority, then in order', async () => {
    const started: string[] = [];
    const one = task('fc-one', {
      limit: { concurrency: 1 },
      apply: (_inputs: Record<string, never>, { nodeId }) => {
        started.push(nodeId);
        return nodeId;
      },
    });
    const line = flow('fc-line');
    // Listed low first: in the order alone, low would go first.
    line.add(one.s({}, { id: 'low', priority: 'low' }));
    line.add(one.s({}, { id: 'normal' }));
    line.add(one.s({}, { id: 'normal2' }));
    line.add(one.s({}, { id: 'high', priority: 'high' }));
    const tw = await backend.connect({ tasks: [one] });
    const run = await tw.start(line, {});
    expect((await run.wait(WAIT)).status).toBe('succeeded');
    expect(entries(await run.history(), 'gate.admitted').map((e) => e.node)).toEqual(['high', 'normal', 'normal2', 'low']);
    expect(started).toEqual(['high', 'normal', 'normal2', 'low']);
  });

  it("gives a run's priority to its nodes: a high-priority run overtakes the normal work waiting at the limit", async () => {
    const started: string[] = [];
    const release = deferred();
    const step = task('fc-step', {
      requires: ['tag'],
      limit: { concurrency: 1 },
      apply: async ({ tag }: { tag: string }) => {
        started.push(tag);
        if (tag === 'first') await release.promise;
        return tag;
      },
    });
    const batch = (tags: string[]) => {
      const f = flow(`fc-batch-${tags[0] as string}`);
      for (const tag of tags) f.add(step.s({ tag }, { id: tag }));
      return f;
    };
    const tw = await backend.connect({ tasks: [step] });
    const normal = await tw.start(batch(['first', 'n1', 'n2']), {});
    await eventually(() => expect(started).toEqual(['first']));
    const urgent = await tw.start(batch(['u1', 'u2']), {}, { priority: 'high' });
    await eventually(async () => expect(Object.values((await urgent.status()).nodes).filter((n) => n.throttled !== undefined)).toHaveLength(2));
    release.resolve();
    for (const run of [normal, urgent]) expect((await run.wait(WAIT)).status).toBe('succeeded');
    expect(started).toEqual(['first', 'u1', 'u2', 'n1', 'n2']);
  });

  it('holds a node added live by naming its task to the task\'s limit (the catalog carries it)', async () => {
    const release = deferred();
    const guarded = task('fc-guarded', {
      limit: { concurrency: 1 },
      apply: async () => {
        await release.promise;
        return 1;
      },
    });
    const tw = await backend.connect({ tasks: [guarded] });
    const run = await tw.start(flow('fc-live').add(guarded.s({}, { id: 'first' })), {});
    await eventually(async () => expect((await run.status()).nodes['first']?.throttled).toBeUndefined());
    await run.add({ task: 'fc-guarded', id: 'late' });
    await eventually(async () => expect((await run.status()).nodes['late']).toMatchObject({ status: 'waiting', throttled: 'fc-guarded' }));
    release.resolve();
    expect((await run.wait(WAIT)).status).toBe('succeeded');
  });
});
