/**
 * The dashboard's runs list at scale: a store holding 100,000 runs (bulk
 * inserted, not run), then the queries one `GET /api/runs` makes (a page of
 * `listRuns` and the `countRuns` beside it), timed for the filters the page
 * offers: none, a deep page by cursor, a status, a flow, a time range, an id
 * prefix, text in errors. The target is under 200 ms per answer. SQLite
 * always; PostgreSQL too with `--pg` (the test server, `TASKWIRE_TEST_PG_URL`,
 * in a scratch schema dropped afterwards). See docs/benchmarks.md ("Dashboard").
 *
 *   npx tsx bench/dashboard-runs.ts [--runs 100000] [--repeat 7] [--pg]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { RunStatus } from '../src/engine/state.js';
import type { RunFilter, Store } from '../src/store/port.js';
import { openPostgresStore } from '../src/store/postgres/index.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { median } from './stats.js';

const { values: opt } = parseArgs({
  options: {
    runs: { type: 'string', default: '100000' },
    repeat: { type: 'string', default: '7' },
    pg: { type: 'boolean', default: false },
  },
});
const RUNS = Number(opt.runs);
const REPEAT = Number(opt.repeat);
const NOW = Date.UTC(2026, 11, 1);
const SPAN_MS = 30 * 24 * 3600_000;
const ERRORS = ['zone a has no capacity left', 'connection refused by 10.0.0.7:5432', 'timeout after 30000 ms', 'HTTP 503 from payments'];

/** The i-th run: id, flow, status, created at, error. Deterministic; newest last. */
function runRow(i: number): [string, string, RunStatus, number, string | null] {
  const r = (i * 2654435761) % 100;
  const status: RunStatus = r < 85 ? 'succeeded' : r < 93 ? 'failed' : r < 97 ? 'running' : 'cancelled';
  const id = `${(i * 40503 % 65536).toString(16).padStart(4, '0')}${i.toString(16).padStart(8, '0')}-run`;
  return [id, `flow-${i % 10}`, status, NOW - SPAN_MS + Math.floor((i * SPAN_MS) / RUNS), status === 'failed' ? (ERRORS[i % ERRORS.length] as string) : null];
}

/** The answers timed: name and filter (the API lists `limit` 50 and counts). */
function cases(store: Store): Promise<[string, RunFilter][]> {
  return (async () => {
    const middle = (await store.listRuns({ createdBefore: NOW - SPAN_MS / 2, limit: 1 }))[0];
    return [
      ['first page, no filter', {}],
      ['page 1,000 (cursor)', middle === undefined ? {} : { cursor: { createdAt: middle.createdAt, id: middle.id } }],
      ['status failed', { status: ['failed'] }],
      ['status running,cancelled', { status: ['running', 'cancelled'] }],
      ['flow', { flow: 'flow-3' }],
      ['last 24 h', { createdAfter: NOW - 24 * 3600_000 }],
      ['id prefix', { idPrefix: '9e' }],
      ['text in errors', { errorText: 'refused' }],
      ['text in errors, none match', { errorText: 'no such text' }],
    ];
  })();
}

async function time(store: Store): Promise<void> {
  for (const [name, filter] of await cases(store)) {
    const list: number[] = [];
    const count: number[] = [];
    let rows = 0;
    for (let i = 0; i < REPEAT; i++) {
      let t = performance.now();
      rows = (await store.listRuns({ ...filter, limit: 51 })).length;
      list.push(performance.now() - t);
      t = performance.now();
      await store.countRuns(filter);
      count.push(performance.now() - t);
    }
    const both = median(list) + median(count);
    console.log(`  ${name.padEnd(28)} list ${median(list).toFixed(1).padStart(7)} ms  count ${median(count).toFixed(1).padStart(7)} ms  answer ${both.toFixed(1).padStart(7)} ms  (${rows} rows)`);
  }
}

async function sqlite(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'taskwire-dash-bench-'));
  try {
    const path = join(dir, 'runs.db');
    await openSqliteStore({ path }).close();
    const db = new Database(path);
    const insert = db.prepare("INSERT INTO runs (id, flow, status, rev, graph_version, created_at, updated_at, seq, header, error) VALUES (?, ?, ?, 1, 1, ?, ?, 1, '{}', ?)");
    const started = performance.now();
    db.transaction(() => {
      for (let i = 0; i < RUNS; i++) {
        const [id, flow, status, at, error] = runRow(i);
        insert.run(id, flow, status, at, at + 1000, error);
      }
    })();
    db.exec('ANALYZE');
    db.close();
    console.log(`SQLite, ${RUNS} runs (inserted in ${((performance.now() - started) / 1000).toFixed(1)} s), median of ${REPEAT}:`);
    const store = openSqliteStore({ path });
    await time(store);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function postgres(): Promise<void> {
  const url = process.env['TASKWIRE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
  const schema = `bench_dashboard_${process.pid}`;
  const store = await openPostgresStore({ url, schema });
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    const started = performance.now();
    for (let from = 0; from < RUNS; from += 10_000) {
      const rows = Array.from({ length: Math.min(10_000, RUNS - from) }, (_, k) => runRow(from + k));
      await pool.query(
        `INSERT INTO "${schema}".runs (id, shard, flow, status, rev, graph_version, created_at, updated_at, seq, header, error)
         SELECT r.id, 0, r.flow, r.status, 1, 1, r.at, r.at + 1000, 1, '{}'::jsonb, r.error
           FROM jsonb_to_recordset($1::jsonb) AS r(id text, flow text, status text, at bigint, error text)`,
        [JSON.stringify(rows.map(([id, flow, status, at, error]) => ({ id, flow, status, at, error })))],
      );
    }
    await pool.query(`ANALYZE "${schema}".runs`);
    console.log(`PostgreSQL, ${RUNS} runs (inserted in ${((performance.now() - started) / 1000).toFixed(1)} s), median of ${REPEAT}:`);
    await time(store);
  } finally {
    await store.close();
    await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    await pool.end();
  }
}

await sqlite();
if (opt.pg) await postgres();
