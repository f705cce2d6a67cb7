/**
 * Fuzzing store rows read back (issue 10, point 7): a hand-edited or corrupt
 * row (not JSON, not an object, a field missing or of the wrong type, a
 * hostile key) is written straight into a SQLite database and a PostgreSQL
 * schema, then read back through `loadRun`, `history`, `activations` and
 * `listRuns`. Each read either works or throws a `TaskwireError` with a code.
 */
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { nodeRow } from '../../src/store/backlog.js';
import type { Store } from '../../src/store/port.js';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres/index.js';
import { jsonbText } from '../../src/store/postgres/rows.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/index.js';
import { requirePostgres, servicesSkipped } from '../support/services.js';
import { startedRun } from '../store/commits.js';
import { adminPool, dropSchema, endAdminPool, schemaName } from '../store/postgres-admin.js';
import { hostileJson, LONG, mutated, outcomeAsync, params, RUNS } from './fuzz.js';

/** Tables whose JSON column a hostile row replaces. */
type Table = 'runs' | 'nodes' | 'activations' | 'backlog' | 'history';

/** One hostile row: the table, and the column's content as JSON text or as a value. */
interface Hostile {
  table: Table;
  data: { text: string } | { value: unknown };
  /** A hostile `status` column for `runs` (what listRuns reads). */
  status?: string;
  /** The run's failure policy is rollback and its activation row a succeeded one owed a compensation (loadRun reads those too). */
  owed: boolean;
}

const valid = startedRun('base');
const ACTIVATION = { node: 'a', seq: 1, from: 'src', status: 'running', attempt: 1, inputs: { x: 1 }, startedAt: 1 };
const OWED = { ...ACTIVATION, status: 'succeeded', compensate: true };
const BACKLOG = { node: 'a', seq: 2, from: 'src', value: 3 };
const BASES: Record<Table, Record<string, unknown>> = {
  runs: valid.run,
  nodes: nodeRow(valid.nodes[0]!) as unknown as Record<string, unknown>,
  activations: ACTIVATION,
  backlog: BACKLOG,
  history: valid.history[0] as unknown as Record<string, unknown>,
};

const tableArb = fc.constantFrom<Table>('runs', 'nodes', 'activations', 'backlog', 'history');

const dataArb = (table: Table): fc.Arbitrary<Hostile['data']> => {
  const base = BASES[table];
  return fc.oneof(
    { weight: 4, arbitrary: mutated(base).map((value) => ({ value })) },
    // nested fields: the node's definition, the run's inputs
    { weight: 2, arbitrary: mutated(BASES.nodes['def'] as Record<string, unknown>).map((def) => ({ value: { ...base, def } })) },
    { weight: 1, arbitrary: hostileJson.map((value) => ({ value })) },
    { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('', '{', '{"def":', 'null', '[]', '"x"', JSON.stringify(base).slice(0, -3))).map((text) => ({ text })) },
  );
};

const hostileArb: fc.Arbitrary<Hostile> = tableArb.chain((table) =>
  fc.record({ table: fc.constant(table), data: dataArb(table), owed: fc.boolean(), status: fc.option(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('running', 'nope')), { nil: undefined }) }),
);

/** The JSON text of a hostile row's column. */
function textOf(data: Hostile['data']): string {
  return 'text' in data ? data.text : (JSON.stringify(data.value) ?? 'null');
}

/** Writes a valid run with one activation and one backlog row, then the hostile row over it. */
interface Backend {
  /** Names the backend in the tally. */
  name: string;
  store: Store;
  write(runId: string, hostile: Hostile): Promise<void>;
}

let n = 0;

async function fuzzReads(backend: Backend): Promise<void> {
  await fc.assert(
    fc.asyncProperty(hostileArb, async (hostile) => {
      const runId = `r${++n}`;
      await backend.store.commit([startedRun(runId)]);
      await backend.write(runId, hostile);
      const target = `store rows ${backend.name} ${hostile.table}`;
      await outcomeAsync(target, () => backend.store.loadRun(runId));
      await outcomeAsync(target, () => backend.store.history(runId));
      await outcomeAsync(target, () => backend.store.activations(runId));
      await outcomeAsync(target, () => backend.store.activations(runId, 'a'));
      await outcomeAsync(target, () => backend.store.listRuns({ limit: 3 }));
    }),
    params(LONG ? RUNS : 200),
  );
}

