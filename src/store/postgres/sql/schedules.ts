/** @packageDocumentation Cron schedules (`ScheduleRow` in `data`, compare-and-set on `version`). */

/** `$1 text`: name, `$2 integer`: version, `$3 jsonb`: the row. Returns a row when added. */
export const putSchedule = (s: string): string => `
INSERT INTO ${s}.schedules (name, version, data) VALUES ($1, $2, $3)
ON CONFLICT (name) DO NOTHING
RETURNING 1`;

/** Every schedule, by name. */
export const listSchedules = (s: string): string => `
SELECT data FROM ${s}.schedules ORDER BY name COLLATE "C"`;

/**
 * `$1 text`: name, `$2 integer`: expected version, `$3 integer`: new version,
 * `$4 jsonb`: the row, `$5 text|null`: the fence's election (null: no fence),
 * `$6 bigint`: its epoch. The fence is share-locked until the statement ends,
 * as in `commit`. Returns one row: `ok` (false: fenced, nothing written),
 * `epoch` (the election's current epoch), `written`.
 */
export const updateSchedule = (s: string): string => `
WITH fence AS MATERIALIZED (
       SELECT epoch FROM ${s}.leader_epochs WHERE $5::text IS NOT NULL AND name = $5::text FOR SHARE),
     gate AS MATERIALIZED (
       SELECT ($5::text IS NULL OR EXISTS (SELECT 1 FROM fence WHERE epoch = $6::bigint)) AS ok),
     updated AS (
       UPDATE ${s}.schedules SET version = $3, data = $4
        WHERE name = $1 AND version = $2 AND (SELECT ok FROM gate)
       RETURNING 1)
SELECT (SELECT ok FROM gate) AS ok, (SELECT epoch FROM fence) AS epoch, EXISTS (SELECT 1 FROM updated) AS written`;

/** `$1 text`: name. Returns a row when deleted. */
export const deleteSchedule = (s: string): string => `
DELETE FROM ${s}.schedules WHERE name = $1
RETURNING 1`;
