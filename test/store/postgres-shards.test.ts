/**
 * Shards in the PostgreSQL store, against the real server: the shard count a
 * schema records (default, option, refusal once it holds runs), the shard of
 * run and outbox rows, claims by shard, the membership of coordinator
 * processes (heartbeat, expiry, leave), and the locks of one store sharing
 * one session.
 */
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { shardOf } from '../../src/model/shard.js';
import { migrate, openPostgresStore, type PostgresStore, type PostgresStoreOptions } from '../../src/store/postgres/index.js';
import type { StoreLock } from '../../src/store/port.js';
import { FakeClock } from '../../src/testing/index.js';
import { requirePostgres, servicesSkipped } from '../support/services.js';
import { until } from '../support/until.js';
import { startedRun } from './commits.js';
import { adminPool, dropSchema, endAdminPool, schemaName } from './postgres-admin.js';

afterAll(endAdminPool);

/** The server sessions holding the advisory locks of `schema`'s elections `names`, by name (absent: not held). */
async function lockHolders(schema: string, names: string[]): Promise<Map<string, number>> {
  const result = await (await adminPool()).query<{ name: string; pid: number }>(
    `SELECT n.name, l.pid FROM pg_locks l, unnest($1::text[]) AS n(name), LATERAL (SELECT hashtextextended('taskwire:' || $2 || ':' || n.name, 0) AS k) h
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
        AND l.classid::bigint = ((h.k >> 32) & 4294967295) AND l.objid::bigint = (h.k & 4294967295)`,
    [names, schema],
  );
  return new Map(result.rows.map((row) => [row.name, row.pid]));
}

