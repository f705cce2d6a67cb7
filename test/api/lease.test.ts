/**
 * Executions longer than the broker's consumer timeout: acknowledged early and
 * held by a lease in the store; a lease that ends without an outcome (the worker
 * died) makes the coordinator dispatch the node again.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connect, flow, task, type Client } from '../../src/index.js';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { FakeClock } from '../../src/testing/index.js';
import type { Delivery, DispatchMessage, SignalMessage, Subscription, Transport } from '../../src/transport/port.js';
import { TaskRegistry } from '../../src/worker/registry.js';
import { Worker } from '../../src/worker/worker.js';
import { dropTestSpace, requirePostgres, requireRabbit, servicesSkipped } from '../support/services.js';
import { deferred, eventually } from './helpers.js';

/** A transport that hands one dispatch to the worker and fails the first `failures` heartbeats. */
function flakyHeartbeats(failures: number) {
  const signals: SignalMessage[] = [];
  const settled: string[] = [];
  let handler: ((delivery: Delivery<DispatchMessage>) => void) | undefined;
  let heartbeats = 0;
  const none: Subscription = { cancel: async () => undefined };
  const transport: Transport = {
    kind: 'flaky',
    durable: true,
    dispatch: async () => undefined,
    signal: async (messages) => {
      if (messages.some((m) => m.type === 'task.heartbeat') && heartbeats++ < failures) throw new Error('the broker is busy');
      signals.push(...messages);
    },
    abort: async () => undefined,
    announce: async () => undefined,
    consumeDispatches: async (_queue, _options, h) => ((handler = h), none),
    consumeSignals: async () => none,
    consumeAborts: async () => none,
    subscribe: async () => none,
    close: async () => undefined,
  };
  const deliver = (message: DispatchMessage): void =>
    handler?.({ body: message, redelivered: false, ack: () => void settled.push('ack'), requeue: () => void settled.push('requeue'), reject: () => void settled.push('reject') });
  return { transport, signals, settled, deliver, heartbeats: () => heartbeats };
}

describe('leases of long executions [embedded-memory, fake clock]', () => {
  it('does not dispatch a leased execution again when its lease ends within the grace period after the coordinator started', async () => {
    const clock = new FakeClock();
    let executions = 0;
    const release = deferred();
    const long = task('lease-grace', { apply: async () => (executions++, await release.promise, 'done') });
    const store = new MemoryStore();
    const tw = await connect({ store, clock, tasks: [long], leaseAfterMs: 20, leaseMs: 1000 });
    try {
      const run = await tw.start(flow('lease-grace').add(long.s()));
      const leaseUntil = async (): Promise<number> => (await store.loadRun(run.id))?.nodes.get('lease-grace')?.leaseUntil ?? 0;
      await eventually(async () => expect(await leaseUntil()).toBeGreaterThan(0));
      // No heartbeat heard for longer than the lease (an outage): the lease ends while the task still runs.
      await clock.advance((await leaseUntil()) - clock.now() + 1);
      // A heartbeat heard again renews it: the late end of the lease changes nothing.
      await eventually(async () => expect(await leaseUntil()).toBeGreaterThan(clock.now()));
      release.resolve();
      expect((await run.wait({ timeoutMs: 5000 })).status).toBe('succeeded');
      expect(executions).toBe(1);
      expect((await run.history()).filter((e) => e.detail?.['reason'] === 'lease expired')).toEqual([]);
    } finally {
      release.resolve();
      await tw.close();
    }
  });
});

describe('leases of long executions [worker]', () => {
  it('retries a failed heartbeat: the long execution is still acknowledged early and its lease renewed', async () => {
    const release = deferred();
    const long = task('lease-long', { apply: async () => (await release.promise, 'done') });
    const flaky = flakyHeartbeats(2);
    const worker = new Worker({ transport: flaky.transport, registry: new TaskRegistry().register(long), leaseAfterMs: 20, leaseMs: 300 });
    await worker.start();
    flaky.deliver({ type: 'dispatch', kind: 'apply', runId: 'r', node: 'n', attempt: 1, task: 'lease-long', inputs: {}, timeoutMs: 0, queue: 'default' });
    // Two heartbeats failed; a retry took the lease and acknowledged the dispatch while it runs.
    await eventually(() => expect(flaky.settled).toEqual(['ack']));
    await eventually(() => expect(flaky.signals.filter((s) => s.type === 'task.heartbeat').length).toBeGreaterThanOrEqual(2));
    release.resolve();
    await eventually(() => expect(flaky.signals.at(-1)).toMatchObject({ type: 'task.succeeded', result: 'done' }));
    expect(flaky.settled).toEqual(['ack']);
    await worker.close();
  });
});

