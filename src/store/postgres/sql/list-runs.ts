/** @packageDocumentation Listing runs. */

/** `$1 text[]|null`: statuses, `$2 text|null`: flow, `$3 int`: limit, `$4 text|null`: id prefix. Newest first, ties by id descending. */
export const listRuns = (s: string): string => `
SELECT id, flow, status, graph_version, created_at, updated_at
  FROM ${s}.runs
 WHERE ($1::text[] IS NULL OR status = ANY($1::text[]))
   AND ($2::text IS NULL OR flow = $2::text)
   AND ($4::text IS NULL OR starts_with(id, $4::text))
 ORDER BY created_at DESC, id COLLATE "C" DESC
 LIMIT $3`;
