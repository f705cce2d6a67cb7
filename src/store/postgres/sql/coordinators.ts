/** @packageDocumentation The membership of coordinator processes (`coordinators`), by the database's clock. */

/**
 * `$1 text`: the member, `$2 float8`: its time to live (ms), `$3 text`: its
 * host, `$4 int`: its process id. Renews (or adds) the member's row, deletes
 * expired rows that no other statement is touching, and returns the members
 * alive (`member`), this one included, in no particular order. One round trip.
 */
export const heartbeat = (s: string): string => `
WITH renewed AS (
       INSERT INTO ${s}.coordinators AS c (member, expires_at, host, pid)
       VALUES ($1, now() + $2::float8 * interval '1 millisecond', $3, $4)
           ON CONFLICT (member) DO UPDATE SET expires_at = excluded.expires_at, host = excluded.host, pid = excluded.pid
       RETURNING c.member),
     expired AS (
       DELETE FROM ${s}.coordinators
        WHERE member IN (SELECT member FROM ${s}.coordinators WHERE expires_at <= now() AND member <> $1 FOR UPDATE SKIP LOCKED)
       RETURNING 1)
SELECT member FROM ${s}.coordinators WHERE expires_at > now() AND member <> $1
 UNION ALL
SELECT member FROM renewed`;

/** `$1 text`: the member. Removes its row. */
export const leave = (s: string): string => `
DELETE FROM ${s}.coordinators WHERE member = $1`;
