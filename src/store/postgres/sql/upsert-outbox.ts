/** @packageDocumentation Commit, step 7: add outbox items. */

/** `$1 jsonb`: an array of outbox rows (no two with the same id). A replaced item keeps its place (`ord`). */
export const upsertOutbox = (s: string): string => `
INSERT INTO ${s}.outbox (id, run_id, due_at, data)
SELECT r.id, r.run_id, r.due_at, r.data
  FROM jsonb_to_recordset($1::jsonb) AS r(id text, run_id text, due_at bigint, data jsonb)
    ON CONFLICT (id)
    DO UPDATE SET run_id = excluded.run_id, due_at = excluded.due_at, data = excluded.data`;
