/** @packageDocumentation Reading a run's history. */

/** `$1 text`: run id, `$2 int`: after this seq, `$3 int`: limit. In order. */
export const history = (s: string): string => `
SELECT data
  FROM ${s}.history
 WHERE run_id = $1 AND seq > $2
 ORDER BY seq
 LIMIT $3`;
