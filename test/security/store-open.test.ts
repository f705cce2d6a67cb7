/**
 * Opening a store that is not what this code expects (issue 10, point 3): a
 * PostgreSQL schema migrated by a newer taskwire is refused at open, naming
 * both versions; an empty, foreign or damaged SQLite file is refused with a
 * code, the file's path and what to do.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPostgresStore, SCHEMA_VERSION } from '../../src/store/postgres/index.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { requirePostgres, servicesSkipped } from '../support/services.js';

describe('opening a SQLite file', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'taskwire-open-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function refusal(path: string): { code?: string; reason?: string; message: string } {
    try {
      openSqliteStore({ path }).close().catch(() => undefined);
    } catch (error) {
      return error as { code?: string; reason?: string; message: string };
    }
    throw new Error('expected the open to fail');
  }

  it('refuses a 0-byte file instead of making it an empty store', () => {
    const path = join(dir, 'runs.db');
    writeFileSync(path, '');
    const error = refusal(path);
    expect(error).toMatchObject({ code: 'TW_STORE', reason: 'EMPTY_FILE' });
    expect(error.message).toContain(path);
    expect(error.message).toMatch(/restore it from a backup or delete it/);
  });

  it('refuses a file that is not a database', () => {
    const path = join(dir, 'runs.db');
    writeFileSync(path, randomBytes(8192));
    const error = refusal(path);
    expect(error).toMatchObject({ code: 'TW_STORE', reason: 'SQLITE_NOTADB' });
    expect(error.message).toContain(path);
  });

  it('refuses a damaged (truncated) database, naming the file and what to do', async () => {
    const path = join(dir, 'runs.db');
    const store = openSqliteStore({ path });
    await store.registerTasks(Array.from({ length: 200 }, (_, i) => ({ name: `t${i}`, requires: [], optional: [], provides: ['x'.repeat(300)], rollback: false, retry: { limit: 0, initialDelayMs: 1, factor: 1, maxDelayMs: 1, jitter: 0 }, timeoutMs: 0, queue: 'default' })));
    await store.close();
    truncateSync(path, 5000);
    const error = refusal(path);
    expect(error).toMatchObject({ code: 'TW_STORE', reason: 'SQLITE_CORRUPT' });
    expect(error.message).toContain(path);
    expect(error.message).toMatch(/restore it from a backup/);
  });

  it('still creates a store at a path that does not exist', async () => {
    const store = openSqliteStore({ path: join(dir, 'new.db') });
    expect(await store.listRuns()).toEqual([]);
    await store.close();
  });
});

describe.skipIf(servicesSkipped())('opening a PostgreSQL schema', () => {
  let admin: pg.Pool | undefined;
  const schema = `tw_open_${randomBytes(6).toString('hex')}`;
  afterAll(async () => {
    await admin?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin?.end();
  });

  it('refuses a schema migrated by a newer taskwire, naming both versions', async () => {
    const url = await requirePostgres();
    admin = new pg.Pool({ connectionString: url, max: 2 });
    await (await openPostgresStore({ url, schema })).close();
    const latest = SCHEMA_VERSION;
    await admin.query(`INSERT INTO "${schema}".taskwire_migrations (version, name) VALUES ($1, 'from the future')`, [latest + 1]);
    const error = await openPostgresStore({ url, schema }).then(
      () => undefined,
      (e: unknown) => e as { code?: string; message: string },
    );
    expect(error).toMatchObject({ code: 'TW_CONFIG' });
    expect(error?.message).toContain(`version ${latest + 1}`);
    expect(error?.message).toContain(`this taskwire's ${latest}`);
    expect(error?.message).toContain(schema);
  });
});
