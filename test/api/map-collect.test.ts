/**
 * Map and collect (`each`, `concurrency`, `collect`): a node fans out over a
 * list, one child `node[i]` per element with its own attempts and retries; a
 * collecting input receives the children's results (and the values of other
 * sources) as one list in order. Runs against every backend.
 */
import { afterEach, expect, it } from 'vitest';
import { flow, NonRetryableError, task } from '../../src/index.js';
import { describeBackends } from './backends.js';
import { eventually, WAIT } from './helpers.js';

describeBackends('map and collect', (backend) => {
  afterEach(async () => {
    await backend.cleanup();
  });

  const list = (name: string, items: unknown) => task(name, { provides: 'items', apply: () => items });
  const sum = (name: string) => task(name, { requires: ['values'], apply: ({ values }: { values: number[] }) => ({ count: values.length, total: values.reduce((a, b) => a + b, 0), values }) });

  it('fans out one child per element, bounded by concurrency, and collects their results in element order', async () => {
    let running = 0;
    let peak = 0;
    const square = task('mc-square', {
      requires: ['items'],
      apply: async ({ items }: { items: number }, ctx) => {
        running++;
        peak = Math.max(peak, running);
        // Later elements finish first: the result is still in element order.
        await new Promise((resolve) => setTimeout(resolve, (10 - items) * 2));
        running--;
        expect(ctx.activation).toBe(items - 1);
        return items * items;
      },
    });
    const source = list('mc-list', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const join = sum('mc-sum');
    const tw = await backend.connect({ tasks: [source, square, join] });
    const fan = square.s({}, { id: 'fan', each: 'items', concurrency: 3 });
    const run = await tw.start(flow('mc-map').link(source.s(), fan).link(fan, join.s({}, { collect: 'values' }), { map: { values: 'mc-square' } }), {});
    const done = await run.wait(WAIT);
    expect(done.status).toBe('succeeded');
    expect(done.nodes['fan']).toMatchObject({ status: 'succeeded', result: [1, 4, 9, 16, 25, 36, 49, 64, 81, 100] });
    expect(done.nodes['fan']?.map).toMatchObject({ total: 10, succeeded: 10, failed: 0, running: 0, pending: 0 });
    expect(done.nodes['mc-sum']?.result).toMatchObject({ count: 10, total: 385 });
    expect(peak).toBeLessThanOrEqual(3);
    const queued = (await run.history()).filter((entry) => entry.type === 'node.queued' && entry.node === 'fan');
    expect(queued.map((entry) => entry.activation)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Every child is listed, the first (activation 0) included, with its element and result.
    const children = await run.activations('fan');
    expect(children.map((c) => [c.seq, c.inputs['items'], c.result])).toEqual([...Array(10).keys()].map((i) => [i, i + 1, (i + 1) * (i + 1)]));
  });

  it('an empty list succeeds at once with [] and the collecting listener runs with []', async () => {
    const child = task('mc-e-child', { requires: ['items'], apply: () => 1 });
    const source = list('mc-e-list', []);
    const join = sum('mc-e-sum');
    const tw = await backend.connect({ tasks: [source, child, join] });
    const fan = child.s({}, { id: 'fan', each: 'items' });
    const run = await tw.start(flow('mc-empty').link(source.s(), fan).link(fan, join.s({}, { collect: 'values' }), { map: { values: 'mc-e-child' } }), {});
    const done = await run.wait(WAIT);
    expect(done.status).toBe('succeeded');
    expect(done.nodes['fan']).toMatchObject({ status: 'succeeded', result: [] });
    expect(done.nodes['mc-e-sum']?.result).toMatchObject({ count: 0, total: 0 });
  });

  it('a value that is not a list fails the node with TW_MAP_INPUT naming the node and the input', async () => {
    const child = task('mc-n-child', { requires: ['items'], apply: () => 1 });
    const source = list('mc-n-list', { not: 'a list' });
    const tw = await backend.connect({ tasks: [source, child] });
    const run = await tw.start(flow('mc-not-list').link(source.s(), child.s({}, { id: 'fan', each: 'items' })), {});
    const done = await run.wait(WAIT);
    expect(done.status).toBe('failed');
    expect(done.nodes['fan']?.error).toMatchObject({ code: 'TW_MAP_INPUT', retryable: false });
    expect(done.nodes['fan']?.error?.message).toMatch(/node "fan".*input "items".*list; got an object/);
  });

  it('collects several sources into one input, in link order, spreading a map source list', async () => {
    const a = task('mc-c-a', { provides: 'v', apply: () => 1 });
    const b = task('mc-c-b', { provides: 'v', apply: () => 2 });
    const twice = task('mc-c-twice', { requires: ['items'], provides: 'v', apply: ({ items }: { items: number }) => items * 2 });
    const source = list('mc-c-list', [10, 20]);
    const join = sum('mc-c-sum');
    const tw = await backend.connect({ tasks: [a, b, twice, source, join] });
    const fan = twice.s({}, { id: 'fan', each: 'items' });
    const j = join.s({}, { collect: ['values'] });
    const f = flow('mc-collect').link(a.s(), j, { map: { values: 'v' } }).link(source.s(), fan).link(fan, j, { map: { values: 'v' } }).link(b.s(), j, { map: { values: 'v' } });
    const run = await tw.start(f, {});
    const done = await run.wait(WAIT);
    expect(done.status).toBe('succeeded');
    expect(done.nodes['mc-c-sum']?.result).toMatchObject({ values: [1, 20, 40, 2] });
  });

  it('under halt, a failing child fails the node; retry("fan[3]") re-runs that child alone and the run completes', async () => {
    const calls = new Map<number, number>();
    let broken = true;
    const child = task('mc-h-child', {
      requires: ['items'],
      apply: ({ items }: { items: number }) => {
        calls.set(items, (calls.get(items) ?? 0) + 1);
        if (items === 3 && broken) throw new NonRetryableError('element 3 is bad');
        return items + 100;
      },
    });
    const source = list('mc-h-list', [0, 1, 2, 3, 4, 5]);
    const tw = await backend.connect({ tasks: [source, child] });
    const run = await tw.start(flow('mc-halt').link(source.s(), child.s({}, { id: 'fan', each: 'items', concurrency: 2 })), {});
    const failed = await run.wait(WAIT);
    expect(failed.status).toBe('failed');
    expect(failed.nodes['fan']).toMatchObject({ status: 'failed' });
    expect(failed.nodes['fan']?.error?.message).toMatch(/fan\[3\]: element 3 is bad/);
    expect(failed.nodes['fan']?.map?.children['fan[3]']).toMatchObject({ status: 'failed', attempt: 1 });
    broken = false;
    await run.retry('fan[3]');
    const done = await run.wait(WAIT);
    expect(done.status).toBe('succeeded');
    expect(done.nodes['fan']?.result).toEqual([100, 101, 102, 103, 104, 105]);
    expect(calls.get(3)).toBe(2);
    for (const i of [0, 1, 2, 4, 5]) expect(calls.get(i)).toBe(1);
  });

  it('each child has the node retry policy', async () => {
    const tries = new Map<number, number>();
    const child = task('mc-r-child', {
      requires: ['items'],
      retry: { limit: 2, initialDelayMs: 1, maxDelayMs: 5 },
      apply: ({ items }: { items: number }, ctx) => {
        tries.set(items, ctx.attempt);
        if (items % 2 === 1 && ctx.attempt < 3) throw new Error(`flaky ${items}`);
        return items;
      },
    });
    const source = list('mc-r-list', [0, 1, 2, 3]);
    const tw = await backend.connect({ tasks: [source, child] });
    const run = await tw.start(flow('mc-retry').link(source.s(), child.s({}, { id: 'fan', each: 'items' })), {});
    const done = await run.wait(WAIT);
    expect(done.status).toBe('succeeded');
    expect(done.nodes['fan']?.result).toEqual([0, 1, 2, 3]);
    expect([...tries.entries()].sort((a, b) => a[0] - b[0])).toEqual([[0, 1], [1, 3], [2, 1], [3, 3]]);
  });

  it('under rollback, a failing child compensates each completed child and the upstream node', async () => {
    const undone: string[] = [];
    const child = task('mc-rb-child', {
      requires: ['items'],
      apply: ({ items }: { items: number }) => {
        if (items === 2) throw new NonRetryableError('no');
        return items;
      },
      rollback: ({ items }: { items: number }) => void undone.push(`child ${items}`),
    });
    const source = task('mc-rb-list', { provides: 'items', apply: () => [0, 1, 2, 3], rollback: () => void undone.push('list') });
    const tw = await backend.connect({ tasks: [source, child] });
    const run = await tw.start(flow('mc-rollback', { onFailure: 'rollback' }).link(source.s(), child.s({}, { id: 'fan', each: 'items', concurrency: 1 })), {});
    const done = await run.wait(WAIT);
    expect(done.status).toBe('rolled_back');
    // Concurrency 1: children 0 and 1 completed, 2 failed (its own rollback runs), 3 never started.
    expect(undone).toEqual(['child 2', 'child 1', 'child 0', 'list']);
    expect(done.nodes['fan']?.status).toBe('failed');
  });

  it('shows children in status() while they run', async () => {
    const gate: { open?: () => void } = {};
    const opened = new Promise<void>((resolve) => (gate.open = resolve));
    const child = task('mc-s-child', { requires: ['items'], apply: async ({ items }: { items: number }) => (items === 0 ? items : opened.then(() => items)) });
    const source = list('mc-s-list', [0, 1, 2, 3]);
    const tw = await backend.connect({ tasks: [source, child] });
    const run = await tw.start(flow('mc-status').link(source.s(), child.s({}, { id: 'fan', each: 'items', concurrency: 2 })), {});
    await eventually(async () => {
      const view = (await run.status()).nodes['fan']?.map;
      expect(view).toMatchObject({ total: 4, succeeded: 1, pending: 1 });
      expect(Object.keys(view?.children ?? {})).toEqual(['fan[1]', 'fan[2]']);
    });
    gate.open?.();
    expect((await run.wait(WAIT)).nodes['fan']?.result).toEqual([0, 1, 2, 3]);
  });
});
