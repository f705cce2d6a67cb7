/** @packageDocumentation Commit, steps 4 to 8 in one round trip. */
import { insertBacklog } from './backlog.js';
import { insertHistory } from './insert-history.js';
import { upsertActivations } from './upsert-activations.js';
import { upsertNodes } from './upsert-nodes.js';
import { upsertOutbox } from './upsert-outbox.js';

/**
 * `$1`..`$5 jsonb`: the node, activation, history, outbox and backlog rows
 * (each may be `[]`). The five writes touch different tables, so they run as
 * data-modifying CTEs of one statement: one round trip instead of five on the
 * engine's hot path.
 */
export const writeRows = (s: string): string => `
WITH nodes AS (${upsertNodes(s)} RETURNING 1),
     activations AS (${upsertActivations(s).replace('$1::jsonb', '$2::jsonb')} RETURNING 1),
     history AS (${insertHistory(s).replace('$1::jsonb', '$3::jsonb')} RETURNING 1),
     outbox AS (${upsertOutbox(s).replace('$1::jsonb', '$4::jsonb')} RETURNING 1),
     backlog AS (${insertBacklog(s).replace('$1::jsonb', '$5::jsonb')} RETURNING 1)
SELECT 1 AS done`;
