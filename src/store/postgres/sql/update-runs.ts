/** @packageDocumentation Commit, step 2b: update existing runs, guarded by their revision. */

/**
 * `$1 jsonb`: an array of run rows with `expected_rev`. Updates each run whose
 * `rev` is still `expected_rev`; returns the ids updated. A missing id is a
 * conflict.
 */
export const updateRuns = (s: string): string => `
UPDATE ${s}.runs AS t
   SET flow = r.flow, status = r.status, rev = r.rev, graph_version = r.graph_version,
       created_at = r.created_at, updated_at = r.updated_at, header = r.header
  FROM jsonb_to_recordset($1::jsonb) AS r(id text, expected_rev integer, flow text, status text, rev integer,
                                          graph_version integer, created_at bigint, updated_at bigint, header jsonb)
 WHERE t.id = r.id AND t.rev = r.expected_rev
RETURNING t.id`;
