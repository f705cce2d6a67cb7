/**
 * "Live flows" scenarios: runs rewired while they run (add, remove, link,
 * unlink, relink, retry, skip, stop, cancel), persistent listeners and events,
 * against every backend of the API suite.
 */
import { afterEach, expect, it, vi } from 'vitest';
import { event, flow, NonRetryableError, task, type Client, type RunChange, type RunHandle, type TaskwireError } from '../../src/index.js';
import { describeBackends } from './backends.js';
import { deferred, heldTask, sleep } from './helpers.js';

/** Re-runs `check` until it passes (the run advances in the background). */
function eventually<T>(check: () => Promise<T>): Promise<T> {
  return vi.waitFor(check, { timeout: 10_000, interval: 20 });
}

/** Expects `change` to be refused with `code`, and the run to be exactly as before. */
async function expectRefused(run: RunHandle, change: () => Promise<unknown>, code: string, message?: RegExp): Promise<TaskwireError> {
  const before = await run.status();
  const historyBefore = await run.history();
  let pending: Promise<unknown> | undefined;
  // A refused change is a rejected promise, never a synchronous throw.
  expect(() => (pending = change())).not.toThrow();
  let caught: unknown;
  try {
    await pending;
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected the change to be refused with ${code}`).toBeInstanceOf(Error);
  const error = caught as TaskwireError;
  expect(error.code).toBe(code);
  if (message !== undefined) expect(error.message).toMatch(message);
  const after = await run.status();
  expect(after.graphVersion).toBe(before.graphVersion);
  expect(after.status).toBe(before.status);
  expect(Object.keys(after.nodes).sort()).toEqual(Object.keys(before.nodes).sort());
  expect((await run.history()).length).toBe(historyBefore.length);
  return error;
}

/** The forgotten monitor: records each server it is told about. */
function monitorTask(monitored: unknown[]) {
  return task('addMonitor', {
    requires: ['server'],
    apply: ({ server }: { server: { host: string; ip: string } }) => {
      monitored.push(server);
      return `monitoring ${server.host}`;
    },
  });
}

describeBackends('live flows', (backend) => {
  afterEach(() => backend.cleanup());

  it('load balancer: a persistent listener runs once per notification, in order, with its own inputs', async () => {
    const seen: string[] = [];
    const addToLoadBalancer = task('addToLoadBalancer', {
      requires: ['ip'],
      apply: async ({ ip }: { ip: string }) => {
        seen.push(ip);
        await sleep(5);
        return `pool:${ip}`;
      },
    });
    const serverCreated = event<{ ip: string }>('server.created', { provides: ['ip'] });
    const flo = flow('load-balancer');
    flo.link(serverCreated, addToLoadBalancer.s({}, { persistent: true }));

    const tw = await backend.connect();
    const run = await tw.start(flo);
    expect((await run.status()).status).toBe('listening');

    const ips = Array.from({ length: 10 }, (_, i) => `10.0.0.${i + 1}`);
    for (const ip of ips) expect(await tw.notify('server.created', { ip })).toEqual([run.id]);

    const activations = await eventually(async () => {
      const list = await run.activations('addToLoadBalancer');
      expect(list.filter((a) => a.status === 'succeeded')).toHaveLength(10);
      return list;
    });
    expect(activations).toHaveLength(10);
    expect(activations.map((a) => a.inputs)).toEqual(ips.map((ip) => ({ ip })));
    expect(activations.map((a) => a.result)).toEqual(ips.map((ip) => `pool:${ip}`));
    expect(activations.map((a) => a.from)).toEqual(ips.map(() => 'server.created'));
    const seqs = activations.map((a) => a.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(10);
    expect(seen).toEqual(ips);

    const listening = await eventually(async () => {
      const status = await run.status();
      expect(status.status).toBe('listening');
      return status;
    });
    expect(listening.nodes['addToLoadBalancer']?.status).toBe('listening');
    expect(listening.nodes['addToLoadBalancer']?.result).toBe('pool:10.0.0.10');

    expect((await run.stop()).status).toBe('succeeded');
    expect((await run.wait()).status).toBe('succeeded');
    // A stopped run no longer listens: later notifications reach nobody.
    expect(await tw.notify('server.created', { ip: '10.0.0.99' })).toEqual([]);
    expect(await run.activations('addToLoadBalancer')).toHaveLength(10);
    expect(seen).toHaveLength(10);
  });

  it('wordpress: a failed server is replaced by a new node and a relink, without redoing finished work', async () => {
    const order: string[] = [];
    let fetchCalls = 0;
    let kickCalls = 0;
    const installs: { recipes: string[]; address: string }[] = [];
    const fetchChefRecipes = task('fetchChefRecipes', {
      apply: async () => {
        fetchCalls++;
        await sleep(5);
        order.push('fetchChefRecipes');
        return ['apache2', 'mysql', 'wordpress'];
      },
    });
    const kickServer = task('kickServer', {
      provides: 'server',
      retry: { limit: 1, initialDelayMs: 10, jitter: 0 },
      apply: async () => {
        kickCalls++;
        await sleep(20);
        order.push('kickServer failed');
        throw new Error('no capacity left in zone a');
      },
    });
    const kickServer2 = task('kickServer2', {
      provides: 'server',
      apply: async () => {
        await sleep(5);
        order.push('kickServer2');
        return '10.1.0.2';
      },
    });
    const installWordpress = task('installWordpress', {
      requires: ['recipes', 'address'],
      apply: async ({ recipes, address }: { recipes: string[]; address: string }) => {
        installs.push({ recipes, address });
        await sleep(5);
        order.push('installWordpress');
        return `wordpress@${address}`;
      },
    });
    const install = installWordpress.s();
    const flo = flow('wordpress');
    flo.link(fetchChefRecipes.s(), install, { map: { recipes: 'fetchChefRecipes' } });
    flo.link(kickServer.s(), install, { map: { address: 'server' } });

    const tw = await backend.connect();
    const run = await tw.start(flo);
    const failed = await run.wait();
    expect(failed.status).toBe('failed');
    expect(failed.nodes['kickServer']).toMatchObject({ status: 'failed', attempt: 2, error: { message: 'no capacity left in zone a' } });
    expect(failed.nodes['fetchChefRecipes']?.status).toBe('succeeded');
    expect(failed.nodes['installWordpress']).toMatchObject({ status: 'waiting', waitingFor: { sources: ['kickServer'], inputs: ['address'] } });
    expect(kickCalls).toBe(2);
    expect(fetchCalls).toBe(1);
    expect(installs).toEqual([]);

    const added = await run.add(kickServer2.s());
    expect(added.graphVersion).toBe(failed.graphVersion + 1);
    const relinked = await run.relink('installWordpress', 'kickServer', 'kickServer2');
    expect(relinked.graphVersion).toBe(failed.graphVersion + 2);

    const done = await run.wait();
    expect(done.status).toBe('succeeded');
    expect(installs).toEqual([{ recipes: ['apache2', 'mysql', 'wordpress'], address: '10.1.0.2' }]);
    expect(await run.result('installWordpress')).toBe('wordpress@10.1.0.2');
    expect(fetchCalls).toBe(1);
    expect(kickCalls).toBe(2);
    expect(order.indexOf('fetchChefRecipes')).toBeLessThan(order.lastIndexOf('kickServer failed'));
    expect(order.slice(-2)).toEqual(['kickServer2', 'installWordpress']);
    // The failed node stays in the run, set aside by the relink; its failure is kept.
    expect(done.nodes['kickServer']).toMatchObject({ status: 'skipped', attempt: 2, error: { message: 'no capacity left in zone a' } });
    expect(done.nodes['fetchChefRecipes']).toMatchObject({ status: 'succeeded', attempt: 1 });

    const history = await run.history();
    const started = history.filter((e) => e.type === 'node.queued').map((e) => e.node);
    expect(started.filter((n) => n === 'fetchChefRecipes')).toHaveLength(1);
    expect(started.filter((n) => n === 'installWordpress')).toHaveLength(1);
    const fetched = history.find((e) => e.type === 'node.succeeded' && e.node === 'fetchChefRecipes');
    const gaveUp = history.find((e) => e.type === 'node.failed' && e.node === 'kickServer');
    expect(fetched?.seq).toBeLessThan(gaveUp?.seq ?? 0);
    expect(history.find((e) => e.type === 'node.skipped' && e.node === 'kickServer')).toMatchObject({
      graphVersion: failed.graphVersion + 2,
      detail: { reason: 'relinked', listener: 'installWordpress' },
    });
  });

  it('forgotten monitor: a listener added while its source runs is notified once when it finishes', async () => {
    const { task: kickServer, entered, release } = heldTask('kickServer', { host: 'web-1', ip: '10.2.0.1' });
    const monitored: unknown[] = [];
    const addMonitor = monitorTask(monitored);
    const flo = flow('kick').add(kickServer.s());

    const tw = await backend.connect();
    const run = await tw.start(flo);
    await entered.promise;
    await eventually(async () => expect((await run.status()).nodes['kickServer']?.status).toBe('running'));
    await run.add(addMonitor.s(), { sources: [{ node: 'kickServer', map: { server: 'kickServer' } }] });
    expect((await run.status()).nodes['addMonitor']).toMatchObject({ status: 'waiting', waitingFor: { sources: ['kickServer'], inputs: ['server'] } });
    release.resolve();

    const done = await run.wait();
    expect(done.status).toBe('succeeded');
    expect(monitored).toEqual([{ host: 'web-1', ip: '10.2.0.1' }]);
    expect(done.nodes['addMonitor']).toMatchObject({ status: 'succeeded', attempt: 1, result: 'monitoring web-1' });
  });

  it('a change sent again with the same id is applied once and answers the run as it is', async () => {
    const { task: kickServer, entered, release } = heldTask('kickServer', { host: 'web-1', ip: '10.2.0.1' });
    const monitored: unknown[] = [];
    const addMonitor = monitorTask(monitored);
    const tw = await backend.connect();
    const run = await tw.start(flow('kick').add(kickServer.s()));
    await entered.promise;
    // Distributed, the worker's start report is recorded after the task is entered: wait for
    // it, so that the history compared below holds no event of the run's own progress.
    await eventually(async () => expect((await run.status()).nodes['kickServer']?.status).toBe('running'));
    const add: RunChange = { op: 'add', node: addMonitor.s(), sources: [{ node: 'kickServer', map: { server: 'kickServer' } }] };
    const first = await run.change(add, { id: 'add-monitor-1' });
    // Its answer was lost (a timeout, say): sent again, it is recognised, not refused as a node that exists.
    const again = await run.change(add, { id: 'add-monitor-1' });
    expect(again.graphVersion).toBe(first.graphVersion);
    expect((await run.history()).filter((entry) => entry.type === 'change')).toHaveLength(1);
    // Another id is another change: that one is refused (the node exists).
    await expectRefused(run, () => run.change(add, { id: 'add-monitor-2' }), 'TW_INVALID_CHANGE', /already exists/);
    await expect(run.change(add, { id: 'not a name!' })).rejects.toMatchObject({ code: 'TW_CONFIG' });
    release.resolve();
    expect((await run.wait()).status).toBe('succeeded');
    expect(monitored).toEqual([{ host: 'web-1', ip: '10.2.0.1' }]);
  });

  it('forgotten monitor: a listener added after its source finished gets the recorded result, once', async () => {
    let kickCalls = 0;
    const monitored: unknown[] = [];
    const kickServer = task('kickServer', {
      apply: async () => {
        kickCalls++;
        await sleep(5);
        return { host: 'web-2', ip: '10.2.0.2' };
      },
    });
    const addMonitor = monitorTask(monitored);
    const flo = flow('kick').add(kickServer.s());

    const tw = await backend.connect();
    const run = await tw.start(flo);
    const finished = await run.wait();
    expect(finished.status).toBe('succeeded');

    const added = await run.add(addMonitor.s(), { sources: [{ node: 'kickServer', map: { server: 'kickServer' } }] });
    expect(added.graphVersion).toBe(finished.graphVersion + 1);
    const done = await run.wait();
    expect(done.status).toBe('succeeded');
    expect(monitored).toEqual([{ host: 'web-2', ip: '10.2.0.2' }]);
    expect(kickCalls).toBe(1);
    expect(done.nodes['kickServer']).toMatchObject({ status: 'succeeded', attempt: 1 });
    expect(done.nodes['addMonitor']).toMatchObject({ status: 'succeeded', attempt: 1, result: 'monitoring web-2' });
  });

  it('a cycle started without validation stalls, is reported, and finishes once an edge is unlinked', async () => {
    const ran: string[] = [];
    const step = (name: string) =>
      task(name, {
        apply: async () => {
          ran.push(name);
          await sleep(2);
          return name;
        },
      });
    const prepare = step('prepare').s();
    const build = step('build').s();
    const check = step('check').s();
    const flo = flow('cyclic');
    flo.link(prepare, build);
    flo.link(build, check);
    flo.link(check, build);

    const tw = await backend.connect();
    await expect(tw.start(flo)).rejects.toMatchObject({ code: 'TW_CYCLE' });

    const run = await tw.start(flo, {}, { validate: false });
    const stalled = await run.wait();
    expect(stalled.status).toBe('stalled');
    expect(ran).toEqual(['prepare']);
    const cycle = stalled.cycle ?? [];
    expect(cycle).toHaveLength(3);
    expect(cycle[0]).toBe(cycle[2]);
    expect([...new Set(cycle)].sort()).toEqual(['build', 'check']);
    expect(stalled.nodes['build']?.waitingFor).toEqual({ sources: ['check'], inputs: [] });
    expect(stalled.nodes['check']?.waitingFor).toEqual({ sources: ['build'], inputs: [] });

    const report = await run.unlink('check', 'build');
    expect(report.graphVersion).toBe(stalled.graphVersion + 1);
    const done = await run.wait();
    expect(done.status).toBe('succeeded');
    expect(done.cycle).toBeUndefined();
    expect(ran).toEqual(['prepare', 'build', 'check']);
  });

  it('invalid changes are refused with a clear error and change nothing', async () => {
    const a = task('a', { apply: () => 'from a' });
    const b = task('b', { requires: ['a'], apply: ({ a: value }: { a: string }) => `${value} then b` });
    const c = task('c', { apply: () => 'c' });
    const extra = task('extra', { apply: () => 'extra' });
    const approved = event('deploy.approved', { provides: [] });
    const na = a.s();
    const nb = b.s();
    const flo = flow('gated');
    flo.link(approved, na);
    flo.link(na, nb);
    flo.link(nb, c.s());

    const tw = await backend.connect();
    const run = await tw.start(flo);
    expect((await run.status()).status).toBe('running'); // waiting for the event

    const unknown = await expectRefused(run, () => run.remove('ghost'), 'TW_UNKNOWN_NODE', /"ghost"/);
    expect(unknown.message).toContain(run.id);
    await expectRefused(run, () => run.link('ghost', 'c'), 'TW_UNKNOWN_NODE', /"ghost"/);
    await expectRefused(run, () => run.relink('c', 'b', 'ghost'), 'TW_UNKNOWN_NODE', /"ghost"/);
    await expectRefused(run, () => run.add(extra.s(), { sources: ['ghost'] }), 'TW_UNKNOWN_NODE', /"ghost"/);
    await expectRefused(run, () => run.retry('ghost'), 'TW_UNKNOWN_NODE');

    const cycle = await expectRefused(run, () => run.link('c', 'a'), 'TW_CYCLE', /cycle/);
    expect((cycle as TaskwireError & { problems: { kind: string; nodes: string[] }[] }).problems).toEqual([
      expect.objectContaining({ kind: 'cycle', nodes: ['c', 'a', 'b', 'c'] }),
    ]);
    await expectRefused(run, () => run.add(extra.s(), { sources: ['c'], listeners: ['a'] }), 'TW_CYCLE', /cycle/);
    await expectRefused(run, () => run.link('a', 'a'), 'TW_CYCLE');

    const missing = await expectRefused(run, () => run.unlink('a', 'b'), 'TW_VALIDATION', /required input "a" of node "b"/);
    expect((missing as TaskwireError & { problems: { kind: string }[] }).problems).toEqual([expect.objectContaining({ kind: 'missing-input', nodes: ['b'] })]);

    await expectRefused(run, () => run.unlink('c', 'a'), 'TW_INVALID_CHANGE', /does not listen to "c"/);
    await expectRefused(run, () => run.link('a', 'b'), 'TW_INVALID_CHANGE', /already listens/);
    await expectRefused(run, () => run.link('a', 'deploy.approved'), 'TW_INVALID_CHANGE', /events are notified/);
    await expectRefused(run, () => run.add(c.s()), 'TW_INVALID_CHANGE', /already exists/);
    await expectRefused(run, () => run.retry('b'), 'TW_INVALID_CHANGE', /only a failed or cancelled node/);
  });

  it('invalid changes: unknown tasks and unencodable values are rejected promises, not throws', async () => {
    const a = task('a', { apply: () => 'a' });
    const approved = event('deploy.approved', { provides: [] });
    const flo = flow('gated');
    flo.link(approved, a.s());
    const tw = await backend.connect();
    const run = await tw.start(flo);

    // A task that neither this process nor any worker (the task catalog) knows.
    const ghostTask = { ...a.s({}, { id: 'ghostNode' }).definition(), name: 'ghostTask' };
    await expectRefused(run, () => run.add(ghostTask), 'TW_UNKNOWN_TASK', /"ghostTask"/);
    await expectRefused(run, () => run.add({ task: 'ghostTask', id: 'ghostRef' }), 'TW_UNKNOWN_TASK', /"ghostTask"/);
    await expectRefused(run, () => run.skip('a', () => 'a function'), 'TW_ENCODE');
  });

  it('a valid change right after a refused one is applied (the coordinator keeps taking changes)', async () => {
    const { task: slow, entered, release } = heldTask('slow', 'slow done');
    const after = task('after', { apply: () => 'after done' });
    const extra = task('extra', { apply: () => 'extra done' });
    const flo = flow('refusals');
    flo.link(slow.s(), after.s());
    const tw = await backend.connect();
    const run = await tw.start(flo);
    await entered.promise;

    const settlesSoon = <T>(promise: Promise<T>, what: string): Promise<T> =>
      Promise.race([promise, sleep(3000).then(() => Promise.reject(new Error(`${what} did not settle: the change was lost`)))]);
    const refusals: [string, () => Promise<unknown>][] = [
      ['replace of a running node', () => run.replace('slow', { bound: { x: 1 } })],
      ['retry of a running node', () => run.retry('slow')],
      ['remove of an unknown node', () => run.remove('ghost')],
      ['skip of a running node', () => run.skip('slow', 1)],
    ];
    let version = (await run.status()).graphVersion;
    for (const [what, refused] of refusals) {
      await expect(settlesSoon(refused(), what)).rejects.toMatchObject({ code: expect.stringMatching(/^TW_(INVALID_CHANGE|UNKNOWN_NODE)$/) });
      const added = await settlesSoon(run.add(extra.s({}, { id: 'extra' }), { sources: ['after'] }), `add after the ${what}`);
      expect(added.graphVersion).toBe(++version);
      await expect(settlesSoon(refused(), what)).rejects.toMatchObject({ code: expect.stringMatching(/^TW_/) });
      const removed = await settlesSoon(run.remove('extra'), `remove after the ${what}`);
      expect(removed.graphVersion).toBe(++version);
    }
    release.resolve();
    const done = await run.wait();
    expect(done.status).toBe('succeeded');
    expect(Object.keys(done.nodes).sort()).toEqual(['after', 'slow']);
  });

  it('history: every change is recorded with its actor, op and a new graph version; retry and skip feed listeners', async () => {
    let aCalls = 0;
    let bCalls = 0;
    const combined: unknown[] = [];
    const fetchA = task('fetchA', {
      apply: async (_inputs: Record<string, never>, { attempt }) => {
        aCalls++;
        await sleep(2);
        if (attempt === 1) throw new Error('mirror a down');
        return 'a-data';
      },
    });
    const fetchB = task('fetchB', {
      apply: async () => {
        bCalls++;
        await sleep(2);
        throw new Error('mirror b down');
      },
    });
    const combine = task('combine', {
      requires: ['fetchA', 'fetchB'],
      apply: (inputs: { fetchA: string; fetchB: string }) => {
        combined.push(inputs);
        return `${inputs.fetchA}+${inputs.fetchB}`;
      },
    });
    const audit = task('audit', { requires: ['combine'], apply: ({ combine: value }: { combine: string }) => `audited ${value}` });
    const join = combine.s();
    const flo = flow('mirrors');
    flo.link(fetchA.s(), join);
    flo.link(fetchB.s(), join);

    const tw: Client = await backend.connect({ actor: 'alice@ops' });
    const run = await tw.start(flo);
    const failed = await run.wait();
    expect(failed.status).toBe('failed');
    expect(failed.graphVersion).toBe(1);

    const retried = await run.retry('fetchA');
    expect(retried.graphVersion).toBe(2);
    const stillFailed = await run.wait();
    expect(stillFailed.status).toBe('failed'); // fetchB is still failed
    expect(stillFailed.nodes['fetchA']).toMatchObject({ status: 'succeeded', attempt: 2, result: 'a-data' });
    expect(combined).toEqual([]);

    const skipped = await run.skip('fetchB', 'b-from-cache');
    expect(skipped.graphVersion).toBe(3);
    const done = await run.wait();
    expect(done.status).toBe('succeeded');
    expect(combined).toEqual([{ fetchA: 'a-data', fetchB: 'b-from-cache' }]);
    expect(done.nodes['fetchB']).toMatchObject({ status: 'skipped', result: 'b-from-cache' });
    expect(done.nodes['combine']).toMatchObject({ status: 'succeeded', result: 'a-data+b-from-cache' });

    const added = await run.add(audit.s(), { sources: ['combine'] });
    expect(added.graphVersion).toBe(4);
    const audited = await run.wait();
    expect(audited.status).toBe('succeeded');
    expect(audited.graphVersion).toBe(4);
    expect(audited.nodes['audit']?.result).toBe('audited a-data+b-from-cache');
    expect(aCalls).toBe(2);
    expect(bCalls).toBe(1);

    const history = await run.history();
    const seqs = history.map((e) => e.seq);
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
    for (let i = 1; i < history.length; i++) {
      expect(history[i]?.graphVersion).toBeGreaterThanOrEqual(history[i - 1]?.graphVersion ?? 0);
    }
    const changes = history.filter((e) => e.type === 'change');
    expect(changes.map((e) => ({ actor: e.actor, op: e.detail?.['op'], node: e.detail?.['node'], graphVersion: e.graphVersion }))).toEqual([
      { actor: 'alice@ops', op: 'retry', node: 'fetchA', graphVersion: 2 },
      { actor: 'alice@ops', op: 'skip', node: 'fetchB', graphVersion: 3 },
      { actor: 'alice@ops', op: 'add', node: 'audit', graphVersion: 4 },
    ]);
    expect(changes[1]?.detail?.['result']).toBe('b-from-cache');
    expect(changes[2]?.detail?.['task']).toBe('audit');
    // Each change's consequences carry its graph version.
    const retryAt = changes[0]?.seq ?? 0;
    const restarted = history.find((e) => e.type === 'node.queued' && e.node === 'fetchA' && e.attempt === 2);
    expect(restarted).toMatchObject({ graphVersion: 2 });
    expect(restarted?.seq).toBeGreaterThan(retryAt);
    expect(history.find((e) => e.type === 'node.skipped' && e.node === 'fetchB')).toMatchObject({ graphVersion: 3 });
    expect(history.filter((e) => e.type === 'node.queued' && e.node === 'fetchA').map((e) => e.attempt)).toEqual([1, 2]);
    expect(history.filter((e) => e.type === 'node.queued' && e.node === 'combine')).toHaveLength(1);
    expect(history.find((e) => e.type === 'node.queued' && e.node === 'audit')).toMatchObject({ graphVersion: 4 });
    // Only changes bump the graph version.
    const bumps = history.filter((e, i) => i > 0 && e.graphVersion !== history[i - 1]?.graphVersion);
    expect(bumps.map((e) => e.type)).toEqual(['change', 'change', 'change']);
  });

  it('late subscribers: persistent listeners get only new notifications; a one-shot listener gets the last payload', async () => {
    const pool: string[] = [];
    const dns: string[] = [];
    const welcomed: string[] = [];
    const addToLoadBalancer = task('addToLoadBalancer', { requires: ['ip'], apply: ({ ip }: { ip: string }) => void pool.push(ip) });
    const addToDns = task('addToDns', { requires: ['ip'], apply: ({ ip }: { ip: string }) => void dns.push(ip) });
    const welcome = task('welcome', { requires: ['ip'], apply: ({ ip }: { ip: string }) => void welcomed.push(ip) });
    const serverCreated = event('server.created', { provides: ['ip'] });
    const flo = flow('late');
    flo.link(serverCreated, addToLoadBalancer.s({}, { persistent: true }));

    const tw = await backend.connect();
    const run = await tw.start(flo);
    await tw.notify('server.created', { ip: '10.3.0.1' });
    await tw.notify('server.created', { ip: '10.3.0.2' });
    await eventually(async () => expect(pool).toHaveLength(2));

    await run.add(addToDns.s({}, { persistent: true }), { sources: ['server.created'] });
    await run.add(welcome.s(), { sources: ['server.created'] });
    await eventually(async () => expect(welcomed).toEqual(['10.3.0.2']));
    await eventually(async () => expect((await run.status()).status).toBe('listening'));
    expect(await run.activations('addToDns')).toEqual([]);
    expect(dns).toEqual([]);

    await tw.notify('server.created', { ip: '10.3.0.3' });
    await eventually(async () => expect(dns).toEqual(['10.3.0.3']));
    await eventually(async () => expect(pool).toEqual(['10.3.0.1', '10.3.0.2', '10.3.0.3']));
    await eventually(async () => expect((await run.status()).status).toBe('listening'));
    expect(welcomed).toEqual(['10.3.0.2']);
    expect((await run.activations('addToDns')).map((a) => a.inputs)).toEqual([{ ip: '10.3.0.3' }]);

    expect((await run.stop()).status).toBe('succeeded');
  });

  it('late subscribers: a persistent listener added to a finished task is activated once with its result', async () => {
    const watched: string[] = [];
    const provision = task('provision', { apply: () => 'web-9' });
    const watch = task('watch', { requires: ['provision'], apply: ({ provision: host }: { provision: string }) => void watched.push(host) });
    const tw = await backend.connect();
    const run = await tw.start(flow('one').add(provision.s()));
    expect((await run.wait()).status).toBe('succeeded');

    const report = await run.add(watch.s({}, { persistent: true }), { sources: ['provision'] });
    expect(['running', 'listening']).toContain(report.status);
    await eventually(async () => expect((await run.status()).status).toBe('listening'));
    expect(watched).toEqual(['web-9']);
    expect((await run.activations('watch')).map((a) => ({ inputs: a.inputs, status: a.status }))).toEqual([{ inputs: { provision: 'web-9' }, status: 'succeeded' }]);
    expect((await run.stop()).status).toBe('succeeded');
  });

  it('cancel aborts running tasks and freezes the run; stop only ends persistent listening', async () => {
    const entered = deferred();
    let aborted = false;
    const slow = task('slow', {
      apply: async (_inputs: Record<string, never>, { signal }) => {
        entered.resolve();
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        aborted = signal.aborted;
        throw signal.reason;
      },
    });
    const after = task('after', { apply: () => 'never' });
    const flo = flow('cancellable');
    flo.link(slow.s(), after.s());
    const tw = await backend.connect();
    const run = await tw.start(flo);
    await entered.promise;

    const cancelled = await run.cancel();
    expect(cancelled.status).toBe('cancelled');
    await eventually(async () => expect(aborted).toBe(true));
    const done = await run.wait();
    expect(done.status).toBe('cancelled');
    expect(done.nodes['slow']?.status).toBe('cancelled');
    expect(done.nodes['after']?.status).toBe('cancelled');
    await expectRefused(run, () => run.retry('slow'), 'TW_INVALID_CHANGE', /cancelled/);
    await expectRefused(run, () => run.stop(), 'TW_INVALID_CHANGE', /cancelled/);
  });

  it('a running node removed and added again with the same id in one change: only the old execution is aborted, the new one finishes', async () => {
    const entered = deferred();
    let oldAborted = false;
    const old = task('old', {
      apply: async (_inputs: Record<string, never>, { signal }) => {
        entered.resolve();
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        oldAborted = true;
        throw signal.reason;
      },
    });
    const fresh = task('fresh', {
      apply: async (_inputs: Record<string, never>, { signal }) => {
        await sleep(300);
        signal.throwIfAborted();
        return 99;
      },
    });
    const tw = await backend.connect();
    const run = await tw.start(flow('same-id').add(old.s({}, { id: 'x' })));
    await entered.promise;

    await run.change([
      { op: 'remove', node: 'x' },
      { op: 'add', node: fresh.s({}, { id: 'x' }) },
    ]);
    await eventually(async () => expect(oldAborted).toBe(true));
    const done = await run.wait();
    expect(done.nodes['x']).toMatchObject({ status: 'succeeded', attempt: 2 });
    expect(done.status).toBe('succeeded');
    expect(await run.result('x')).toBe(99);
  });

  it('run.change([...]) applies several changes as one step and one graph version, or refuses them whole', async () => {
    const kickServer = task('kickServer', { provides: 'server', apply: () => { throw new NonRetryableError('no capacity'); } });
    const kickServer2 = task('kickServer2', { provides: 'server', apply: () => '10.1.0.2' });
    const install = task('installWordpress', { requires: ['address'], apply: ({ address }: { address: string }) => `wordpress@${address}` });
    const installNode = install.s();
    const flo = flow('wordpress').link(kickServer.s(), installNode, { map: { address: 'server' } });
    const tw = await backend.connect();
    const run = await tw.start(flo);
    const failed = await run.wait();
    expect(failed.status).toBe('failed');

    const server2 = kickServer2.s();
    await expectRefused(
      run,
      () => run.change([{ op: 'add', node: server2 }, { op: 'relink', node: installNode, from: 'kickServer', to: 'ghost' }]),
      'TW_UNKNOWN_NODE',
      /"ghost"/,
    );
    const report = await run.change([
      { op: 'add', node: server2 },
      { op: 'relink', node: installNode, from: 'kickServer', to: server2 },
    ]);
    expect(report.graphVersion).toBe(failed.graphVersion + 1);
    const done = await run.wait();
    expect(done.status).toBe('succeeded');
    expect(await run.result(installNode)).toBe('wordpress@10.1.0.2');
    const changes = (await run.history()).filter((e) => e.type === 'change');
    expect(changes.map((e) => [e.detail?.['op'], e.graphVersion])).toEqual([
      ['add', failed.graphVersion + 1],
      ['relink', failed.graphVersion + 1],
    ]);
  });

  it('changes accept node objects as well as ids; concurrent changes each report their own graph version', async () => {
    const { task: slow, entered, release } = heldTask('slow', 'slow');
    const created = task('created', { apply: () => 'created' });
    const late = task('late', { requires: ['created'], apply: ({ created: c }: { created: string }) => `late after ${c}` });
    const slowNode = slow.s();
    const createdNode = created.s();
    const tw = await backend.connect();
    const run = await tw.start(flow('objects').link(slowNode, createdNode));
    await entered.promise;
    const lateNode = late.s();
    const auditNode = task('audit', { apply: () => 'audit' }).s();
    const start = (await run.status()).graphVersion;
    const reports = await Promise.all([
      run.add(lateNode, { sources: [createdNode] }),
      run.remove('ghost').catch((error: TaskwireError) => error.code),
      run.add(auditNode, { sources: [{ node: slowNode }] }),
    ]);
    expect(reports[1]).toBe('TW_UNKNOWN_NODE');
    const versions = [reports[0], reports[2]].map((r) => (r as { graphVersion: number }).graphVersion).sort();
    expect(versions).toEqual([start + 1, start + 2]);
    const history = (await run.history()).filter((e) => e.type === 'change');
    expect(history.map((e) => [e.detail?.['node'], e.graphVersion]).sort()).toEqual([
      ['audit', (reports[2] as { graphVersion: number }).graphVersion],
      ['late', (reports[0] as { graphVersion: number }).graphVersion],
    ]);
    await run.relink(auditNode, slowNode, createdNode);
    await run.link(auditNode, lateNode);
    await expectRefused(run, () => run.link(lateNode, auditNode), 'TW_CYCLE');
    release.resolve();
    const done = await run.wait();
    expect(done.status).toBe('succeeded');
    expect(await run.result(lateNode)).toBe('late after created');
  });

  it('after stop, a persistent listener added later can be stopped again; backlogged notifications are recorded as not delivered', async () => {
    const register = task('register', { requires: ['ip', 'version'], apply: ({ ip }: { ip: string; version: number }) => ip });
    const listener = register.s({}, { persistent: true });
    const flo = flow('lb').link(event('server.created', { provides: ['ip'] }), listener).link(event('config.changed', { provides: ['version'] }), listener);
    const tw = await backend.connect();
    const run = await tw.start(flo);
    await tw.notify('server.created', { ip: '10.0.0.1' });
    await run.stop();
    const activations = await run.activations('register');
    expect(activations).toMatchObject([{ from: 'server.created', status: 'cancelled', error: { name: 'NotDelivered' } }]);
    await expectRefused(run, () => run.stop(), 'TW_INVALID_CHANGE', /already stopped/);
    const echo = task('echo', { requires: ['ip'], apply: ({ ip }: { ip: string }) => ip });
    await run.add(event('late.server', { provides: ['ip'] }));
    const reopened = await run.add(echo.s({}, { persistent: true }), { sources: ['late.server'] });
    expect(reopened.status).toBe('listening');
    expect((await run.stop()).status).toBe('succeeded');
    expect((await run.wait()).nodes['echo']?.status).toBe('succeeded');
  });
});
