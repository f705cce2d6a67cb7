/**
 * Retention in the SQLite store: deleting finished runs in batches.
 *
 * @packageDocumentation
 */
import type Database from 'better-sqlite3';
import type { PruneCriteria } from '../prune.js';

/**
 * Prepares the prune of `db`: a function that deletes, in one immediate
 * transaction, up to `limit` runs matching the criteria and returns how many.
 * Deleting a run row deletes its nodes, node definitions, activations,
 * backlog, held results and history (`ON DELETE CASCADE`, with the store's
 * `foreign_keys = ON`); its outbox items (no foreign key) are deleted here.
 */
export function sqlitePrune(db: Database.Database): (criteria: PruneCriteria) => number {
  // Statuses and ids as JSON arrays: one prepared statement whatever their number.
  const select = db.prepare<[string, number, number], { id: string }>(
    `SELECT id FROM runs WHERE status IN (SELECT value FROM json_each(?)) AND updated_at < ? LIMIT ?`,
  );
  const deleteOutbox = db.prepare<[string]>(`DELETE FROM outbox WHERE run_id IN (SELECT value FROM json_each(?))`);
  const deleteRuns = db.prepare<[string]>(`DELETE FROM runs WHERE id IN (SELECT value FROM json_each(?))`);
  const prune = db.transaction(({ status, finishedBefore, limit }: PruneCriteria): number => {
    const ids = select.all(JSON.stringify(status), finishedBefore, limit).map((row) => row.id);
    if (ids.length === 0) return 0;
    const list = JSON.stringify(ids);
    deleteOutbox.run(list);
    deleteRuns.run(list);
    return ids.length;
  });
  return (criteria) => prune.immediate(criteria);
}
