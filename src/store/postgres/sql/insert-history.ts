/** @packageDocumentation Commit, step 6: append history entries. */

/** `$1 jsonb`: an array of history rows. An entry whose `(run_id, seq)` is already stored is kept as it was. */
export const insertHistory = (s: string): string => `
INSERT INTO ${s}.history (run_id, seq, data)
SELECT r.run_id, r.seq, r.data
  FROM jsonb_to_recordset($1::jsonb) AS r(run_id text, seq integer, data jsonb)
    ON CONFLICT (run_id, seq) DO NOTHING`;
