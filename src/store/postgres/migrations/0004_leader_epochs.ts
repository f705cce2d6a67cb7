/**
 * Migration 0004: the leader epochs of the coordinator elections (fencing tokens).
 *
 * @packageDocumentation
 */

/**
 * Version 4: `leader_epochs`, one row per election (lock name) holding the
 * epoch of its latest winner. Every election win increments it; a commit made
 * for a coordinator carries the epoch it was elected with and is refused once
 * the row holds a newer one.
 */
export const MIGRATION_0004_LEADER_EPOCHS = {
  version: 4,
  name: 'leader_epochs',
  sql: `
CREATE TABLE {{schema}}.leader_epochs (
  name  text   PRIMARY KEY,
  epoch bigint NOT NULL
);
`,
};
