/** @packageDocumentation Commit, step 3: delete removed nodes. */

/** `$1 jsonb`: an array of `{run_id, node_id}`. Deletes those nodes (their activations stay). */
export const deleteNodes = (s: string): string => `
DELETE FROM ${s}.nodes AS n
 USING jsonb_to_recordset($1::jsonb) AS d(run_id text, node_id text)
 WHERE n.run_id = d.run_id AND n.node_id = d.node_id`;
