/** @packageDocumentation Commit, step 1: lock the batch's existing runs and read their revisions. */

/**
 * `$1 text[]`: run ids. Locks the existing rows in id order (the same order in
 * every transaction, so two coordinators committing overlapping batches never
 * deadlock) and returns their current `rev`. Runs not returned do not exist yet.
 */
export const lockRuns = (s: string): string => `
SELECT id, rev
  FROM ${s}.runs
 WHERE id = ANY($1::text[])
 ORDER BY id COLLATE "C"
   FOR UPDATE`;
