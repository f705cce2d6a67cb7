/** @packageDocumentation Removing carried-out outbox items. */

/** `$1 text[]`: outbox ids. */
export const deleteOutbox = (s: string): string => `
DELETE FROM ${s}.outbox
 WHERE id = ANY($1::text[])`;
