/** @packageDocumentation The event nodes notifications reach. */
import { notFinalSql } from '../../port.js';

/**
 * `$1 text[]`: event names. The listening event nodes of those names in live
 * runs, with the fields they declare (`provides`, jsonb), oldest run first.
 */
export const listeners = (s: string): string => `
SELECT n.run_id, n.name, n.node_id, n.data->'def'->'provides' AS provides
  FROM ${s}.nodes n
  JOIN ${s}.runs r ON r.id = n.run_id
 WHERE n.kind = 'event' AND n.status = 'listening' AND n.name = ANY($1::text[])
   AND ${notFinalSql('r.status')}
 ORDER BY r.created_at, r.id, n.ord`;
