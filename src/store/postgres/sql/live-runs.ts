/** @packageDocumentation Runs to resume. */
import { finalStatusList } from './final-statuses.js';

/** No parameters. Ids of runs that are not finished, oldest first. */
export const liveRuns = (s: string): string => `
SELECT id
  FROM ${s}.runs
 WHERE status NOT IN (${finalStatusList()})
 ORDER BY created_at, id`;
