/** @packageDocumentation Workers' heartbeat rows. */

/** `$1 text`: id, `$2 bigint`: beat time, `$3 jsonb`: the beat. */
export const beatWorker = (s: string): string => `
INSERT INTO ${s}.workers (id, beat_at, data) VALUES ($1, $2, $3)
ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at, data = excluded.data`;

/** `$1 bigint`: the oldest beat time kept. */
export const listWorkers = (s: string): string => `
SELECT data FROM ${s}.workers WHERE beat_at >= $1 ORDER BY id COLLATE "C"`;

/** `$1 text`: id. */
export const removeWorker = (s: string): string => `
DELETE FROM ${s}.workers WHERE id = $1`;

/** `$1 bigint`: rows that last beat before it are deleted. */
export const pruneWorkers = (s: string): string => `
DELETE FROM ${s}.workers WHERE beat_at < $1`;
