/**
 * The coordinator lock of the PostgreSQL store and its leader epoch (fencing
 * token), against the real server: a lost lock gives its connection back to
 * the pool, a silent (half-open) lock connection is noticed, the checks run on
 * the clock given, and a coordinator deposed by a newer election cannot commit.
 */
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { createRun, liveRun } from '../../src/engine/index.js';
import { flow, task } from '../../src/index.js';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres/index.js';
import type { StoreLock } from '../../src/store/port.js';
import { FakeClock } from '../../src/testing/index.js';
import type { Delivery, DispatchMessage, SignalMessage, Subscription, Transport } from '../../src/transport/port.js';
import { requirePostgres, servicesSkipped } from '../support/services.js';
import { nextOf, quietStepOf, startedRun } from './commits.js';
import { adminPool, dropSchema, endAdminPool, schemaName } from './postgres-admin.js';

const LOCK = 'coordinator:leader-test';

/** Rejects when `promise` takes longer than `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Ends the server session holding the advisory lock of `schema`'s lock `name` (as a server restart or an admin would). */
async function terminateLockHolder(schema: string, name: string): Promise<void> {
  const result = await (await adminPool()).query<{ pid: number }>(
    `SELECT l.pid FROM pg_locks l, (SELECT hashtextextended($1, 0) AS k) h
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
        AND l.classid::bigint = ((h.k >> 32) & 4294967295) AND l.objid::bigint = (h.k & 4294967295)`,
    [`taskwire:${schema}:${name}`],
  );
  expect(result.rows).toHaveLength(1);
  await (await adminPool()).query('SELECT pg_terminate_backend($1)', [result.rows[0]?.pid]);
}

