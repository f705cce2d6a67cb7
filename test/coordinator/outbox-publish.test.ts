/**
 * Publishing from the outbox (durable transports): a confirm that never comes
 * must not hold the coordinator for ever; an abort whose best-effort publish
 * failed stays in the outbox; claims are judged by the database's clock, so a
 * poller whose clock runs ahead does not republish what another has claimed.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import type { Clock } from '../../src/coordinator/clock.js';
import { createRun, liveRun } from '../../src/engine/index.js';
import { flow, task, TransportError } from '../../src/index.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import type { Store } from '../../src/store/port.js';
import { InProcessTransport } from '../../src/transport/inprocess/index.js';
import type { DispatchMessage, Transport } from '../../src/transport/port.js';
import { FakeClock } from '../../src/testing/index.js';
import { requirePostgres, servicesSkipped } from '../support/services.js';

/** An in-process transport that claims to be durable, with publishes the test controls. */
function durableTransport(overrides: Partial<Transport>): { transport: Transport; inner: InProcessTransport } {
  const inner = new InProcessTransport();
  const transport = Object.assign(Object.create(inner) as Transport, { durable: true, ...overrides });
  return { transport, inner };
}

const a = task('pub-a', { apply: () => 1 });
const newRun = (id: string) => liveRun(createRun(flow('one').add(a.s()).definition(), { id, inputs: {}, validate: true, now: Date.now() }));

describe('outbox publishing', () => {
  it('gives up waiting for a confirm after publishTimeoutMs: the step resolves, the dispatch stays in the outbox', async () => {
    const store = new MemoryStore();
    const { transport, inner } = durableTransport({ dispatch: () => new Promise<void>(() => undefined) });
    const coordinator = new Coordinator({ store, transport, publishTimeoutMs: 100, pollIntervalMs: 60_000 });
    await coordinator.create(newRun('run-1'));
    expect((await store.dueOutbox(Number.MAX_SAFE_INTEGER, 10)).map((i) => i.command.type)).toEqual(['dispatch']);
    await coordinator.close();
    await inner.close();
  });

  it('times the confirm on its own clock: with a fake one, the step waits until that clock passes publishTimeoutMs', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const { transport, inner } = durableTransport({ dispatch: () => new Promise<void>(() => undefined) });
    // A minute: real time alone would not end the wait within the test's timeout.
    const coordinator = new Coordinator({ store, transport, clock, publishTimeoutMs: 60_000, pollIntervalMs: 600_000 });
    let created = false;
    const creating = coordinator.create(newRun('run-1')).then(() => (created = true));
    await clock.advance(59_999);
    expect(created).toBe(false);
    await clock.advance(1);
    await creating;
    expect((await store.dueOutbox(Number.MAX_SAFE_INTEGER, 10)).map((i) => i.command.type)).toEqual(['dispatch']);
    await coordinator.close();
    await inner.close();
  });

  it('keeps an abort in the outbox when its publish fails', async () => {
    const store = new MemoryStore();
    const { transport, inner } = durableTransport({
      dispatch: async () => undefined,
      abort: async () => {
        throw new TransportError('channel closed');
      },
    });
    const coordinator = new Coordinator({ store, transport, pollIntervalMs: 60_000 });
    await coordinator.create(newRun('run-1'));
    await coordinator.submit('run-1', { type: 'change', change: { op: 'cancel' }, actor: 'test' });
    const left = await store.dueOutbox(Number.MAX_SAFE_INTEGER, 10);
    expect(left.map((i) => i.command.type)).toEqual(['abort']);
    await coordinator.close();
    await inner.close();
  });

  describe.skipIf(servicesSkipped())('claims on PostgreSQL', () => {
    it('a poller whose clock runs a minute ahead does not republish an item another poller claimed', async () => {
      const url = await requirePostgres();
      const schema = `tw_claims_${randomBytes(6).toString('hex')}`;
      const { openPostgresStore } = await import('../../src/store/postgres/index.js');
      const store: Store = await openPostgresStore({ url, schema });
      try {
        const published: DispatchMessage[] = [];
        const { transport, inner } = durableTransport({ dispatch: async (messages) => void published.push(...messages) });
        // A process that executes nothing leaves its dispatches in the outbox, due now.
        const writer = new Coordinator({ store, transport, carryOut: false });
        await writer.create(newRun('run-1'));
        // The first poller claims them (and, say, is slow to publish).
        expect(await store.claimOutbox(Date.now(), 10, 5000)).toHaveLength(1);
        const ahead: Clock = { now: () => Date.now() + 60_000, setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
        const second = new Coordinator({ store, transport, clock: ahead, pollIntervalMs: 60_000 });
        await second.pollOutbox();
        expect(published).toEqual([]);
        await writer.close();
        await second.close();
        await inner.close();
      } finally {
        await store.close();
        const db = new pg.Client({ connectionString: url });
        await db.connect();
        await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await db.end();
      }
    });
  });
});
