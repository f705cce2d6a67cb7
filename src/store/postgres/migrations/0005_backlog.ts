/**
 * Migration 0005: persistent listeners' backlogs as rows. They were held in
 * the node's row and rewritten whole on every notification; the migration
 * moves the entries found there into the new table.
 *
 * @packageDocumentation
 */

/** Version 5: the `backlog` table, filled from the node rows. */
export const MIGRATION_0005_BACKLOG = {
  version: 5,
  name: 'backlog',
  sql: `
CREATE TABLE {{schema}}.backlog (
  run_id  text    NOT NULL,
  node_id text    NOT NULL,
  seq     integer NOT NULL,
  data    jsonb   NOT NULL,
  PRIMARY KEY (run_id, node_id, seq)
);
INSERT INTO {{schema}}.backlog (run_id, node_id, seq, data)
SELECT n.run_id, n.node_id, (e.value->>'seq')::integer, e.value || jsonb_build_object('node', n.node_id)
  FROM {{schema}}.nodes n, jsonb_array_elements(n.data->'backlog') e
 WHERE jsonb_typeof(n.data) = 'object' AND jsonb_typeof(n.data->'backlog') = 'array';
UPDATE {{schema}}.nodes SET data = data - 'backlog' WHERE jsonb_typeof(data) = 'object' AND data ? 'backlog';
`,
};
