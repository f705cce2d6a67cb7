/** @packageDocumentation Claiming due outbox items for one poller. */

/**
 * `$1 bigint`: now (epoch ms), `$2 int`: limit, `$3 bigint`: claimed until.
 * Rows another poller is claiming are skipped, not waited for.
 */
export const claimOutbox = (s: string): string => `
UPDATE ${s}.outbox AS o
   SET due_at = $3
  FROM (SELECT id, due_at, ord
          FROM ${s}.outbox
         WHERE due_at <= $1
         ORDER BY due_at, ord
         LIMIT $2
           FOR UPDATE SKIP LOCKED) AS due
 WHERE o.id = due.id
RETURNING o.data, due.due_at AS was_due, due.ord`;
