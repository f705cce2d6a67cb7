/**
 * What every store shares for run listings: the first failure message a commit
 * gives a run (`RunSummary.error`), the empty counts by status, and the filter
 * as a predicate (the memory store; the SQL stores write it as SQL).
 *
 * @packageDocumentation
 */
import type { HistoryEntry } from '../engine/events.js';
import { RUN_STATUSES, type RunStatus } from '../engine/state.js';
import type { RunFilter, RunSummary } from './port.js';

/** How long a stored failure message may be (a longer one is cut): it is for listing and search, the node keeps the whole error. */
export const RUN_ERROR_MAX_LENGTH = 1000;

/**
 * The message of the first `node.failed` entry (a node or activation failed for
 * good) of a commit's history, cut to {@link RUN_ERROR_MAX_LENGTH}; undefined
 * when it has none. A store keeps it as the run's `error` unless the run has one.
 */
export function firstFailure(history: readonly HistoryEntry[]): string | undefined {
  for (let i = 0; i < history.length; i++) {
    const entry = history[i] as HistoryEntry;
    if (entry.type !== 'node.failed') continue;
    const message = entry.detail?.['message'];
    const text = typeof message === 'string' && message !== '' ? message : `node "${entry.node ?? '?'}" failed`;
    return text.length > RUN_ERROR_MAX_LENGTH ? text.slice(0, RUN_ERROR_MAX_LENGTH) : text;
  }
  return undefined;
}

/** A count of 0 for every run status. */
export function emptyCounts(): Record<RunStatus, number> {
  return Object.fromEntries(RUN_STATUSES.map((status) => [status, 0])) as Record<RunStatus, number>;
}

/** Whether a run matches a filter's conditions other than `status`, `cursor` and `limit` (what {@link Store.countRuns} counts by). */
export function matchesRunFilter(run: RunSummary, filter: RunFilter): boolean {
  return (
    (filter.flow === undefined || run.flow === filter.flow) &&
    (filter.idPrefix === undefined || run.id.startsWith(filter.idPrefix)) &&
    (filter.createdAfter === undefined || run.createdAt >= filter.createdAfter) &&
    (filter.createdBefore === undefined || run.createdAt < filter.createdBefore) &&
    (filter.errorText === undefined || (run.error !== undefined && asciiLower(run.error).includes(asciiLower(filter.errorText))))
  );
}

/** Whether a run comes after the cursor in the newest-first order. */
export function afterCursor(run: RunSummary, cursor: RunFilter['cursor']): boolean {
  return cursor === undefined || run.createdAt < cursor.createdAt || (run.createdAt === cursor.createdAt && run.id < cursor.id);
}

/** Lower-cases ASCII letters only (as SQLite's LIKE compares). */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** `text` as a SQL LIKE pattern matching it anywhere, its `%`, `_` and `\` escaped (with `ESCAPE '\'`). */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
