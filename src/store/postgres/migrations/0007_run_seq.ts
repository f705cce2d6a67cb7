/**
 * Migration 0007: the run's sequence counter in a column of its own, beside
 * `rev`, `status`, `graph_version` and `updated_at`. Those five are the header
 * fields that every step changes: a step that changes no other header field
 * writes only them and leaves the `header` column as it is (its copies of the
 * five are then older; a load reads the columns over them). Null in rows
 * written before, whose header is whole.
 *
 * @packageDocumentation
 */

/** Version 7: `runs.seq`. */
export const MIGRATION_0007_RUN_SEQ = {
  version: 7,
  name: 'run_seq',
  sql: `
ALTER TABLE {{schema}}.runs ADD COLUMN seq integer;
`,
};
