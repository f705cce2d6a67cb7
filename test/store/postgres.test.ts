import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MemoryStore } from '../../src/store/memory/index.js';
import { migrate, MIGRATIONS, openPostgresStore, PostgresStore, redactUrl } from '../../src/store/postgres/index.js';
import { migrationSql } from '../../src/store/postgres/migrations.js';
import { requirePostgres, servicesSkipped } from '../support/services.js';
import { nextOf, quietStepOf, startedRun } from './commits.js';
import { adminPool, dropSchema, endAdminPool, schemaName } from './postgres-admin.js';
import { storeContract } from './contract.js';

afterAll(endAdminPool);

describe.skipIf(servicesSkipped())('PostgresStore', () => {
  storeContract('postgres', async () => {
    const schema = schemaName();
    const store = await openPostgresStore({ url: await requirePostgres(), schema, poolSize: 2 });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await dropSchema(schema);
      },
    };
  });

  describe('PostgreSQL specifics', () => {
    let url: string;
    const schema = schemaName();
    let a: PostgresStore;
    let b: PostgresStore;

    beforeAll(async () => {
      url = await requirePostgres();
      [a, b] = await Promise.all([openPostgresStore({ url, schema }), openPostgresStore({ url, schema })]); // two coordinators, migrating at once
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await dropSchema(schema);
    });

    it('migrates idempotently, and safely from two processes at once', async () => {
      const pool = await adminPool();
      expect(await migrate(pool, schema)).toEqual([]);
      expect(await migrate(pool, schema)).toEqual([]);
      const recorded = await pool.query<{ version: number }>(`SELECT version FROM "${schema}".taskwire_migrations ORDER BY version`);
      expect(recorded.rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));

      const fresh = schemaName();
      try {
        const other = new pg.Pool({ connectionString: url, max: 1 });
        const results = await Promise.all([migrate(pool, fresh), migrate(other, fresh), migrate(pool, fresh)]);
        await other.end();
        expect(results.flat()).toEqual(MIGRATIONS.map((m) => m.version)); // applied once, by one of them
      } finally {
        await dropSchema(fresh);
      }
    });

    it('moves the backlogs (before version 5) and held results (before version 8) kept in node rows into rows of their own', async () => {
      const pool = await adminPool();
      const legacy = schemaName();
      try {
        await pool.query(`CREATE SCHEMA "${legacy}"`);
        await pool.query(`CREATE TABLE "${legacy}".taskwire_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
        for (const migration of MIGRATIONS.filter((m) => m.version < 5)) {
          await pool.query(migrationSql(migration, `"${legacy}"`));
          await pool.query(`INSERT INTO "${legacy}".taskwire_migrations (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
        }
        const create = startedRun('legacy');
        const run = create.run;
        await pool.query(`INSERT INTO "${legacy}".runs (id, flow, status, rev, graph_version, created_at, updated_at, header) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [
          run.id, run.flow, run.status, run.rev, run.graphVersion, run.createdAt, run.updatedAt, JSON.stringify(run),
        ]);
        const node = { ...create.nodes[0]!, backlog: [{ seq: 7, from: 'ev', value: { n: 1 } }, { seq: 9, from: 'ev' }], held: [{ seq: 4, result: { ok: 1 } }, { seq: 6, result: null }] };
        await pool.query(`INSERT INTO "${legacy}".nodes (run_id, node_id, kind, name, status, data) VALUES ($1, 'a', 'task', 'a', $2, $3)`, [run.id, node.status, JSON.stringify(node)]);

        expect(await migrate(pool, legacy)).toEqual(MIGRATIONS.map((m) => m.version).filter((v) => v > 4)); // every version after the legacy schema's
        const migrated = await openPostgresStore({ pool, schema: legacy });
        expect((await migrated.loadRun('legacy'))?.nodes.get('a')).toEqual(node);
        expect(migrated.shards).toBe(1); // it held runs when version 6 came: they all stay in shard 0
        await expect(migrate(pool, legacy, { shards: 16 })).rejects.toThrow(new RegExp(`"${legacy}" has 1 shard\\(s\\) and already holds runs.*16 shards`));
        await migrated.close();
        const rows = await pool.query<{ has: boolean }>(`SELECT data ? 'backlog' OR data ? 'held' AS has FROM "${legacy}".nodes`);
        expect(rows.rows).toEqual([{ has: false }]);
      } finally {
        await dropSchema(legacy);
      }
    });

    it('lets exactly one of two coordinators create, then step, the same run', async () => {
      for (let i = 0; i < 10; i++) {
        const create = startedRun(`race-${i}`);
        const results = await Promise.all([a.commit([create]), b.commit([create])]);
        expect(results.map((r) => r.conflicts.length).sort()).toEqual([0, 1]);
        const [first, second] = [nextOf(create, 'a'), nextOf(create, 'b')];
        const stepped = await Promise.all([a.commit([first]), b.commit([second])]);
        expect(stepped.map((r) => r.conflicts.length).sort()).toEqual([0, 1]);
        const winner = stepped[0]?.conflicts.length === 0 ? 'a' : 'b';
        expect((await a.history(create.run.id)).map((e) => e.actor).filter(Boolean)).toEqual([winner]);
        expect((await b.loadRun(create.run.id))?.rev).toBe(2);
      }
    });

    it('lets exactly one of two coordinators step a run from one revision when neither rewrites the header (no FOR UPDATE)', async () => {
      for (let i = 0; i < 10; i++) {
        const create = startedRun(`quiet-race-${i}`);
        await a.commit([create]);
        const [first, second] = [quietStepOf(create, 'a'), quietStepOf(create, 'b')];
        const stepped = await Promise.all([a.commit([first]), b.commit([second])]);
        expect(stepped.map((r) => r.conflicts.length).sort()).toEqual([0, 1]);
        const winner = stepped[0]?.conflicts.length === 0 ? 'a' : 'b';
        expect((await b.history(create.run.id)).map((e) => e.actor).filter(Boolean)).toEqual([winner]);
        expect(await b.loadRun(create.run.id)).toMatchObject(first.run);
        const late = quietStepOf(first, 'late');
        expect(await Promise.all([a.commit([late]), b.commit([{ ...late, expectedRev: 1 }])])).toEqual([{ conflicts: [] }, { conflicts: [create.run.id] }]);
      }
    });

    it('leaves the header column as it was for a step that changes no other header field, and reads the columns over it', async () => {
      const pool = await adminPool();
      const row = async () => (await pool.query<{ header: unknown; rev: number; seq: number }>(`SELECT header, rev, seq FROM "${schema}".runs WHERE id = 'quiet'`)).rows[0];
      const create = startedRun('quiet');
      const quiet = quietStepOf(create, 'quiet');
      expect(await a.commit([create])).toEqual({ conflicts: [] });
      expect(await a.commit([quiet])).toEqual({ conflicts: [] });
      expect(await row()).toEqual({ header: create.run, rev: 2, seq: quiet.run.seq });
      expect(await b.loadRun('quiet')).toMatchObject(quiet.run);
      expect((await b.listRuns({ flow: 'f', limit: 1000 })).find((r) => r.id === 'quiet')?.status).toBe('failed');
      const loud = { ...nextOf(quiet, 'loud'), headerChanged: true };
      expect(await a.commit([loud])).toEqual({ conflicts: [] });
      expect((await row())?.header).toEqual(loud.run);
      expect(await b.loadRun('quiet')).toMatchObject(loud.run);
    });

    it('commits overlapping batches from two coordinators without deadlocks', async () => {
      const ids = Array.from({ length: 40 }, (_, i) => `overlap-${i}`);
      const creates = ids.map((id) => startedRun(id));
      await a.commit(creates);
      const forward = creates.map((c) => nextOf(c, 'a'));
      const backward = creates.map((c) => nextOf(c, 'b')).reverse();
      const [ra, rb] = await Promise.all([a.commit(forward), b.commit(backward)]);
      expect(ra.conflicts.length + rb.conflicts.length).toBe(ids.length);
      for (const id of ids) expect((await a.loadRun(id))?.rev).toBe(2);
    });

    it('writes a whole batch in one statement: one round trip, no transaction around it', async () => {
      const spy = vi.spyOn(pg.Client.prototype, 'query');
      try {
        const creates = Array.from({ length: 100 }, (_, i) => startedRun(`batch-${i}`));
        expect(await a.commit(creates)).toEqual({ conflicts: [] });
        expect(spy).toHaveBeenCalledTimes(1);
        spy.mockClear();
        const steps = creates.map((c) => nextOf(c, 'a'));
        steps[7] = { ...steps[7]!, expectedRev: 5 }; // a conflict does not cost a round trip either
        expect(await a.commit([...steps, startedRun('batch-new')])).toEqual({ conflicts: ['batch-7'] });
        expect(spy).toHaveBeenCalledTimes(1);
      } finally {
        spy.mockRestore();
      }
      expect(await a.loadRun('batch-99')).toMatchObject({ rev: 2 });
      expect(await a.loadRun('batch-7')).toMatchObject({ rev: 1 });
      expect(await a.loadRun('batch-new')).toMatchObject({ rev: 1 });
    });

    it("deletes outbox items in one round trip and leaves the session's synchronous_commit on for the commits after it", async () => {
      const pool = new pg.Pool({ connectionString: url, max: 1 });
      const store = await openPostgresStore({ pool, schema });
      try {
        const create = startedRun('outbox-delete');
        await store.commit([create]);
        const spy = vi.spyOn(pg.Client.prototype, 'query');
        try {
          await store.deleteOutbox(create.outbox.map((o) => o.id));
          expect(spy).toHaveBeenCalledTimes(1);
        } finally {
          spy.mockRestore();
        }
        expect((await store.dueOutbox(Number.MAX_SAFE_INTEGER, 1000)).filter((o) => o.runId === 'outbox-delete')).toEqual([]);
        expect((await pool.query('SHOW synchronous_commit')).rows).toEqual([{ synchronous_commit: 'on' }]); // the pool's only connection
      } finally {
        await store.close();
        await pool.end();
      }
    });

    it('writes the plan of the revision a run holds when its commits in a batch expect several (as the memory store)', async () => {
      const memory = new MemoryStore();
      const create = startedRun('replay');
      const [c2, other] = [nextOf(create, 'two'), startedRun('replay-other')];
      const c3 = { ...nextOf(c2, 'three'), outbox: [{ ...create.outbox[0]!, id: 'replay:3:0' }] };
      const c4 = nextOf(c3, 'four');
      const [half, both] = [startedRun('replay-half'), startedRun('replay-both')];
      // Stored at 2 (c2 written earlier): c2 again is stale, c3 and c4 apply; at 1: all three would.
      // A create and its next step: both apply to a run not stored; only the step to one stored at 1.
      const batches = [
        [create, other, half],
        [c2],
        [c2, c3, { ...nextOf(other, 'late'), expectedRev: 7 }, c4, nextOf(other, 'next')],
        [half, nextOf(half, 'half'), both, nextOf(both, 'both')],
      ];
      for (const batch of batches) expect(await a.commit(batch)).toEqual(await memory.commit(batch));
      expect(await a.commit(batches[3]!)).toEqual({ conflicts: batches[3]!.map((c) => c.run.id) }); // all stale now
      for (const id of ['replay', 'replay-other', 'replay-half', 'replay-both']) {
        expect(await a.loadRun(id)).toEqual(await memory.loadRun(id));
        expect(await a.history(id)).toEqual(await memory.history(id));
      }
      expect((await a.history('replay')).map((e) => e.actor).filter(Boolean)).toEqual(['two', 'three', 'four']);
      expect((await a.dueOutbox(10, 1000)).filter((o) => o.runId === 'replay').map((o) => o.id)).toEqual([...create.outbox.map((o) => o.id), 'replay:3:0']);
    });

    it('folds several commits of one run in a batch exactly as the memory store does', async () => {
      const memory = new MemoryStore();
      const create = startedRun('fold');
      const node = (id: string) => ({ ...structuredClone(create.nodes[0]!), def: { ...create.nodes[0]!.def, id } });
      const c2 = { ...nextOf(create, 'two'), nodes: [node('b'), node('c')], removed: [] };
      const c3 = { ...nextOf(c2, 'three'), nodes: [], removed: ['a', 'b'] };
      const c4 = { ...nextOf(c3, 'four'), nodes: [node('a'), node('b'), node('c')], removed: ['c'] }; // c removed, then added again
      const stale = { ...nextOf(create, 'stale'), expectedRev: 9 };
      c4.outbox = [{ ...create.outbox[0]!, id: 'fold:4:0', dueAt: 2 }];
      const batches = [[create], [stale, c2, { ...c2, expectedRev: 1 }, c3, c4]];
      for (const batch of batches) expect(await a.commit(batch)).toEqual(await memory.commit(batch));
      const [fromPg, fromMemory] = [await a.loadRun('fold'), await memory.loadRun('fold')];
      expect(fromPg).toEqual(fromMemory);
      expect([...(fromPg?.nodes.keys() ?? [])]).toEqual(['a', 'b', 'c']);
      expect(await a.history('fold')).toEqual(await memory.history('fold'));
      const due = async (store: { dueOutbox(now: number, limit: number): Promise<{ runId: string }[]> }) => (await store.dueOutbox(10, 1000)).filter((o) => o.runId === 'fold');
      expect(await due(a)).toEqual(await due(memory));
    });

    it('registers tasks given twice in one call, the last one winning', async () => {
      const info = { name: 'dup', requires: [], optional: [], rollback: false, retry: { limit: 0, initialDelayMs: 1000, factor: 2, maxDelayMs: 60000, jitter: 0.2 }, timeoutMs: 0, queue: 'default', provides: ['dup'] };
      await a.registerTasks([info, { ...info, queue: 'second' }]);
      expect((await b.tasks()).filter((t) => t.name === 'dup')).toEqual([{ ...info, queue: 'second' }]);
    });

    it('stores strings jsonb cannot hold (U+0000, lone surrogates)', async () => {
      const create = startedRun('odd-strings', { nul: 'a\u0000b', lone: 'x\ud800y', literal: '\\u0000' });
      expect(await a.commit([create])).toEqual({ conflicts: [] });
      const loaded = await a.loadRun('odd-strings');
      expect(loaded?.inputs).toEqual({ nul: 'a\u0000b', lone: 'x\ud800y', literal: '\\u0000' });
      expect((await a.listRuns({ flow: 'f', limit: 1000 })).some((r) => r.id === 'odd-strings')).toBe(true);
    });

    it('validates the schema name and the options', async () => {
      for (const bad of ['Taskwire', '1abc', 'a-b', 'x;drop', 'a'.repeat(64), '']) {
        await expect(openPostgresStore({ url, schema: bad })).rejects.toMatchObject({ code: 'TW_CONFIG' });
        await expect(migrate(await adminPool(), bad)).rejects.toMatchObject({ code: 'TW_CONFIG' });
      }
      expect(() => new PostgresStore(new pg.Pool(), 'Bad')).toThrow(expect.objectContaining({ code: 'TW_CONFIG' }));
      expect(new PostgresStore(new pg.Pool(), `_${'a1'.repeat(31)}`).schema).toHaveLength(63);
      await expect(openPostgresStore({})).rejects.toMatchObject({ code: 'TW_CONFIG' });
      await expect(openPostgresStore({ url, pool: await adminPool() })).rejects.toMatchObject({ code: 'TW_CONFIG' });
      await expect(openPostgresStore({ url, poolSize: 0 })).rejects.toMatchObject({ code: 'TW_CONFIG' });
      await expect(openPostgresStore({ url, schema, poolSize: 1.5 })).rejects.toMatchObject({ code: 'TW_CONFIG' });
      await expect(openPostgresStore({ url, schema, lockCheckIntervalMs: 0 })).rejects.toMatchObject({ code: 'TW_CONFIG' });
      await expect(openPostgresStore({ url, schema, lockCheckTimeoutMs: Number.NaN })).rejects.toMatchObject({ code: 'TW_CONFIG' });
    });

    it('keeps the password out of connection errors', async () => {
      const secret = 'sup3r-s3cret';
      const error: unknown = await openPostgresStore({ url: `postgres://postgres:${secret}@127.0.0.1:1/test` }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      const e = error as Error & { code?: string; reason?: string };
      expect(e.message).toContain('postgres://postgres:***@127.0.0.1:1/test');
      expect(e.code).toBe('TW_STORE');
      expect(e.reason).toBe('ECONNREFUSED');
      expect(`${e.message} ${e.stack ?? ''} ${JSON.stringify(e)}`).not.toContain(secret);
    });

    it('leaves a given pool open, and refuses use after close', async () => {
      const pool = new pg.Pool({ connectionString: url, max: 1 });
      const store = await openPostgresStore({ pool, schema });
      await store.close();
      await store.close();
      await expect(store.loadRun('x')).rejects.toMatchObject({ code: 'TW_CLOSED' });
      expect((await pool.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
      await pool.end();
    });
  });
});

describe('redactUrl', () => {
  it('masks passwords in URLs and key/value strings', () => {
    expect(redactUrl('postgres://u:s3cr%40t@h:5432/db?sslmode=require')).toBe('postgres://u:***@h:5432/db?sslmode=require');
    expect(redactUrl('postgres://u@h/db')).toBe('postgres://u@h/db');
    expect(redactUrl('postgres://:pw@h/db')).toBe('postgres://:***@h/db');
    expect(redactUrl('postgres://h/db?password=zz&x=1')).toBe('postgres://h/db?password=***&x=1');
    expect(redactUrl('amqp://guest:guest@127.0.0.1:5672')).toBe('amqp://guest:***@127.0.0.1:5672');
    expect(redactUrl("host=h password='a b' user=u")).toBe('host=h password=*** user=u');
    expect(redactUrl('host=h password=abc user=u')).toBe('host=h password=*** user=u');
    expect(redactUrl('postgres://u:p@ss@h:badport/db')).toBe('postgres://u:***@h:badport/db'); // not a valid URL: masked by pattern
  });
});