describe.skipIf(servicesSkipped())('leases of long executions [distributed]', () => {
  const suffix = randomUUID().slice(0, 8);
  const space = { prefix: `twlease-${suffix}`, schema: `tw_lease_${suffix}` };
  const clients: Client[] = [];
  const open = async (options: Parameters<typeof connect>[0]): Promise<Client> => {
    const client = await connect({ broker: await requireRabbit(), store: await requirePostgres(), ...space, ...options });
    clients.push(client);
    return client;
  };

  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close();
    await dropTestSpace(space);
  });

  it('acknowledges a long execution early, renews its lease, and records its outcome once', async () => {
    let runs = 0;
    const slow = task('lease-slow', { apply: async () => { runs++; await new Promise((r) => setTimeout(r, 1200)); return 'done'; } });
    const flo = flow('leased');
    flo.add(slow.s());
    const tw = await open({ worker: true, coordinator: true, tasks: [slow], leaseAfterMs: 100, leaseMs: 300 });
    const run = await tw.start(flo);
    const final = await run.wait({ timeoutMs: 20_000 });
    expect(final.status).toBe('succeeded');
    expect(final.nodes['lease-slow']?.result).toBe('done');
    expect(runs).toBe(1);
    const succeeded = (await run.history()).filter((e) => e.type === 'node.succeeded');
    expect(succeeded).toHaveLength(1);
  });

  it('executes a task longer than its lease once across a coordinator outage longer than the lease', async () => {
    let executions = 0;
    const release = deferred();
    const long = task('lease-outage', { apply: async () => (executions++, await release.promise, 'done') });
    const flo = flow('lease-outage');
    flo.add(long.s());
    const worker = await open({ worker: true, coordinator: false, tasks: [long], leaseAfterMs: 100, leaseMs: 600 });
    const first = await open({ coordinator: true });
    const run = await worker.start(flo);
    const store = await openPostgresStore({ url: await requirePostgres(), schema: space.schema });
    const leaseUntil = async (): Promise<number> => (await store.loadRun(run.id))?.nodes.get('lease-outage')?.leaseUntil ?? 0;
    try {
      await eventually(async () => expect(await leaseUntil()).toBeGreaterThan(0));
      // The coordinator goes away for longer than the lease (heartbeats pile up in the signal queue).
      await first.close();
      const lastLease = await leaseUntil();
      await vi.waitFor(() => expect(Date.now()).toBeGreaterThan(lastLease + 600), { timeout: 10_000, interval: 50 });
      const second = await open({ coordinator: true });
      // Heartbeats heard again: the lease is renewed several times by the new coordinator.
      const renewals = new Set<number>();
      await vi.waitFor(
        async () => {
          const until = await leaseUntil();
          if (until > lastLease) renewals.add(until);
          expect(renewals.size).toBeGreaterThanOrEqual(4);
        },
        { timeout: 20_000, interval: 50 },
      );
      release.resolve();
      const final = await second.run(run.id).wait({ timeoutMs: 20_000 });
      expect(final.status).toBe('succeeded');
    } finally {
      release.resolve();
      await store.close();
    }
    expect(executions).toBe(1);
    const restarts = (await worker.run(run.id).history()).filter((e) => e.type === 'node.queued' && e.detail?.['reason'] === 'lease expired');
    expect(restarts).toEqual([]);
  });

  it('dispatches the node again when the worker holding the lease dies', async () => {
    let executions = 0;
    const stuck = task('lease-stuck', {
      apply: async (_inputs, { signal }) => {
        executions++;
        if (executions === 1) await new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('worker died'))));
        return executions;
      },
    });
    const flo = flow('lease-lost');
    flo.add(stuck.s());
    const first = await open({ worker: true, coordinator: true, tasks: [stuck], leaseAfterMs: 100, leaseMs: 600, shutdownGraceTimeMs: 10 });
    const run = await first.start(flo);
    const store = await openPostgresStore({ url: await requirePostgres(), schema: space.schema });
    try {
      await eventually(async () => expect((await store.loadRun(run.id))?.nodes.get('lease-stuck')?.leaseUntil).toBeGreaterThan(0));
    } finally {
      await store.close();
    }
    const second = await open({ worker: true, coordinator: true, tasks: [stuck], leaseAfterMs: 100, leaseMs: 600, leaseGraceMs: 1000 });
    await first.close(); // the leased execution is abandoned, not handed back: only its lease can bring it back
    const again = second.run(run.id);
    const final = await again.wait({ timeoutMs: 20_000 });
    expect(final.status).toBe('succeeded');
    expect(final.nodes['lease-stuck']).toMatchObject({ result: 2, attempt: 1 });
    const restarts = (await again.history()).filter((e) => e.type === 'node.queued' && e.detail?.['reason'] === 'lease expired');
    expect(restarts).toHaveLength(1);
  });
});
