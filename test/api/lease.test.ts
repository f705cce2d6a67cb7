/**
 * Executions longer than the broker's consumer timeout: acknowledged early and
 * held by a lease in the store; a lease that ends without an outcome (the worker
 * died) makes the coordinator dispatch the node again.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, flow, task, type Client } from '../../src/index.js';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import { dropTestSpace, requirePostgres, requireRabbit, servicesSkipped } from '../support/services.js';
import { eventually } from './helpers.js';

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
    const second = await open({ worker: true, coordinator: true, tasks: [stuck], leaseAfterMs: 100, leaseMs: 600 });
    await first.close(); // the leased execution is abandoned, not handed back: only its lease can bring it back
    const again = second.run(run.id);
    const final = await again.wait({ timeoutMs: 20_000 });
    expect(final.status).toBe('succeeded');
    expect(final.nodes['lease-stuck']).toMatchObject({ result: 2, attempt: 1 });
    const restarts = (await again.history()).filter((e) => e.type === 'node.started' && e.detail?.['reason'] === 'lease expired');
    expect(restarts).toHaveLength(1);
  });
});
