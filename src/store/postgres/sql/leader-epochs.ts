/** @packageDocumentation The leader epochs of the coordinator elections (fencing tokens). */

/**
 * `$1 text`: the election. Called by the winner, holding the election's lock:
 * increments its epoch (1 for a first election) and returns it.
 */
export const bumpEpoch = (s: string): string => `
INSERT INTO ${s}.leader_epochs (name, epoch) VALUES ($1, 1)
    ON CONFLICT (name) DO UPDATE SET epoch = ${s}.leader_epochs.epoch + 1
RETURNING epoch`;

/** `$1 text[]`: elections. Their current epochs (`name`, `epoch`; no row: never elected). */
export const readEpochs = (s: string): string => `
SELECT name, epoch FROM ${s}.leader_epochs WHERE name = ANY($1::text[])`;
