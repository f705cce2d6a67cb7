/**
 * The run's history as a timeline: what happened, to which node and attempt,
 * who changed what, and the graph version after each entry. Picking a version
 * shows the graph as it was then (time travel).
 *
 * @packageDocumentation
 */
import type { HistoryEntry } from '../api-types.js';
import { time } from '../format.js';

/** The history loaded so far (pages of the server's history, then live entries). */
export interface HistoryState {
  /** Entries, in order. */
  entries: HistoryEntry[];
  /** Sequence number to load more after, when there are more. */
  next?: number;
  /** A page is being loaded. */
  loading: boolean;
}

/** At most this many entries are drawn (the latest loaded): a long run's history stays cheap to render. */
const SHOWN = 1_000;

function summary(entry: HistoryEntry): string {
  if (entry.type === 'change') return JSON.stringify(entry.detail ?? {});
  if (entry.type === 'run.status') return entry.status ?? '';
  const message = entry.detail?.['message'];
  return typeof message === 'string' ? message : '';
}

/** The history panel. */
export function HistoryPanel({
  history,
  graphVersion,
  shownVersion,
  onMore,
  onVersion,
}: {
  history: HistoryState;
  graphVersion: number;
  shownVersion: number | undefined;
  onMore: () => void;
  onVersion: (version: number) => void;
}) {
  const versions = Array.from({ length: Math.min(graphVersion, 500) }, (_, k) => graphVersion - k);
  const hidden = Math.max(0, history.entries.length - SHOWN);
  return (
    <div class="panel history-panel">
      <label class="time-travel">
        Graph at version{' '}
        <select name="version" value={String(shownVersion ?? graphVersion)} onChange={(e) => onVersion(Number(e.currentTarget.value))}>
          {versions.map((v) => (
            <option key={v} value={String(v)}>
              v{v}
              {v === graphVersion ? ' (now)' : ''}
            </option>
          ))}
        </select>
      </label>
      {hidden > 0 && <p class="note">{hidden} earlier entries not shown.</p>}
      <ol class="timeline">
        {history.entries.slice(hidden).map((entry) => (
          <li key={entry.seq} data-type={entry.type} data-seq={entry.seq} class={`entry-${entry.type.replace('.', '-')}`}>
            <span class="seq">#{entry.seq}</span>
            <span class="at">{time(entry.at)}</span>
            <button type="button" class="version" title="show the graph at this version" onClick={() => onVersion(entry.graphVersion)}>
              v{entry.graphVersion}
            </button>
            <b class="type">{entry.type}</b>
            {entry.node !== undefined && (
              <code class="node">
                {entry.node}
                {entry.attempt !== undefined ? ` #${entry.attempt}` : ''}
                {entry.activation !== undefined ? ` act ${entry.activation}` : ''}
              </code>
            )}
            {entry.actor !== undefined && <span class="actor">by {entry.actor}</span>}
            <span class="detail">{summary(entry)}</span>
          </li>
        ))}
      </ol>
      {history.loading && <p>Loading history…</p>}
      {history.next !== undefined && !history.loading && (
        <button type="button" onClick={onMore}>
          Load more
        </button>
      )}
    </div>
  );
}
