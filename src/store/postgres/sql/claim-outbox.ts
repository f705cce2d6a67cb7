/** @packageDocumentation Claiming due outbox items for one poller, of every shard or of some. */

/** The claim, its due rows chosen by `where` (`$1`: now). */
const claim = (s: string, where: string): string => `
UPDATE ${s}.outbox AS o
   SET due_at = $3
  FROM (SELECT id, due_at, ord
          FROM ${s}.outbox
         WHERE ${where}
         ORDER BY due_at, ord
         LIMIT $2
           FOR UPDATE SKIP LOCKED) AS due
 WHERE o.id = due.id
RETURNING o.data, due.due_at AS was_due, due.ord`;

/**
 * `$1 bigint`: now (epoch ms), `$2 int`: limit, `$3 bigint`: claimed until.
 * Rows another poller is claiming are skipped, not waited for.
 */
export const claimOutbox = (s: string): string => claim(s, 'due_at <= $1');

/** {@link claimOutbox} of the shards `$4 smallint[]` only (a statement of its own: each has a plan fit for its index). */
export const claimShardOutbox = (s: string): string => claim(s, 'shard = ANY($4::smallint[]) AND due_at <= $1');