describe('fuzz: SQLite store rows read back', () => {
  let dir: string;
  let store: SqliteStore;
  let db: Database.Database;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tw-fuzz-rows-'));
    const path = join(dir, 'rows.db');
    store = openSqliteStore({ path });
    db = new Database(path); // a second connection, as a hand edit would be
  });
  afterAll(async () => {
    db?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loadRun, history, activations, listRuns: a coded error or a result', async () => {
    await fuzzReads({
      name: 'sqlite',
      store,
      async write(runId, hostile) {
        const activation = hostile.owed ? OWED : ACTIVATION;
        db.prepare(`INSERT INTO activations (run_id, node_id, seq, status, data) VALUES (?, 'a', 1, ?, ?)`).run(runId, activation.status, JSON.stringify(activation));
        if (hostile.owed) db.prepare(`UPDATE runs SET header = json_set(header, '$.onFailure', 'rollback') WHERE id = ?`).run(runId);
        db.prepare(`INSERT INTO backlog (run_id, node_id, seq, data) VALUES (?, 'a', 2, ?)`).run(runId, JSON.stringify(BACKLOG));
        const text = textOf(hostile.data);
        const column = hostile.table === 'runs' ? 'header' : 'data';
        const key = hostile.table === 'runs' ? 'id' : 'run_id';
        db.prepare(`UPDATE ${hostile.table} SET ${column} = ? WHERE ${key} = ?`).run(text, runId);
        if (hostile.status !== undefined) db.prepare(`UPDATE runs SET status = ? WHERE id = ?`).run(hostile.status, runId);
      },
    });
  });
});

describe.skipIf(servicesSkipped())('fuzz: PostgreSQL store rows read back', () => {
  const schema = schemaName();
  let store: PostgresStore;

  beforeAll(async () => {
    store = await openPostgresStore({ url: await requirePostgres(), schema, poolSize: 2 });
  });
  afterAll(async () => {
    await store?.close();
    await dropSchema(schema);
    await endAdminPool();
  });

  it('loadRun, history, activations, listRuns: a coded error or a result', async () => {
    const admin = await adminPool();
    await fuzzReads({
      name: 'postgres',
      store,
      async write(runId, hostile) {
        const activation = hostile.owed ? OWED : ACTIVATION;
        await admin.query(`INSERT INTO "${schema}".activations (run_id, node_id, seq, status, data) VALUES ($1, 'a', 1, $2, $3)`, [runId, activation.status, JSON.stringify(activation)]);
        if (hostile.owed) await admin.query(`UPDATE "${schema}".runs SET header = jsonb_set(header, '{onFailure}', '"rollback"') WHERE id = $1`, [runId]);
        await admin.query(`INSERT INTO "${schema}".backlog (run_id, node_id, seq, data) VALUES ($1, 'a', 2, $2)`, [runId, JSON.stringify(BACKLOG)]);
        // jsonb holds JSON only: text that is not JSON (or has a NUL) goes in as a JSON string, as the store wraps such rows
        const text = 'text' in hostile.data ? JSON.stringify(hostile.data.text) : jsonbText(hostile.data.value ?? null);
        const column = hostile.table === 'runs' ? 'header' : 'data';
        const key = hostile.table === 'runs' ? 'id' : 'run_id';
        await admin.query(`UPDATE "${schema}".${hostile.table} SET ${column} = $1::jsonb WHERE ${key} = $2`, [text, runId]);
        if (hostile.status !== undefined) await admin.query(`UPDATE "${schema}".runs SET status = $1 WHERE id = $2`, [hostile.status.replace(/\0/g, ''), runId]);
      },
    });
  });
});
