/** @packageDocumentation Publishing tasks in the catalog. */

/** `$1 text[]`: names, `$2 jsonb[]`: task infos, `$3 bigint`: now. */
export const upsertTasks = (s: string): string => `
INSERT INTO ${s}.tasks (name, data, updated_at)
SELECT name, data, $3 FROM unnest($1::text[], $2::jsonb[]) AS t (name, data)
ON CONFLICT (name) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`;
