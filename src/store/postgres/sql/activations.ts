/** @packageDocumentation Reading a run's activations. */

/** `$1 text`: run id, `$2 text|null`: node, `$3 int`: after this seq, `$4 int`: limit. By seq, then insertion order. */
export const activations = (s: string): string => `
SELECT data
  FROM ${s}.activations
 WHERE run_id = $1 AND ($2::text IS NULL OR node_id = $2::text) AND seq > $3
 ORDER BY seq, ord
 LIMIT $4`;
