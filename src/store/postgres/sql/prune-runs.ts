/** @packageDocumentation Deleting finished runs (retention). */

/**
 * `$1 text[]`: final statuses, `$2 bigint`: finished before (epoch ms), `$3 int`: limit.
 * One statement (one transaction): up to `$3` matching runs, skipping any row another
 * transaction has locked (never waiting on a coordinator's commit), deleted with every
 * row they own (the tables have no foreign keys). Returns `count`, the runs deleted.
 */
export const pruneRuns = (s: string): string => `
WITH gone AS (
  DELETE FROM ${s}.runs
   WHERE id IN (SELECT id FROM ${s}.runs
                 WHERE status = ANY($1::text[]) AND updated_at < $2::bigint
                 LIMIT $3 FOR UPDATE SKIP LOCKED)
  RETURNING id
), nodes AS (
  DELETE FROM ${s}.nodes WHERE run_id IN (SELECT id FROM gone)
), activations AS (
  DELETE FROM ${s}.activations WHERE run_id IN (SELECT id FROM gone)
), history AS (
  DELETE FROM ${s}.history WHERE run_id IN (SELECT id FROM gone)
), backlog AS (
  DELETE FROM ${s}.backlog WHERE run_id IN (SELECT id FROM gone)
), held AS (
  DELETE FROM ${s}.held WHERE run_id IN (SELECT id FROM gone)
), outbox AS (
  DELETE FROM ${s}.outbox WHERE run_id IN (SELECT id FROM gone)
)
SELECT count(*)::int AS count FROM gone`;
