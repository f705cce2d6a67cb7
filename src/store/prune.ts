/**
 * Retention: which finished runs {@link Store.pruneRuns} deletes, checked the
 * same way by every store.
 *
 * @packageDocumentation
 */
import type { RunStatus } from '../engine/state.js';
import { ConfigError } from '../errors.js';
import { FINAL_STATUSES, type PruneFilter } from './port.js';

/** How many runs one {@link Store.pruneRuns} call deletes at most, by default (one transaction). */
export const DEFAULT_PRUNE_LIMIT = 500;

/** A {@link PruneFilter} checked, with its defaults filled in. */
export interface PruneCriteria {
  /** Runs whose last change (`updatedAt`, epoch ms) is before this. */
  finishedBefore: number;
  /** Final statuses only, at least one. */
  status: RunStatus[];
  /** A positive integer. */
  limit: number;
}

/**
 * Checks a prune filter and fills in its defaults (every final status, a
 * batch of {@link DEFAULT_PRUNE_LIMIT}).
 *
 * @throws ConfigError naming a status that is not final (a live run is never
 *   pruned), an empty status list, a `finishedBefore` that is not a finite
 *   number, or a `limit` that is not a positive integer.
 */
export function pruneCriteria(filter: PruneFilter): PruneCriteria {
  const { finishedBefore, status = [...FINAL_STATUSES], limit = DEFAULT_PRUNE_LIMIT } = filter;
  if (typeof finishedBefore !== 'number' || !Number.isFinite(finishedBefore)) {
    throw new ConfigError(`pruneRuns: \`finishedBefore\` must be a finite epoch ms, got ${String(finishedBefore)}`);
  }
  if (!Number.isInteger(limit) || limit < 1) throw new ConfigError(`pruneRuns: \`limit\` must be a positive integer, got ${String(limit)}`);
  if (status.length === 0) throw new ConfigError('pruneRuns: `status` lists no status (leave it out for every final status)');
  for (const s of status) {
    if (!FINAL_STATUSES.includes(s)) {
      throw new ConfigError(`pruneRuns: status "${String(s)}" is not final (only ${FINAL_STATUSES.join(', ')} runs can be pruned)`);
    }
  }
  return { finishedBefore, status: [...new Set(status)], limit };
}
