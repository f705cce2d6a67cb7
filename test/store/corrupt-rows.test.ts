/**
 * Rows edited by hand or corrupted: the stores refuse them with a
 * CorruptRowError (`TW_STORE`) naming the table, the run and the field,
 * never a bare SyntaxError or TypeError.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CorruptRowError } from '../../src/errors.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/index.js';
import { startedRun } from './commits.js';

describe('SQLite store: corrupt rows read back', () => {
  let dir: string;
  let store: SqliteStore;
  let db: Database.Database;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tw-corrupt-'));
    store = openSqliteStore({ path: join(dir, 'x.db') });
    db = new Database(join(dir, 'x.db'));
    await store.commit([startedRun('r1')]);
  });
  afterEach(async () => {
    db.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const refused = async (read: () => Promise<unknown>, table: string, field: string): Promise<void> => {
    const error = await read().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CorruptRowError);
    expect(error).toMatchObject({ code: 'TW_STORE', table, runId: 'r1' });
    expect((error as Error).message).toContain(field);
  };

  it('a node row whose data lacks `status`', async () => {
    db.prepare(`UPDATE nodes SET data = json_remove(data, '$.status') WHERE run_id = 'r1'`).run();
    await refused(() => store.loadRun('r1'), 'nodes', 'field "status"');
  });

  it('a node definition row lacking a definition, and a node with no definition', async () => {
    db.prepare(`UPDATE node_defs SET data = json_remove(data, '$[0].def') WHERE run_id = 'r1'`).run();
    await refused(() => store.loadRun('r1'), 'node_defs', 'field "[0].def"');
    db.prepare(`DELETE FROM node_defs WHERE run_id = 'r1'`).run();
    await refused(() => store.loadRun('r1'), 'nodes', 'no definition');
  });

  it('a header that is not JSON, and one of another run', async () => {
    db.prepare(`UPDATE runs SET header = '{"id": "r1", ' WHERE id = 'r1'`).run();
    await refused(() => store.loadRun('r1'), 'runs', 'not JSON');
    db.prepare(`UPDATE runs SET header = ? WHERE id = 'r1'`).run(JSON.stringify({ ...startedRun('r2').run }));
    await refused(() => store.loadRun('r1'), 'runs', 'field "id"');
  });

  it('a history entry with a field of the wrong type', async () => {
    db.prepare(`UPDATE history SET data = json_set(data, '$[0].seq', 'one') WHERE run_id = 'r1'`).run();
    await refused(() => store.history('r1'), 'history', 'field "[0].seq"');
  });

  it('a status column listRuns cannot return', async () => {
    db.prepare(`UPDATE runs SET status = 'bogus' WHERE id = 'r1'`).run();
    await refused(() => store.listRuns(), 'runs', 'column "status"');
  });

  it('an activation row that is not JSON in a run that owes compensations', async () => {
    db.prepare(`UPDATE runs SET header = json_set(header, '$.onFailure', 'rollback') WHERE id = 'r1'`).run();
    db.prepare(`INSERT INTO activations (run_id, node_id, seq, status, data) VALUES ('r1', 'a', 1, 'succeeded', '{"compensate": tru')`).run();
    await refused(() => store.activations('r1'), 'activations', 'not JSON');
    // it may be owed a compensation: loadRun refuses it rather than skip it (or fail with a bare SQLite error)
    await refused(() => store.loadRun('r1'), 'activations', 'not JSON');
  });
});
