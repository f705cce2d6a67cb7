/**
 * The runs list: filters (flow, status, time range, id prefix, text in
 * errors), counts by status, server-side paging with the cursor, and live
 * updates (the history stream of every run: a status change fetches the page again).
 *
 * @packageDocumentation
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { type ApiError, followHistory, get, query } from '../api.js';
import type { RunStatus, RunsPage } from '../api-types.js';
import { time } from '../format.js';
import { throttle } from '../throttle.js';
import { ErrorBox } from './error-box.js';
import { TableHead } from './table-head.js';

/** Every run status, in the order of a run's life. */
const STATUSES: RunStatus[] = ['scheduled', 'running', 'stalled', 'failed', 'listening', 'stopping', 'rolling_back', 'rolled_back', 'rollback_failed', 'succeeded', 'cancelled'];

interface Filters {
  flow: string;
  status: RunStatus[];
  idPrefix: string;
  q: string;
  from: string;
  to: string;
}

const EMPTY: Filters = { flow: '', status: [], idPrefix: '', q: '', from: '', to: '' };
const epoch = (local: string): number | undefined => (local === '' ? undefined : new Date(local).getTime());

/** The runs list view. */
export function RunsList() {
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  const [page, setPage] = useState<RunsPage | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [reloads, setReloads] = useState(0);
  const cursor = cursors[cursors.length - 1];
  const path = `/api/runs${query({ status: filters.status.join(','), flow: filters.flow, idPrefix: filters.idPrefix, q: filters.q, from: epoch(filters.from), to: epoch(filters.to), limit: 50, cursor })}`;

  useEffect(() => {
    let current = true;
    get<RunsPage>(path).then(
      (answer) => {
        if (!current) return;
        setPage(answer);
        setError(undefined);
      },
      (failure: ApiError) => current && setError(failure),
    );
    return () => {
      current = false;
    };
  }, [path, reloads]);

  const reload = useMemo(() => throttle(() => setReloads((n) => n + 1), 1_000), []);
  useEffect(() => {
    const stop = new AbortController();
    followHistory('*', stop.signal, (entry) => {
      if (entry.type === 'run.status' || entry.type === 'run.started' || entry.type === 'change') reload();
    });
    return () => {
      stop.abort();
      reload.cancel();
    };
  }, [reload]);

  const apply = (next: Filters): void => {
    setFilters(next);
    setCursors([undefined]);
  };
  const toggle = (status: RunStatus): void => {
    const chosen = filters.status.includes(status) ? filters.status.filter((s) => s !== status) : [...filters.status, status];
    setDraft({ ...draft, status: chosen });
    apply({ ...filters, status: chosen });
  };
  const field = (name: 'flow' | 'idPrefix' | 'q' | 'from' | 'to', label: string, type: 'text' | 'datetime-local' = 'text') => (
    <label>
      {label}
      {type === 'text' ? (
        <input name={name} type="text" value={draft[name]} onInput={(e) => setDraft({ ...draft, [name]: e.currentTarget.value })} />
      ) : (
        <input name={name} type="datetime-local" value={draft[name]} onInput={(e) => setDraft({ ...draft, [name]: e.currentTarget.value })} />
      )}
    </label>
  );

  return (
    <section class="runs">
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          apply(draft);
        }}
      >
        {field('flow', 'Flow')}
        {field('idPrefix', 'Id prefix')}
        {field('q', 'Error text')}
        {field('from', 'From', 'datetime-local')}
        {field('to', 'To', 'datetime-local')}
        <button type="submit">Search</button>
        <button
          type="button"
          onClick={() => {
            setDraft(EMPTY);
            apply(EMPTY);
          }}
        >
          Clear
        </button>
      </form>
      <div class="counts">
        {STATUSES.filter((s) => (page?.counts[s] ?? 0) > 0 || filters.status.includes(s)).map((s) => (
          <button key={s} type="button" class={`chip status-${s} ${filters.status.includes(s) ? 'on' : ''}`} data-status={s} onClick={() => toggle(s)}>
            {s} <b>{page?.counts[s] ?? 0}</b>
          </button>
        ))}
      </div>
      <ErrorBox error={error} />
      <table class="table runs-table">
        <TableHead columns={['Run', 'Flow', 'Status', 'Graph', 'Created', 'Updated', 'Error']} />
        <tbody>
          {page?.runs.map((run) => (
            <tr key={run.id} data-run-id={run.id} data-status={run.status}>
              <td>
                <a href={`#/runs/${encodeURIComponent(run.id)}`}>
                  <code>{run.id}</code>
                </a>
              </td>
              <td>{run.flow}</td>
              <td>
                <span class={`badge status-${run.status}`}>{run.status}</span>
              </td>
              <td>v{run.graphVersion}</td>
              <td>{time(run.createdAt)}</td>
              <td>{time(run.updatedAt)}</td>
              <td class="error-text">{run.error ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {page !== undefined && page.runs.length === 0 && <p class="empty">No runs match.</p>}
      <div class="pager">
        <button type="button" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          ← Newer
        </button>
        <span>page {cursors.length}</span>
        <button type="button" disabled={page?.next === undefined} onClick={() => setCursors([...cursors, page?.next])}>
          Older →
        </button>
      </div>
    </section>
  );
}
