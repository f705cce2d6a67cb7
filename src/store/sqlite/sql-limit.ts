/**
 * Limits as SQLite takes them.
 *
 * @packageDocumentation
 */

/** A JS `slice`-like limit as a SQLite LIMIT (an integer; -1 is none). */
export function sqlLimit(limit: number): number {
  if (Number.isNaN(limit)) return 0;
  if (!Number.isFinite(limit)) return limit > 0 ? -1 : 0;
  return Math.max(0, Math.trunc(limit));
}
