import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MIGRATIONS, openSqliteStore, SCHEMA_VERSION } from '../../src/store/sqlite/index.js';
import { nextOf, quietStepOf, startedRun } from './commits.js';
import { storeContract } from './contract.js';
import type { StepCommit } from '../../src/store/port.js';

async function tempDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'taskwire-sqlite-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

storeContract('sqlite', async () => {
  const { dir, remove } = await tempDir();
  const store = openSqliteStore({ path: join(dir, 'runs.db') });
  return { store, cleanup: async () => {
    await store.close();
    await remove();
  } };
});

storeContract('sqlite :memory:', async () => ({ store: openSqliteStore({ path: ':memory:' }), cleanup: async () => {} }));

describe('SqliteStore', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => {
    ({ dir, remove } = await tempDir());
  });
  afterEach(async () => {
    await remove();
  });

  it('keeps data across close and reopen of the same file', async () => {
    const path = join(dir, 'runs.db');
    const commit = startedRun('r1');
    const first = openSqliteStore({ path });
    await first.commit([commit]);
    const loaded = await first.loadRun('r1');
    await first.close();

    const second = openSqliteStore({ path });
    expect(await second.loadRun('r1')).toEqual(loaded);
    expect(await second.history('r1')).toEqual(commit.history);
    expect(await second.dueOutbox(10, 10)).toEqual(commit.outbox);
    expect(await second.listRuns()).toHaveLength(1);
    expect(await second.commit([commit])).toEqual({ conflicts: ['r1'] });
    await second.close();
  });

  it('sets up WAL, NORMAL synchronous, foreign keys and the schema version', async () => {
    const path = join(dir, 'runs.db');
    await openSqliteStore({ path }).close();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      const tables = db.prepare<[], { name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all();
      expect(tables.map((t) => t.name)).toEqual(['activations', 'backlog', 'gate_permits', 'gate_rates', 'gate_waiters', 'held', 'history', 'node_defs', 'nodes', 'outbox', 'runs', 'schedules', 'tasks', 'workers']);
    } finally {
      db.close();
    }
  });

  it('moves the backlogs held in node rows by schema version 2 into rows of their own', async () => {
    const path = join(dir, 'runs.db');
    const create = startedRun('r1');
    const node = { ...create.nodes[0]!, backlog: [{ seq: 7, from: 'ev', value: { n: 1 } }, { seq: 9, from: 'ev' }] };
    writeOldRun(path, 2, create, node);

    const store = openSqliteStore({ path });
    expect((await store.loadRun('r1'))?.nodes.get('a')).toEqual(node);
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare<[], { data: string }>('SELECT data FROM nodes').get()?.data).not.toContain('backlog');
      // schema version 7: the definition and sources moved to node_defs
      expect(db.prepare<[], { data: string }>('SELECT data FROM nodes').get()?.data).not.toMatch(/"def"|"sources"/);
      expect(JSON.parse(db.prepare<[], { data: string }>('SELECT data FROM node_defs').get()?.data ?? 'null')).toEqual([{ def: node.def, sources: node.sources }]);
      expect(db.prepare<[], { seq: number }>('SELECT seq FROM backlog ORDER BY seq').all()).toEqual([{ seq: 7 }, { seq: 9 }]);
    } finally {
      db.close();
    }
  });

  it('moves the held results kept in node rows by schema version 5 into rows of their own', async () => {
    const path = join(dir, 'runs.db');
    const create = startedRun('r1');
    const node = { ...create.nodes[0]!, held: [{ seq: 4, result: { ok: 1 } }, { seq: 6, result: null }] };
    writeOldRun(path, 5, create, node);

    const store = openSqliteStore({ path });
    expect((await store.loadRun('r1'))?.nodes.get('a')).toEqual(node);
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare<[], { data: string }>('SELECT data FROM nodes').get()?.data).not.toContain('held');
      expect(db.prepare<[], { seq: number }>('SELECT seq FROM held ORDER BY seq').all()).toEqual([{ seq: 4 }, { seq: 6 }]);
    } finally {
      db.close();
    }
  });

  it('keeps the history written by schema version 3 (WITHOUT ROWID) in the rowid table of version 4, still refusing a seq twice', async () => {
    const path = join(dir, 'runs.db');
    const create = startedRun('r1');
    const run = create.run;
    const old = new Database(path);
    for (const migration of MIGRATIONS.slice(0, 3)) old.exec(migration);
    old.pragma('user_version = 3');
    old.prepare('INSERT INTO runs (id, flow, status, rev, graph_version, created_at, updated_at, header) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(run.id, run.flow, run.status, run.rev, run.graphVersion, run.createdAt, run.updatedAt, JSON.stringify(run));
    for (const entry of [...create.history].reverse()) old.prepare('INSERT INTO history (run_id, seq, data) VALUES (?, ?, ?)').run(run.id, entry.seq, JSON.stringify(entry));
    old.close();

    const store = openSqliteStore({ path });
    expect(create.history.length).toBeGreaterThan(1);
    expect(await store.history('r1')).toEqual(create.history);
    const again = { ...create, run: { ...run, rev: run.rev + 1 }, expectedRev: run.rev, nodes: [], outbox: [], history: [create.history[0]!] };
    await expect(store.commit([again])).rejects.toThrow(/UNIQUE/);
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(db.prepare<[], { sql: string }>(`SELECT sql FROM sqlite_master WHERE name = 'history'`).get()?.sql).not.toContain('WITHOUT ROWID');
    } finally {
      db.close();
    }
  });

  it('gives the runs written by schema version 10 their first failure message from their history (schema 11)', async () => {
    const path = join(dir, 'runs.db');
    const old = new Database(path);
    for (const migration of MIGRATIONS.slice(0, 10)) old.exec(migration);
    old.pragma('user_version = 10');
    const insertRun = old.prepare("INSERT INTO runs (id, flow, status, rev, graph_version, created_at, updated_at, header) VALUES (?, 'f', 'failed', 1, 1, 1, 1, '{}')");
    const insertHistory = old.prepare('INSERT INTO history (run_id, seq, data) VALUES (?, ?, ?)');
    const entry = (seq: number, type: string, message?: string) => ({ runId: 'r1', seq, at: 1, type, graphVersion: 1, node: 'a', ...(message === undefined ? {} : { detail: { message } }) });
    insertRun.run('r1');
    insertRun.run('r2');
    insertHistory.run('r1', 1, JSON.stringify([entry(1, 'node.started'), entry(2, 'node.retrying', 'once')]));
    insertHistory.run('r1', 3, JSON.stringify([entry(3, 'node.failed', 'first for good'), entry(4, 'node.failed', 'second')]));
    insertHistory.run('r2', 1, JSON.stringify([entry(1, 'node.started')]));
    old.close();
    const store = openSqliteStore({ path });
    expect((await store.listRuns()).map((r) => [r.id, r.error])).toEqual([['r2', undefined], ['r1', 'first for good']]);
    expect((await store.listRuns({ errorText: 'FOR GOOD' })).map((r) => r.id)).toEqual(['r1']);
    await store.close();
  });

  it('refuses a database written by a newer schema', async () => {
    const path = join(dir, 'runs.db');
    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => openSqliteStore({ path })).toThrow(expect.objectContaining({ code: 'TW_CONFIG' }));
  });

  it('rejects bad options and use after close', async () => {
    expect(() => openSqliteStore({ path: '' })).toThrow(expect.objectContaining({ code: 'TW_CONFIG' }));
    expect(() => openSqliteStore({ path: ':memory:', busyTimeoutMs: -1 })).toThrow(expect.objectContaining({ code: 'TW_CONFIG' }));
    expect(() => openSqliteStore({ path: join(dir, 'missing', 'runs.db') })).toThrow(expect.objectContaining({ code: 'TW_CONFIG' }));
    const store = openSqliteStore({ path: ':memory:' });
    await store.close();
    await expect(store.loadRun('r1')).rejects.toMatchObject({ code: 'TW_CLOSED' });
  });

  it('leaves the header column as it was for a step that changes no other header field, and reads the columns over it', async () => {
    const path = join(dir, 'runs.db');
    const store = openSqliteStore({ path });
    const create = startedRun('r1');
    const quiet = quietStepOf(create, 'quiet');
    expect(await store.commit([create, quiet])).toEqual({ conflicts: [] });
    const raw = new Database(path, { readonly: true });
    const row = () => raw.prepare<[], { header: string; rev: number; seq: number }>('SELECT header, rev, seq FROM runs').get();
    expect(JSON.parse(row()?.header ?? '{}')).toEqual(create.run);
    expect(row()).toMatchObject({ rev: 2, seq: quiet.run.seq });
    expect(await store.loadRun('r1')).toMatchObject(quiet.run);
    expect((await store.listRuns())[0]?.status).toBe('failed');
    const loud = { ...nextOf(quiet, 'loud'), headerChanged: true };
    expect(await store.commit([loud])).toEqual({ conflicts: [] });
    expect(JSON.parse(row()?.header ?? '{}')).toEqual(loud.run);
    expect(await store.loadRun('r1')).toMatchObject(loud.run);
    raw.close();
    await store.close();
  });

  it('writes node definitions only for the nodes a commit lists in `defs`, and reads the latest written for each node', async () => {
    const store = openSqliteStore({ path: join(dir, 'runs.db') });
    const create = startedRun('r1');
    await store.commit([create]);
    const node = create.nodes[0]!;
    const edited = { ...node, def: { ...node.def, timeoutMs: 9 }, attempt: 4 };
    const quiet = { ...nextOf(create, 'quiet'), nodes: [edited], defs: [] };
    await store.commit([quiet]);
    expect((await store.loadRun('r1'))?.nodes.get('a')).toEqual({ ...edited, def: node.def }); // the state written, not the definition
    await store.commit([{ ...nextOf(quiet, 'edit'), nodes: [edited], defs: [edited] }]);
    expect((await store.loadRun('r1'))?.nodes.get('a')).toEqual(edited);
    await store.close();
  });

  it('writes the rows of two commits of one run in a batch in order (a node written, then removed)', async () => {
    const store = openSqliteStore({ path: join(dir, 'runs.db') });
    const create = startedRun('r1');
    await store.commit([create, { ...nextOf(create, 'remove'), nodes: [], removed: ['a'] }]);
    expect([...((await store.loadRun('r1'))?.nodes.keys() ?? [])]).toEqual([]);
    await store.close();
  });

  it('writes nothing of a batch that failed half-way, and nothing of it with the next batch', async () => {
    const path = join(dir, 'runs.db');
    const store = openSqliteStore({ path });
    const bad = startedRun('r3');
    bad.nodes = [{ ...bad.nodes[0]!, inputs: { x: 1n as unknown as number } }]; // JSON.stringify throws
    await expect(store.commit([startedRun('r2'), bad])).rejects.toThrow(/BigInt/);
    await store.commit([startedRun('r4')]);
    expect(await store.loadRun('r2')).toBeUndefined();
    expect((await store.loadRun('r4'))?.nodes.size).toBe(1);
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare<[], { run_id: string }>('SELECT DISTINCT run_id FROM nodes UNION SELECT DISTINCT run_id FROM history').all()).toEqual([{ run_id: 'r4' }]);
    } finally {
      db.close();
    }
  });

  it('keeps the history entries of a commit in one row and pages them from any entry', async () => {
    const path = join(dir, 'runs.db');
    const store = openSqliteStore({ path });
    const create = startedRun('r1');
    const entry = (seq: number) => ({ runId: 'r1', seq, at: seq, type: 'change' as const, graphVersion: 1, actor: `e${seq}` });
    const first = { ...nextOf(create, 'x'), history: [3, 4, 5, 6, 7].map(entry) };
    const second = { ...nextOf(first, 'y'), history: [8, 9, 10].map(entry) };
    const gapped = { ...nextOf(second, 'z'), history: [12, 15].map(entry) };
    await store.commit([create]);
    await store.commit([first]);
    await store.commit([second, { ...gapped }]);
    const seqs = async (page: { after?: number; limit?: number }) => (await store.history('r1', page)).map((e) => e.seq);
    const before = create.history.map((e) => e.seq);
    expect(await seqs({})).toEqual([...before, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15]);
    expect(await seqs({ after: 4, limit: 2 })).toEqual([5, 6]);
    expect(await seqs({ after: 6, limit: 3 })).toEqual([7, 8, 9]);
    expect(await seqs({ after: 7 })).toEqual([8, 9, 10, 12, 15]);
    expect(await seqs({ after: 13, limit: 1 })).toEqual([15]);
    expect(await seqs({ after: 15 })).toEqual([]);
    expect(await seqs({ after: 4, limit: 0 })).toEqual([]);
    expect(await seqs({ after: 9, limit: Infinity })).toEqual([10, 12, 15]);
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare<[], { seq: number }>(`SELECT seq FROM history WHERE run_id = 'r1' ORDER BY seq`).all().map((r) => r.seq)).toEqual([before[0], 3, 8, 12]);
    } finally {
      db.close();
    }
  });

  it('commits a large batch in one transaction', async () => {
    const store = openSqliteStore({ path: join(dir, 'runs.db') });
    const commits = Array.from({ length: 500 }, (_, i) => startedRun(`r${i}`));
    expect(await store.commit(commits)).toEqual({ conflicts: [] });
    expect(await store.liveRunIds()).toHaveLength(500);
    expect(await store.dueOutbox(10, 1000)).toHaveLength(500);
    await store.close();
  });
});

/** Writes, at `path`, a database of schema `version` holding `create`'s run with `node` as its node `a` (as that version wrote them). */
function writeOldRun(path: string, version: number, create: StepCommit, node: object & { status: string }): void {
  const old = new Database(path);
  for (const migration of MIGRATIONS.slice(0, version)) old.exec(migration);
  old.pragma(`user_version = ${version}`);
  const run = create.run;
  old.prepare('INSERT INTO runs (id, flow, status, rev, graph_version, created_at, updated_at, header) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
    .run(run.id, run.flow, run.status, run.rev, run.graphVersion, run.createdAt, run.updatedAt, JSON.stringify(run));
  old.prepare('INSERT INTO nodes (run_id, node_id, kind, name, status, data) VALUES (?, ?, ?, ?, ?, ?)').run(run.id, 'a', 'task', 'a', node.status, JSON.stringify(node));
  old.close();
}
