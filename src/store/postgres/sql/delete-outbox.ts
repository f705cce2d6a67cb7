/** @packageDocumentation Removing carried-out outbox items. */

/**
 * `$1 text[]`: outbox ids. One statement, committed without waiting for the
 * WAL flush: `synchronous_commit` is set off for its own (implicit)
 * transaction only, before the delete (`set_config(..., true)` lasts until
 * that transaction ends; the session keeps `on`).
 */
export const deleteOutbox = (s: string): string => `
DELETE FROM ${s}.outbox
 WHERE id = ANY($1::text[]) AND (SELECT set_config('synchronous_commit', 'off', true)) = 'off'`;
