/** @packageDocumentation Outbox items that are due. */

/** `$1 bigint`: now (epoch ms), `$2 int`: limit. Oldest due first, ties in insertion order. */
export const dueOutbox = (s: string): string => `
SELECT data
  FROM ${s}.outbox
 WHERE due_at <= $1
 ORDER BY due_at, ord
 LIMIT $2`;
