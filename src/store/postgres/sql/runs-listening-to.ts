/** @packageDocumentation Runs an event notifies. */
import { notFinalSql } from '../../port.js';

/** `$1 text`: event name. Ids of live runs with a listening event node of that name, oldest first. */
export const runsListeningTo = (s: string): string => `
SELECT r.id
  FROM ${s}.runs r
 WHERE ${notFinalSql('r.status')}
   AND EXISTS (SELECT 1 FROM ${s}.nodes n
                WHERE n.run_id = r.id AND n.kind = 'event' AND n.status = 'listening' AND n.name = $1)
 ORDER BY r.created_at, r.id`;
