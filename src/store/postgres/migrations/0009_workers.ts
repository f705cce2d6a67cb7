/**
 * Migration 0009: workers' heartbeat rows (`taskwire workers`, the task
 * catalog's live workers).
 *
 * @packageDocumentation
 */

/** Version 9: the `workers` table. */
export const MIGRATION_0009_WORKERS = {
  version: 9,
  name: 'workers',
  sql: `
CREATE TABLE {{schema}}.workers (
  id      text   PRIMARY KEY,
  beat_at bigint NOT NULL,
  data    jsonb  NOT NULL
);
`,
};
