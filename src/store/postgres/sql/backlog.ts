/** @packageDocumentation Persistent listeners' backlogs: one row per waiting notification. */

/** `$1 jsonb`: an array of backlog rows. An entry already stored is kept as it was. */
export const insertBacklog = (s: string): string => `
INSERT INTO ${s}.backlog (run_id, node_id, seq, data)
SELECT r.run_id, r.node_id, r.seq, r.data
  FROM jsonb_to_recordset($1::jsonb) AS r(run_id text, node_id text, seq integer, data jsonb)
    ON CONFLICT (run_id, node_id, seq) DO NOTHING`;

/** `$1 jsonb`: an array of `{run_id, node_id}`. Deletes those nodes' backlogs (drained, or the node removed). */
export const deleteBacklog = (s: string): string => `
DELETE FROM ${s}.backlog AS b
 USING jsonb_to_recordset($1::jsonb) AS d(run_id text, node_id text)
 WHERE b.run_id = d.run_id AND b.node_id = d.node_id`;