/** Whether `promise` has settled (after the microtasks queued now have run). */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe.skipIf(servicesSkipped())('PostgresStore: shards', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A fresh schema, dropped after the test. */
  function freshSchema(): string {
    const schema = schemaName();
    cleanups.push(() => dropSchema(schema));
    return schema;
  }

  async function open(schema: string, options: Partial<PostgresStoreOptions> = {}): Promise<PostgresStore> {
    const store = await openPostgresStore({ url: await requirePostgres(), schema, poolSize: 3, ...options });
    cleanups.push(() => store.close());
    return store;
  }

  it('records the shard count: 16 for a new schema, another when asked while it has no runs, refused once it holds runs', async () => {
    expect((await open(freshSchema())).shards).toBe(16);
    const schema = freshSchema();
    expect((await open(schema, { shards: 4 })).shards).toBe(4);
    expect((await open(schema)).shards).toBe(4); // the schema's count
    const store = await open(schema, { shards: 8 }); // no runs yet: changed
    expect(store.shards).toBe(8);
    await store.commit([startedRun('placed')]);

    const pool = await adminPool();
    const refused = migrate(pool, schema, { shards: 4 });
    await expect(refused).rejects.toMatchObject({ code: 'TW_CONFIG' });
    await expect(refused).rejects.toThrow(new RegExp(`"${schema}" has 8 shard\\(s\\).*changed to 4 shards`));
    await expect(open(schema, { shards: 16 })).rejects.toMatchObject({ code: 'TW_CONFIG' });
    expect(await migrate(pool, schema, { shards: 8 })).toEqual([]); // the same count: nothing to do
    expect((await open(schema)).shards).toBe(8);

    for (const shards of [0, 1025, 1.5]) {
      await expect(migrate(pool, schema, { shards })).rejects.toMatchObject({ code: 'TW_CONFIG' });
      await expect(open(schema, { shards })).rejects.toMatchObject({ code: 'TW_CONFIG' });
    }
  });

  it('writes the shard of each new run and of each outbox item, and claims by shard', async () => {
    const schema = freshSchema();
    const store = await open(schema, { shards: 8 });
    const ids = Array.from({ length: 12 }, (_, i) => `run-${i}`);
    await store.commit(ids.map((id) => startedRun(id)));
    const pool = await adminPool();
    const runs = await pool.query<{ id: string; shard: number }>(`SELECT id, shard FROM "${schema}".runs`);
    expect(new Map(runs.rows.map((r) => [r.id, r.shard]))).toEqual(new Map(ids.map((id) => [id, shardOf(id, 8)])));
    const outbox = await pool.query<{ run_id: string; shard: number }>(`SELECT run_id, shard FROM "${schema}".outbox`);
    expect(outbox.rows.length).toBeGreaterThanOrEqual(ids.length);
    for (const row of outbox.rows) expect(row.shard).toBe(shardOf(row.run_id, 8));

    const shards = [...new Set(ids.map((id) => shardOf(id, 8)))];
    expect(shards.length).toBeGreaterThan(1);
    const [first] = shards as [number];
    const claimed = await store.claimOutbox(Date.now(), 100, 60_000, [first]);
    expect(claimed.length).toBeGreaterThan(0);
    expect(new Set(claimed.map((item) => shardOf(item.runId, 8)))).toEqual(new Set([first]));
    const rest = await store.claimOutbox(Date.now(), 100, 60_000, shards.slice(1));
    expect(rest.length + claimed.length).toBe(outbox.rows.length);
    expect(rest.some((item) => shardOf(item.runId, 8) === first)).toBe(false);
  });

  it('lists the coordinator processes alive: a heartbeat renews, an expired member disappears, leave removes', async () => {
    const schema = freshSchema();
    const [a, b] = [await open(schema), await open(schema)];
    expect(await a.heartbeat('m-a', 60_000)).toEqual(['m-a']);
    expect(await b.heartbeat('m-b', 60_000)).toEqual(['m-a', 'm-b']);
    expect(await b.heartbeat('m-0', 200)).toEqual(['m-0', 'm-a', 'm-b']); // sorted
    const row = await (await adminPool()).query<{ host: string; pid: number }>(`SELECT host, pid FROM "${schema}".coordinators WHERE member = 'm-a'`);
    expect(row.rows[0]).toEqual({ host: expect.any(String), pid: process.pid });

    await until(async () => !(await a.heartbeat('m-a', 60_000)).includes('m-0'), 'the expired member disappears');
    const rows = await (await adminPool()).query<{ member: string }>(`SELECT member FROM "${schema}".coordinators ORDER BY member`);
    expect(rows.rows.map((r) => r.member)).toEqual(['m-a', 'm-b']); // its row deleted by a heartbeat

    await b.leave('m-b');
    await b.leave('m-b'); // idempotent
    expect(await a.heartbeat('m-a', 60_000)).toEqual(['m-a']);
    await expect(a.heartbeat('m-a', 0)).rejects.toMatchObject({ code: 'TW_CONFIG' });
  });

  describe('locks of one store share one session', () => {
    /** A store on a pool of the test's own (to count its connections), its lock checks on `clock`. */
    async function poolStore(schema: string, clock?: FakeClock): Promise<{ store: PostgresStore; pool: pg.Pool }> {
      const pool = new pg.Pool({ connectionString: await requirePostgres(), max: 4 });
      pool.on('error', () => undefined);
      cleanups.push(() => pool.end());
      const store = await open(schema, { url: undefined, poolSize: undefined, pool, ...(clock === undefined ? {} : { clock }) });
      return { store, pool };
    }

    const checkedOut = (pool: pg.Pool): number => pool.totalCount - pool.idleCount;

    async function take(store: PostgresStore, name: string): Promise<StoreLock> {
      const lock = await store.tryLock(name);
      if (lock === undefined) throw new Error(`${name} is held elsewhere`);
      return lock;
    }

    it('holds two elections on one connection; releasing one keeps the other; the connection goes back once none is held', async () => {
      const schema = freshSchema();
      const { store, pool } = await poolStore(schema);
      const [a, b] = await Promise.all([take(store, 'coordinator:t:shard:0'), take(store, 'coordinator:t:shard:1')]);
      expect(checkedOut(pool)).toBe(1);
      const holders = await lockHolders(schema, ['coordinator:t:shard:0', 'coordinator:t:shard:1']);
      expect(holders.size).toBe(2);
      expect(new Set(holders.values()).size).toBe(1);
      expect(await store.tryLock('coordinator:t:shard:0')).toBeUndefined(); // held by this store already
      const other = await open(schema);
      expect(await other.tryLock('coordinator:t:shard:1')).toBeUndefined();

      await a.release();
      expect(await settled(a.lost)).toBe(true);
      expect(await settled(b.lost)).toBe(false);
      expect([...(await lockHolders(schema, ['coordinator:t:shard:0', 'coordinator:t:shard:1'])).keys()]).toEqual(['coordinator:t:shard:1']);
      expect(checkedOut(pool)).toBe(1);
      expect(await store.commit([startedRun('fenced-by-b')], b.fence)).toEqual({ conflicts: [] });
      const again = await take(other, 'coordinator:t:shard:0'); // taken elsewhere, one epoch on
      expect(again.fence.epoch).toBe(a.fence.epoch + 1);
      await again.release();

      await b.release();
      expect(checkedOut(pool)).toBe(0);
      expect((await lockHolders(schema, ['coordinator:t:shard:1'])).size).toBe(0);
      const c = await take(store, 'coordinator:t:shard:1'); // a new session
      expect(checkedOut(pool)).toBe(1);
      await c.release();
      expect(checkedOut(pool)).toBe(0);
    });

    it('a newer epoch of one election loses only its lock, found by the one check of the session', async () => {
      const schema = freshSchema();
      const clock = new FakeClock();
      const { store, pool } = await poolStore(schema, clock);
      const [a, b] = [await take(store, 'coordinator:e:shard:0'), await take(store, 'coordinator:e:shard:1')];
      await (await adminPool()).query(`UPDATE "${schema}".leader_epochs SET epoch = epoch + 1 WHERE name = $1`, ['coordinator:e:shard:0']);
      await clock.advance(1000);
      await until(() => settled(a.lost), 'the check loses the lock of the newer epoch');
      expect(await settled(b.lost)).toBe(false);
      await until(async () => (await lockHolders(schema, ['coordinator:e:shard:0'])).size === 0, 'its advisory lock released');
      expect([...(await lockHolders(schema, ['coordinator:e:shard:0', 'coordinator:e:shard:1'])).keys()]).toEqual(['coordinator:e:shard:1']);
      expect(checkedOut(pool)).toBe(1);
      await expect(store.commit([startedRun('deposed')], a.fence)).rejects.toMatchObject({ code: 'TW_FENCED' });
      expect(await store.commit([startedRun('kept')], b.fence)).toEqual({ conflicts: [] });
      await clock.advance(1000);
      await until(() => clock.nextDueAt === clock.now() + 1000, 'the next check done (the one after it scheduled)');
      expect(await settled(b.lost)).toBe(false); // kept
      await b.release();
      expect(checkedOut(pool)).toBe(0);
    });

    it('a session ended by the server loses every lock it held, and gives its connection back', async () => {
      const schema = freshSchema();
      const { store, pool } = await poolStore(schema);
      const names = ['coordinator:k:shard:0', 'coordinator:k:shard:1', 'coordinator:k:shard:2'];
      const locks = await Promise.all(names.map((name) => take(store, name)));
      const holders = await lockHolders(schema, names);
      expect(new Set(holders.values()).size).toBe(1);
      await (await adminPool()).query('SELECT pg_terminate_backend($1)', [holders.get(names[0] as string)]);
      await until(async () => (await Promise.all(locks.map((lock) => settled(lock.lost)))).every(Boolean), 'every lock lost');
      await until(() => checkedOut(pool) === 0, 'the connection given back');
      const again = await until(() => store.tryLock(names[1] as string), 'the lock taken again on a new session');
      expect(again.fence.epoch).toBe((locks[1] as StoreLock).fence.epoch + 1);
      await again.release();
    });
  });
});