/** Takes the lock, trying again until the server has let go of the previous holder's. */
async function lockWhenFree(store: PostgresStore, name: string): Promise<StoreLock> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const lock = await within(store.tryLock(name), 10_000, 'tryLock');
    if (lock !== undefined) return lock;
    if (Date.now() > deadline) throw new Error(`lock "${name}" still held by another session`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A TCP proxy to PostgreSQL whose open connections can be silenced (no FIN, no RST: half-open). */
class SilentProxy {
  private readonly server: Server = createServer((client) => this.forward(client));
  private readonly open: Socket[][] = [];
  private readonly silenced: Socket[] = [];

  constructor(private readonly target: URL) {}

  /** Listens on a free local port; resolves with it. */
  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as { port: number }).port;
  }

  private forward(client: Socket): void {
    const upstream = tcpConnect({ host: this.target.hostname, port: Number(this.target.port || 5432) });
    client.pipe(upstream).pipe(client);
    for (const socket of [client, upstream]) socket.on('error', () => undefined);
    this.open.push([client, upstream]);
  }

  /** Stops forwarding on every connection open now; later connections work. */
  silence(): void {
    for (const [client, upstream] of this.open.splice(0) as [Socket, Socket][]) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
      this.silenced.push(client, upstream);
    }
  }

  async close(): Promise<void> {
    for (const socket of [...this.open.flat(), ...this.silenced]) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** A durable transport that records dispatches and lets the test hand signals to the coordinator consuming them. */
class ManualTransport implements Transport {
  readonly kind = 'manual';
  readonly durable = true;
  readonly dispatched: DispatchMessage[] = [];
  /** The consuming coordinator's handler, while it consumes. */
  consumer: ((batch: Delivery<SignalMessage>[]) => void) | undefined;
  /** Signal consumers cancelled (a coordinator that stands down cancels its own). */
  cancels = 0;

  async dispatch(messages: DispatchMessage[]): Promise<void> {
    this.dispatched.push(...messages);
  }
  async signal(): Promise<void> {}
  async abort(): Promise<void> {}
  async announce(): Promise<void> {}
  async consumeDispatches(): Promise<Subscription> {
    return { cancel: async () => undefined };
  }
  async consumeSignals(_options: unknown, handler: (batch: Delivery<SignalMessage>[]) => void): Promise<Subscription> {
    this.consumer = handler;
    return {
      cancel: async () => {
        this.consumer = undefined;
        this.cancels++;
      },
    };
  }
  async consumeAborts(): Promise<Subscription> {
    return { cancel: async () => undefined };
  }
  async subscribe(): Promise<Subscription> {
    return { cancel: async () => undefined };
  }
  async close(): Promise<void> {}
}

/** Resolves once `condition()` holds (polled). */
async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not true after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

afterAll(endAdminPool);

describe.skipIf(servicesSkipped())('PostgresStore: coordinator lock and leader epoch', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function open(schema: string, options: { url?: string; poolSize?: number; lockCheckIntervalMs?: number; lockCheckTimeoutMs?: number; clock?: FakeClock } = {}): Promise<PostgresStore> {
    // One shard: the coordinators of these tests campaign for the single lock `coordinator:<key>`.
    const store = await openPostgresStore({ url: await requirePostgres(), schema, poolSize: 3, shards: 1, ...options });
    cleanups.push(() => store.close());
    return store;
  }

  it("refuses a deposed coordinator's commit once a newer one is elected (TW_FENCED), and writes nothing of it", async () => {
    const schema = schemaName();
    cleanups.push(() => dropSchema(schema));
    const [a, b] = [await open(schema), await open(schema)];
    const lockA = await lockWhenFree(a, LOCK);
    expect(lockA.fence).toEqual({ name: LOCK, epoch: expect.any(Number) });
    expect(await b.tryLock(LOCK)).toBeUndefined();
    const create = startedRun('fenced');
    expect(await a.commit([create], lockA.fence)).toEqual({ conflicts: [] });

    await terminateLockHolder(schema, LOCK);
    await within(lockA.lost, 10_000, 'the lost lock is noticed');
    const lockB = await lockWhenFree(b, LOCK);
    cleanups.push(() => lockB.release());
    expect(lockB.fence.epoch).toBe(lockA.fence.epoch + 1);

    await expect(a.commit([nextOf(create, 'deposed')], lockA.fence)).rejects.toMatchObject({ code: 'TW_FENCED' });
    await expect(a.commit([quietStepOf(create, 'deposed')], lockA.fence)).rejects.toMatchObject({ code: 'TW_FENCED' }); // a step that leaves the header too
    expect(await a.loadRun('fenced')).toMatchObject(create.run);
    expect((await a.history('fenced')).some((e) => e.actor === 'deposed')).toBe(false);
    expect(await b.commit([nextOf(create, 'leader')], lockB.fence)).toEqual({ conflicts: [] });
    expect((await a.history('fenced')).filter((e) => e.actor !== undefined).map((e) => e.actor)).toEqual(['leader']);
    // Commits without a fence (clients) are not the election's business.
    expect(await a.commit([nextOf(nextOf(create, 'leader'), 'client')])).toEqual({ conflicts: [] });
  });

  it('refuses a whole fenced batch, new runs and outbox items included, and one fenced by an election that never happened', async () => {
    const schema = schemaName();
    cleanups.push(() => dropSchema(schema));
    const store = await open(schema);
    const lock = await lockWhenFree(store, LOCK);
    cleanups.push(() => lock.release());
    const create = startedRun('kept');
    expect(await store.commit([create], lock.fence)).toEqual({ conflicts: [] });
    const outboxBefore = await store.dueOutbox(Number.MAX_SAFE_INTEGER, 1000);

    const stale = { ...lock.fence, epoch: lock.fence.epoch - 1 };
    const batch = [nextOf(create, 'stale leader'), startedRun('never-created'), { ...nextOf(create, 'conflicting'), expectedRev: 9 }];
    await expect(store.commit(batch, stale)).rejects.toMatchObject({ code: 'TW_FENCED', epoch: stale.epoch, current: lock.fence.epoch });
    await expect(store.commit(batch, { name: 'coordinator:never-elected', epoch: 1 })).rejects.toMatchObject({ code: 'TW_FENCED', current: undefined });
    expect(await store.loadRun('never-created')).toBeUndefined();
    expect((await store.loadRun('kept'))?.rev).toBe(1);
    expect((await store.history('kept')).some((e) => e.actor !== undefined)).toBe(false);
    expect(await store.dueOutbox(Number.MAX_SAFE_INTEGER, 1000)).toEqual(outboxBefore);
  });

  it('a commit that meets an election in flight waits for it, then reads the new epoch and is refused', async () => {
    const schema = schemaName();
    cleanups.push(() => dropSchema(schema));
    const store = await open(schema);
    const lock = await lockWhenFree(store, LOCK);
    cleanups.push(() => lock.release());
    const create = startedRun('raced');
    expect(await store.commit([create], lock.fence)).toEqual({ conflicts: [] });

    const election = await (await adminPool()).connect();
    try {
      await election.query('BEGIN');
      await election.query(`UPDATE "${schema}".leader_epochs SET epoch = epoch + 1 WHERE name = $1`, [LOCK]); // a successor's win, not yet committed
      const commit = store.commit([nextOf(create, 'deposed')], lock.fence);
      commit.catch(() => undefined);
      await until(async () => {
        const waiting = await (await adminPool()).query(
          `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`,
          [`%"${schema}".leader_epochs%FOR SHARE%`],
        );
        return waiting.rows.length > 0;
      }, 'the commit waits for the election');
      await election.query('COMMIT');
      await expect(commit).rejects.toMatchObject({ code: 'TW_FENCED', current: lock.fence.epoch + 1 });
    } finally {
      await election.query('ROLLBACK').catch(() => undefined);
      election.release();
    }
    expect((await store.loadRun('raced'))?.rev).toBe(1);
  });

  it('gives the connection of every lost lock back: after many losses the store still answers', async () => {
    const schema = schemaName();
    cleanups.push(() => dropSchema(schema));
    const store = await open(schema, { poolSize: 2 });
    for (let i = 0; i < 5; i++) {
      const lock = await lockWhenFree(store, LOCK);
      await terminateLockHolder(schema, LOCK);
      await within(lock.lost, 10_000, `loss ${i + 1} noticed`); // nobody calls release(): the store gives the connection back itself
    }
    expect(await within(store.listRuns(), 10_000, 'listRuns after 5 lost locks')).toEqual([]);
    const last = await lockWhenFree(store, LOCK);
    await last.release();
  });

  it('notices a lock connection that went silent (half-open) by checking it, and gives its connection back', async () => {
    const schema = schemaName();
    cleanups.push(() => dropSchema(schema));
    const url = new URL(await requirePostgres());
    const proxy = new SilentProxy(new URL(url));
    cleanups.push(() => proxy.close());
    url.host = `127.0.0.1:${await proxy.listen()}`;
    const store = await open(schema, { url: url.toString(), poolSize: 1, lockCheckIntervalMs: 100, lockCheckTimeoutMs: 500 });
    const lock = await lockWhenFree(store, LOCK);
    proxy.silence();
    await within(lock.lost, 10_000, 'the silent lock connection is noticed');
    expect(await within(store.listRuns(), 10_000, 'listRuns on the only pooled connection')).toEqual([]);
  });

  it("checks the lock on the `clock` it is given: a fake clock's check finds a newer epoch and loses the lock", async () => {
    const schema = schemaName();
    cleanups.push(() => dropSchema(schema));
    const clock = new FakeClock();
    const store = await open(schema, { lockCheckIntervalMs: 1000, clock });
    const lock = await lockWhenFree(store, LOCK);
    await (await adminPool()).query(`UPDATE "${schema}".leader_epochs SET epoch = epoch + 1`); // elected elsewhere (as far as the row says)
    let lost = false;
    void lock.lost.then(() => (lost = true));
    await new Promise((resolve) => setTimeout(resolve, 1200)); // real time: the checks wait for the fake clock
    expect(lost).toBe(false);
    await clock.advance(1000);
    await within(lock.lost, 10_000, 'the check on the fake clock loses the lock');
    expect(await within(store.listRuns(), 10_000, 'listRuns on the pool after the loss')).toEqual([]);
  });

  it('a coordinator deposed without noticing cannot step a signal: it hands it back to the broker and stands by', async () => {
    const schema = schemaName();
    cleanups.push(() => dropSchema(schema));
    const store = await open(schema);
    const transport = new ManualTransport();
    const coordinator = new Coordinator({ store, transport, leaderKey: 'fence', electionIntervalMs: 50, pollIntervalMs: 50 });
    cleanups.push(() => coordinator.close());
    await coordinator.start();
    await until(() => transport.consumer !== undefined, 'elected');
    const a = task('a', { apply: () => 1 });
    await coordinator.create(liveRun(createRun(flow('fenced').add(a.s()).definition(), { id: 'run-1', inputs: {}, validate: true, now: Date.now() })));
    expect(transport.dispatched.map((d) => d.node)).toEqual(['a']);

    // Another coordinator is elected (its epoch is newer) while this one still takes signals.
    await (await adminPool()).query(`UPDATE "${schema}".leader_epochs SET epoch = epoch + 1`);
    const settled: string[] = [];
    const signal: SignalMessage = { type: 'task.succeeded', runId: 'run-1', node: 'a', attempt: 1, result: 1, worker: 'w' };
    transport.consumer?.([{ body: signal, redelivered: false, ack: () => settled.push('ack'), requeue: () => settled.push('requeue'), reject: () => settled.push('reject') }]);
    await until(() => settled.length > 0, 'the signal is settled');
    expect(settled).toEqual(['requeue']); // not acked: the broker hands it to the new leader
    const run = await store.loadRun('run-1');
    expect(run?.nodes.get('a')?.status).toBe('running');
    expect(run?.rev).toBe(1);
    // It stands down (cancels its consumer); as the shard's rightful owner it may win the lock again at once.
    await until(() => transport.cancels > 0, 'stood down: its signal consumer cancelled');
  });

  it('a standby leaves the outbox to the active coordinator', async () => {
    const schema = schemaName();
    cleanups.push(() => dropSchema(schema));
    const store = await open(schema);
    const holder = await lockWhenFree(await open(schema), 'coordinator:standby'); // the active coordinator, elsewhere
    cleanups.push(() => holder.release());
    const transport = new ManualTransport();
    const standby = new Coordinator({ store, transport, leaderKey: 'standby', electionIntervalMs: 50, pollIntervalMs: 20 });
    cleanups.push(() => standby.close());
    await standby.start();
    // A client leaves its run's first dispatch in the outbox, due at once.
    const client = new Coordinator({ store, transport: new ManualTransport(), carryOut: false });
    cleanups.push(() => client.close());
    const a = task('a', { apply: () => 1 });
    await client.create(liveRun(createRun(flow('left').add(a.s()).definition(), { id: 'run-2', inputs: {}, validate: true, now: Date.now() })));
    expect(await store.dueOutbox(Date.now(), 10)).toHaveLength(1);

    await new Promise((resolve) => setTimeout(resolve, 300)); // many poll intervals
    expect(transport.dispatched).toEqual([]);
    expect(await store.dueOutbox(Date.now(), 10)).toHaveLength(1);

    await holder.release();
    await until(() => transport.dispatched.length === 1, 'elected, it publishes the dispatch');
  });
});
