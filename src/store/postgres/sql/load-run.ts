/** @packageDocumentation Loading a run in one round trip. */

/**
 * `$1 text`: run id. One row (none if the run does not exist): the header and
 * the columns of the fields every step changes (newer than the header's when
 * the last steps left the header as it was), the
 * nodes in insertion order, the live activations (`running`, `retrying`,
 * `failed`, and in a run with failure policy rollback the `succeeded` ones
 * the saga owes a compensation) in insertion order (a header or a row kept as
 * a JSON string cannot be looked into here: its `succeeded` rows are read too,
 * and the caller keeps the owed ones), the backlog rows in notification order
 * and the held rows, as JSON arrays.
 */
export const loadRun = (s: string): string => `
SELECT r.header, r.status, r.rev, r.graph_version, r.updated_at, r.seq,
       coalesce((SELECT json_agg(n.data ORDER BY n.ord) FROM ${s}.nodes n WHERE n.run_id = r.id), '[]') AS nodes,
       coalesce((SELECT json_agg(x.data ORDER BY x.ord) FROM (
                   SELECT a.data, a.ord FROM ${s}.activations a
                    WHERE a.run_id = r.id AND a.status IN ('running', 'retrying', 'failed')
                   UNION ALL
                   SELECT a.data, a.ord FROM ${s}.activations a
                    WHERE (r.header->>'onFailure' = 'rollback' OR jsonb_typeof(r.header) = 'string') AND a.run_id = r.id AND a.status = 'succeeded'
                      AND (a.data @> '{"compensate": true}' OR jsonb_typeof(a.data) = 'string')) x), '[]') AS activations,
       coalesce((SELECT json_agg(b.data ORDER BY b.seq, b.node_id) FROM ${s}.backlog b WHERE b.run_id = r.id), '[]') AS backlog,
       coalesce((SELECT json_agg(h.data ORDER BY h.node_id, h.seq) FROM ${s}.held h WHERE h.run_id = r.id), '[]') AS held
  FROM ${s}.runs r
 WHERE r.id = $1`;
