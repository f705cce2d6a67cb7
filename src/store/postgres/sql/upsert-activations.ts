/** @packageDocumentation Commit, step 5: insert or replace activations. */

/** `$1 jsonb`: an array of activation rows (no two with the same key). A replaced activation keeps its place (`ord`). */
export const upsertActivations = (s: string): string => `
INSERT INTO ${s}.activations (run_id, node_id, seq, status, data)
SELECT r.run_id, r.node_id, r.seq, r.status, r.data
  FROM jsonb_to_recordset($1::jsonb) AS r(run_id text, node_id text, seq integer, status text, data jsonb)
    ON CONFLICT (run_id, node_id, seq)
    DO UPDATE SET status = excluded.status, data = excluded.data`;
