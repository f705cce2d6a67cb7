/** @packageDocumentation Commit, step 4: insert or replace nodes. */

/** `$1 jsonb`: an array of node rows (no two with the same key). A replaced node keeps its place (`ord`). */
export const upsertNodes = (s: string): string => `
INSERT INTO ${s}.nodes (run_id, node_id, kind, name, status, data)
SELECT r.run_id, r.node_id, r.kind, r.name, r.status, r.data
  FROM jsonb_to_recordset($1::jsonb) AS r(run_id text, node_id text, kind text, name text, status text, data jsonb)
    ON CONFLICT (run_id, node_id)
    DO UPDATE SET kind = excluded.kind, name = excluded.name, status = excluded.status, data = excluded.data`;
