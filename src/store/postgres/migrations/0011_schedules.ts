/**
 * Migration 0011: cron schedules (`tw.schedule`, `taskwire schedules`).
 *
 * @packageDocumentation
 */

/** Version 11: the `schedules` table, one row per schedule, changed by compare-and-set on `version`. */
export const MIGRATION_0011_SCHEDULES = {
  version: 11,
  name: 'schedules',
  sql: `
CREATE TABLE {{schema}}.schedules (
  name    text    PRIMARY KEY,
  version integer NOT NULL,
  data    jsonb   NOT NULL
);
`,
};
