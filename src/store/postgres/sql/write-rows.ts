/** @packageDocumentation Commit, steps 4 to 7 in one round trip. */
import { insertHistory } from './insert-history.js';
import { upsertActivations } from './upsert-activations.js';
import { upsertNodes } from './upsert-nodes.js';
import { upsertOutbox } from './upsert-outbox.js';

/**
 * `$1`..`$4 jsonb`: the node, activation, history and outbox rows (each may be
 * `[]`). The four writes touch different tables, so they run as data-modifying
 * CTEs of one statement: one round trip instead of four on the engine's hot path.
 */
export const writeRows = (s: string): string => `
WITH nodes AS (${upsertNodes(s)} RETURNING 1),
     activations AS (${upsertActivations(s).replace('$1::jsonb', '$2::jsonb')} RETURNING 1),
     history AS (${insertHistory(s).replace('$1::jsonb', '$3::jsonb')} RETURNING 1),
     outbox AS (${upsertOutbox(s).replace('$1::jsonb', '$4::jsonb')} RETURNING 1)
SELECT 1 AS done`;
