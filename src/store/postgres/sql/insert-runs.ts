/** @packageDocumentation Commit, step 2a: insert new runs. */

/**
 * `$1 jsonb`: an array of run rows. Inserts the runs that do not exist; returns
 * the ids inserted. A missing id means another transaction created that run
 * first (a conflict).
 */
export const insertRuns = (s: string): string => `
INSERT INTO ${s}.runs (id, flow, status, rev, graph_version, created_at, updated_at, header)
SELECT r.id, r.flow, r.status, r.rev, r.graph_version, r.created_at, r.updated_at, r.header
  FROM jsonb_to_recordset($1::jsonb) AS r(id text, flow text, status text, rev integer, graph_version integer,
                                          created_at bigint, updated_at bigint, header jsonb)
    ON CONFLICT (id) DO NOTHING
RETURNING id`;
