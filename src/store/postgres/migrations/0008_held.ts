/**
 * Migration 0008: persistent listeners' held results as rows. They were held
 * in the node's row and rewritten whole with it while an early activation
 * was slow; the migration moves the entries found there into the new table.
 *
 * @packageDocumentation
 */

/** Version 8: the `held` table, filled from the node rows. */
export const MIGRATION_0008_HELD = {
  version: 8,
  name: 'held',
  sql: `
CREATE TABLE {{schema}}.held (
  run_id  text    NOT NULL,
  node_id text    NOT NULL,
  seq     integer NOT NULL,
  data    jsonb   NOT NULL,
  PRIMARY KEY (run_id, node_id, seq)
);
INSERT INTO {{schema}}.held (run_id, node_id, seq, data)
SELECT n.run_id, n.node_id, (e.value->>'seq')::integer, e.value || jsonb_build_object('node', n.node_id)
  FROM {{schema}}.nodes n, jsonb_array_elements(n.data->'held') e
 WHERE jsonb_typeof(n.data) = 'object' AND jsonb_typeof(n.data->'held') = 'array';
UPDATE {{schema}}.nodes SET data = data - 'held' WHERE jsonb_typeof(data) = 'object' AND data ? 'held';
`,
};
