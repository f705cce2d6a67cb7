/** @packageDocumentation Listing and counting runs. */

/**
 * The conditions of a run filter other than status and cursor: `$1 text|null`: flow, `$2 text|null`: id prefix,
 * `$3 bigint|null`: created at or after, `$4 bigint|null`: created before, `$5 text|null`: ILIKE pattern of the error.
 */
const MATCHES = `($1::text IS NULL OR flow = $1::text)
   AND ($2::text IS NULL OR starts_with(id, $2::text))
   AND ($3::bigint IS NULL OR created_at >= $3::bigint)
   AND ($4::bigint IS NULL OR created_at < $4::bigint)
   AND ($5::text IS NULL OR (error IS NOT NULL AND error ILIKE $5::text))`;

/**
 * {@link MATCHES}, then `$6 text[]|null`: statuses, `$7 bigint|null`, `$8 text|null`: the cursor's created at and
 * id (only runs after it), `$9 int`: limit. Newest first, ties by id descending.
 */
export const listRuns = (s: string): string => `
SELECT id, flow, status, graph_version, created_at, updated_at, error
  FROM ${s}.runs
 WHERE ${MATCHES}
   AND ($6::text[] IS NULL OR status = ANY($6::text[]))
   AND ($7::bigint IS NULL OR created_at < $7::bigint OR (created_at = $7::bigint AND id COLLATE "C" < $8::text COLLATE "C"))
 ORDER BY created_at DESC, id COLLATE "C" DESC
 LIMIT $9`;

/** {@link MATCHES}: the runs by status. */
export const countRuns = (s: string): string => `
SELECT status, count(*)::integer AS n
  FROM ${s}.runs
 WHERE ${MATCHES}
 GROUP BY status`;
