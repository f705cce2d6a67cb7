/**
 * The SQLite store's run listing and counts (`listRuns`, `countRuns`): one
 * statement per shape of filter, prepared once. Newest first by the index
 * `runs_by_created` (created_at DESC, id DESC); keyset paging continues after
 * the cursor's (created_at, id); the text of errors is searched with LIKE over
 * the failed runs only (partial index `runs_failed`).
 *
 * @packageDocumentation
 */
import type Database from 'better-sqlite3';
import type { RunStatus } from '../../engine/state.js';
import type { RunFilter, RunSummary } from '../port.js';
import { readStatus } from '../row-check.js';
import { containsPattern, emptyCounts } from '../run-listing.js';
import { sqlLimit } from './sql-limit.js';

type SummaryRow = { id: string; flow: string; status: string; graph_version: number; created_at: number; updated_at: number; error: string | null };
type Param = string | number;

/** The WHERE conditions of a filter, their parameters, and a key naming their shape. */
function conditions(filter: RunFilter, listing: boolean): { where: string[]; params: Param[]; key: string } {
  const where: string[] = [];
  const params: Param[] = [];
  let key = listing ? 'l' : 'c';
  const add = (name: string, condition: string, ...values: Param[]): void => {
    where.push(condition);
    params.push(...values);
    key += `:${name}`;
  };
  if (filter.flow !== undefined) add('flow', 'flow = ?', filter.flow);
  if (filter.idPrefix !== undefined) add('id', 'substr(id, 1, ?) = ?', filter.idPrefix.length, filter.idPrefix);
  if (filter.createdAfter !== undefined) add('after', 'created_at >= ?', filter.createdAfter);
  if (filter.createdBefore !== undefined) add('before', 'created_at < ?', filter.createdBefore);
  if (filter.errorText !== undefined) add('error', "error IS NOT NULL AND error LIKE ? ESCAPE '\\'", containsPattern(filter.errorText));
  if (listing && filter.status !== undefined) add(`status${filter.status.length}`, `status IN (${filter.status.map(() => '?').join(', ')})`, ...filter.status);
  if (listing && filter.cursor !== undefined) add('cursor', '(created_at, id) < (?, ?)', filter.cursor.createdAt, filter.cursor.id);
  return { where, params, key };
}

const whereText = (where: string[]): string => (where.length > 0 ? `WHERE ${where.join(' AND ')}` : '');

/** Lists and counts a SQLite store's runs. */
export class SqliteRunListing {
  private readonly statements = new Map<string, Database.Statement<Param[], unknown>>();

  constructor(private readonly db: Database.Database) {}

  private statement(key: string, sql: () => string): Database.Statement<Param[], unknown> {
    let statement = this.statements.get(key);
    if (statement === undefined) {
      statement = this.db.prepare<Param[], unknown>(sql());
      this.statements.set(key, statement);
    }
    return statement;
  }

  /** See `Store.listRuns`. */
  list(filter: RunFilter): RunSummary[] {
    if (filter.status?.length === 0) return [];
    const { where, params, key } = conditions(filter, true);
    const statement = this.statement(key, () => `SELECT id, flow, status, graph_version, created_at, updated_at, error FROM runs ${whereText(where)} ORDER BY created_at DESC, id DESC LIMIT ?`);
    return (statement.all(...params, sqlLimit(filter.limit ?? 100)) as SummaryRow[]).map((r) => {
      const run: RunSummary = { id: r.id, flow: r.flow, status: readStatus(r.id, r.status), graphVersion: r.graph_version, createdAt: r.created_at, updatedAt: r.updated_at };
      if (r.error !== null) run.error = r.error;
      return run;
    });
  }

  /** See `Store.countRuns`. */
  count(filter: RunFilter): Record<RunStatus, number> {
    const { where, params, key } = conditions(filter, false);
    const statement = this.statement(key, () => `SELECT status, COUNT(*) AS n FROM runs ${whereText(where)} GROUP BY status`);
    const counts = emptyCounts();
    for (const row of statement.all(...params) as { status: string; n: number }[]) counts[readStatus('(count)', row.status)] += row.n;
    return counts;
  }
}
