/**
 * Which history entries the AMQP transport announces on its topic exchange
 * (`AmqpOptions.announce`): by default the outcomes (what a node or rollback
 * ended with, retries, run statuses and changes), every entry only when asked.
 *
 * @packageDocumentation
 */
import type { HistoryEntry, HistoryType } from '../../engine/events.js';
import { ConfigError } from '../../errors.js';

/** What is announced: `outcomes` (the default) or `all` history entries. */
export type AnnounceMode = 'outcomes' | 'all';

/**
 * The entries left out by `outcomes`: those of every step that say something
 * was sent off (a dispatch: `node.queued`; a rollback), or that an event arrived
 * (its node's outcome follows). `node.started`, a worker's report on an
 * execution that has run a while (`WorkerOptions.reportStartAfterMs`), is
 * announced: progress views show running nodes from it.
 */
const NOT_OUTCOMES: ReadonlySet<HistoryType> = new Set<HistoryType>(['node.queued', 'rollback.started', 'event.notified']);

/** The environment variable giving the mode when the option is left out. */
export const ANNOUNCE_ENV = 'TASKWIRE_ANNOUNCE';

/** The mode: `option`, else `TASKWIRE_ANNOUNCE`, else `outcomes`; throws ConfigError for another value. */
export function resolveAnnounce(option?: AnnounceMode): AnnounceMode {
  const value = option ?? (process.env[ANNOUNCE_ENV] || 'outcomes');
  if (value !== 'outcomes' && value !== 'all') throw new ConfigError(`invalid AMQP option announce "${String(value)}" (or ${ANNOUNCE_ENV}): expected "outcomes" or "all"`);
  return value;
}

/** The entries to announce under `mode`. */
export function announced(entries: HistoryEntry[], mode: AnnounceMode): HistoryEntry[] {
  return mode === 'all' ? entries : entries.filter((entry) => !NOT_OUTCOMES.has(entry.type));
}
