/** @packageDocumentation Loading a run in one round trip. */

/**
 * `$1 text`: run id. One row (none if the run does not exist): the header, the
 * nodes in insertion order and the live activations (`running`, `retrying`,
 * `failed`) in insertion order, as JSON arrays.
 */
export const loadRun = (s: string): string => `
SELECT r.header,
       coalesce((SELECT json_agg(n.data ORDER BY n.ord) FROM ${s}.nodes n WHERE n.run_id = r.id), '[]') AS nodes,
       coalesce((SELECT json_agg(a.data ORDER BY a.ord) FROM ${s}.activations a
                  WHERE a.run_id = r.id AND a.status IN ('running', 'retrying', 'failed')), '[]') AS activations
  FROM ${s}.runs r
 WHERE r.id = $1`;
