/** @packageDocumentation Runs to resume. */
import { notFinalSql } from '../../port.js';

/** No parameters. Ids of runs that are not finished, oldest first. */
export const liveRuns = (s: string): string => `
SELECT id
  FROM ${s}.runs
 WHERE ${notFinalSql('status')}
 ORDER BY created_at, id`;
