/**
 * Migration 0010: the dashboard's run listing. Each run's first failure
 * message in a column (`RunSummary.error`, searched with ILIKE over the failed
 * runs only), filled in for the runs already there from their history's first
 * `node.failed` entry; an index for listing the runs of one flow, newest first.
 *
 * @packageDocumentation
 */

/** Version 10: `runs.error`, `runs_failed_idx`, `runs_flow_idx`. */
export const MIGRATION_0010_RUN_ERROR = {
  version: 10,
  name: 'run_error',
  sql: `
ALTER TABLE {{schema}}.runs ADD COLUMN error text;
UPDATE {{schema}}.runs r SET error = f.message
  FROM (SELECT DISTINCT ON (run_id) run_id, left(coalesce(data -> 'detail' ->> 'message', 'node "' || (data ->> 'node') || '" failed'), 1000) AS message
          FROM {{schema}}.history
         WHERE data ->> 'type' = 'node.failed'
         ORDER BY run_id, seq) f
 WHERE r.id = f.run_id;
CREATE INDEX runs_failed_idx ON {{schema}}.runs (created_at DESC, id COLLATE "C" DESC) WHERE error IS NOT NULL;
CREATE INDEX runs_flow_idx ON {{schema}}.runs (flow, created_at DESC, id COLLATE "C" DESC);
`,
};
