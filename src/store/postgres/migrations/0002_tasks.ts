/**
 * Migration 0002: the task catalog (what workers can execute, without the code).
 *
 * @packageDocumentation
 */

/** Version 2: the `tasks` table. */
export const MIGRATION_0002_TASKS = {
  version: 2,
  name: 'tasks',
  sql: `
CREATE TABLE {{schema}}.tasks (
  name       text   PRIMARY KEY,
  data       jsonb  NOT NULL,
  updated_at bigint NOT NULL
);
`,
};
